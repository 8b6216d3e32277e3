import { FLAG, RCODE } from './constants';
import { type ClientEdns, type Ede, RESPONSE_PADDING_BLOCK, edeOption, writeOpt } from './edns';
import type { Query } from './query';
import { type Rr, distinctRrs, writeRr } from './records';
import { WireWriter } from './write';

/** The records of a response we write, its RCODE, and its AA and AD bits. */
export interface ResponseParts {
  /** The full RCODE (RFC 6891 §6.1.3: above 15, its upper 8 bits go in the OPT record). */
  readonly rcode: number;
  /** AA and AD as the answer has them; other bits are ignored. */
  readonly flags?: number;
  readonly answers?: readonly Rr[];
  readonly authorities?: readonly Rr[];
  /** Records other than OPT (the response gets its own). */
  readonly additionals?: readonly Rr[];
}

/**
 * Writes the response the client gets: its ID and question (as it sent them), RD and CD from
 * the query (RFC 1035 §4.1.1, RFC 4035 §3.2.2), RA set (a recursive service), RCODE, AA and AD
 * from `parts`; each section without duplicate RRs (RFC 2181 §5) and with name compression
 * (RFC 1035 §4.1.4); our OPT record only when the query had one (RFC 6891 §7), with any Extended
 * DNS Errors (RFC 8914) and RFC 8467 padding when the client padded.
 */
export function writeResponse(
  query: Query,
  parts: ResponseParts,
  edns: ClientEdns,
  ede: readonly Ede[] = [],
): Uint8Array {
  const answers = distinctRrs(parts.answers ?? []);
  const authorities = distinctRrs(parts.authorities ?? []);
  const additionals = distinctRrs(parts.additionals ?? []);
  const rcode = parts.rcode;
  const w = new WireWriter(edns.padding ? RESPONSE_PADDING_BLOCK : 512);
  w.u16(query.id);
  w.u16(
    FLAG.QR |
      FLAG.RA |
      (query.flags & (FLAG.RD | FLAG.CD | 0x7800)) |
      ((parts.flags ?? 0) & (FLAG.AA | FLAG.AD)) |
      (rcode & 0xf),
  );
  w.u16(1);
  w.u16(answers.length);
  w.u16(authorities.length);
  w.u16(additionals.length + (edns.present ? 1 : 0));
  w.question(query.qname, query.qtype);
  w.setU16(w.length - 2, query.qclass);
  for (const list of [answers, authorities, additionals]) for (const rr of list) writeRr(w, rr);
  if (edns.present) {
    const padBlock = edns.padding ? RESPONSE_PADDING_BLOCK : 0;
    writeOpt(w, edns.dnssecOk, ede.map(edeOption), padBlock, rcode >> 4);
  }
  return w.finish();
}

/**
 * A response with no records: SERVFAIL, REFUSED, FORMERR, NOTIMP, or BADVERS (RFC 6891 §6.1.3:
 * extended RCODE 16, which only an OPT record can carry).
 */
export function errorResponse(
  query: Query,
  rcode: number,
  edns: ClientEdns,
  ede: readonly Ede[] = [],
): Uint8Array {
  const withOpt = rcode === RCODE.BADVERS ? { ...edns, present: true } : edns;
  return writeResponse(query, { rcode }, withOpt, ede);
}

/**
 * An upstream response handed back as it came but for the client's message ID, RA=1 and AA=0:
 * the client is answered by a recursive service, never by the authority itself.
 */
export function relayResponse(query: Query, upstreamBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(upstreamBytes);
  out[0] = query.id >> 8;
  out[1] = query.id & 0xff;
  out[2] = out[2]! & ~(FLAG.AA >> 8);
  out[3] = out[3]! | FLAG.RA;
  return out;
}
