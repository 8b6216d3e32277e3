import { FLAG, QCLASS_IN, QTYPE, RCODE } from './constants';
import {
  type ClientEdns,
  type Ede,
  RESPONSE_PADDING_BLOCK,
  edeOption,
  encodePadded,
  responseOpt,
  writeOpt,
} from './edns';
import { type Answer, type Packet, encodeMessage, patchId } from './message';
import { type RecordPosition, readU32, skipName } from './scan';
import { WireWriter } from './write';

/**
 * Assembles the response the client gets: its ID and question, our OPT record (only when the
 * query had one, RFC 6891 §7) with any Extended DNS Errors, and RFC 8467 padding when asked.
 */
export function buildResponse(
  query: Packet,
  res: Packet,
  edns: ClientEdns,
  ede: readonly Ede[] = [],
): Uint8Array {
  // RD and CD come from the query (RFC 1035 §4.1.1, RFC 4035 §3.2.2); AA/AD from the answer.
  const flags =
    FLAG.QR |
    FLAG.RA |
    ((query.flags ?? 0) & (FLAG.RD | FLAG.CD)) |
    ((res.flags ?? 0) & (FLAG.AA | FLAG.AD | 0xf));
  const packet: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: res.answers ?? [],
    authorities: res.authorities ?? [],
    additionals: (res.additionals ?? []).filter((r) => r.type !== 'OPT'),
  };
  if (!edns.present) return encodeMessage(packet);
  const opt = responseOpt(edns, ede);
  packet.additionals = [...(packet.additionals ?? []), opt];
  if (!edns.padding) return encodeMessage(packet);
  return encodePadded(packet, opt, RESPONSE_PADDING_BLOCK);
}

/** A record of a plain upstream message (src/dns/plain.ts) to copy into a response. */
export interface CopiedRecord {
  readonly from: RecordPosition;
  /** A new record at the same owner name (a synthesized AAAA) in place of the upstream one. */
  readonly replace?: { readonly type: number; readonly ttl: number; readonly rdata: Uint8Array };
}

/** An answer made of records of one plain upstream message, for writeResponse(). */
export interface WireAnswer {
  /** RCODE, AA and AD of the answer; the other header bits come from the query. */
  readonly flags: number;
  /** The plain upstream message the records are copied from. */
  readonly source: Uint8Array;
  readonly answers: readonly CopiedRecord[];
  readonly authorities: readonly CopiedRecord[];
  /** Records other than OPT (the response gets its own). */
  readonly additionals: readonly CopiedRecord[];
}

/**
 * buildResponse() for an answer taken from the wire, written without dns-packet: the same header,
 * the client's question (one, of class IN), the records with their names expanded, our OPT
 * record with EDEs and padding. Byte for byte what buildResponse gives for the decoded answer.
 */
export function writeResponse(
  query: Packet,
  res: WireAnswer,
  edns: ClientEdns,
  ede: readonly Ede[] = [],
): Uint8Array {
  const w = new WireWriter(edns.padding ? RESPONSE_PADDING_BLOCK : 512);
  const questions = query.questions ?? [];
  w.u16(query.id ?? 0);
  w.u16(
    FLAG.QR |
      FLAG.RA |
      ((query.flags ?? 0) & (FLAG.RD | FLAG.CD)) |
      (res.flags & (FLAG.AA | FLAG.AD | 0xf)),
  );
  w.u16(questions.length);
  w.u16(res.answers.length);
  w.u16(res.authorities.length);
  w.u16(res.additionals.length + (edns.present ? 1 : 0));
  for (const q of questions) w.question(q.name, q.type);
  for (const list of [res.answers, res.authorities, res.additionals]) {
    for (const rec of list) writeRecord(w, res.source, rec);
  }
  if (edns.present) {
    writeOpt(w, edns.dnssecOk, ede.map(edeOption), edns.padding ? RESPONSE_PADDING_BLOCK : 0);
  }
  return w.finish();
}

function writeRecord(w: WireWriter, src: Uint8Array, { from, replace }: CopiedRecord): void {
  w.copyName(src, from.nameOffset);
  if (replace) {
    w.u16(replace.type);
    w.u16(QCLASS_IN);
    w.u32(replace.ttl);
    w.u16(replace.rdata.length);
    w.bytes(replace.rdata);
    return;
  }
  w.u16(from.type);
  w.u16(from.klass);
  w.u32(readU32(src, from.ttlOffset));
  const rdlengthAt = w.length;
  w.u16(0);
  const rdata = from.rdataOffset;
  switch (from.type) {
    case QTYPE.CNAME:
    case QTYPE.DNAME:
      w.copyName(src, rdata);
      break;
    case QTYPE.SOA: {
      const rname = skipName(src, rdata);
      const fields = skipName(src, rname);
      w.copyName(src, rdata);
      w.copyName(src, rname);
      w.bytes(src.subarray(fields, fields + 20)); // SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM
      break;
    }
    default: // A, AAAA: no names inside
      w.bytes(src.subarray(rdata, rdata + from.rdlength));
  }
  w.setU16(rdlengthAt, w.length - rdlengthAt - 2);
}

/** A response with no records: SERVFAIL, REFUSED, FORMERR, NOTIMP, or BADVERS (RFC 6891). */
export function errorResponse(
  query: Packet,
  rcode: number,
  edns: ClientEdns,
  ede: readonly Ede[] = [],
): Uint8Array {
  if (rcode === RCODE.BADVERS) {
    // RFC 6891 §6.1.3: BADVERS is 16 = OPT extended RCODE 1, header RCODE 0.
    const packet: Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags: FLAG.QR | FLAG.RA | ((query.flags ?? 0) & (FLAG.RD | FLAG.CD)),
      questions: query.questions ?? [],
      additionals: [responseOpt(edns, ede, 1)],
    };
    return encodeMessage(packet);
  }
  return buildResponse(query, { flags: rcode }, edns, ede);
}

/** An upstream response handed back unchanged but for the client's message ID. */
export function passthroughResponse(query: Packet, upstreamBytes: Uint8Array): Uint8Array {
  return patchId(Uint8Array.from(upstreamBytes), query.id ?? 0);
}

export type { Answer };
