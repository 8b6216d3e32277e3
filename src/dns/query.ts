import { EDNS_OPTION, FLAG, QTYPE } from './constants';
import { type ClientEdns, NO_EDNS } from './edns';
import { readName } from './name';
import { Section, readU16, scanMessage } from './scan';

/** A client's query as read off the wire, its question name kept octet for octet. */
export interface Query {
  readonly id: number;
  readonly flags: number;
  readonly opcode: number;
  /** QDCOUNT; only 1 is answered (others get FORMERR). */
  readonly qdcount: number;
  /** The first question's name, uncompressed, in the client's letter case. */
  readonly qname: Uint8Array;
  readonly qtype: number;
  readonly qclass: number;
  /** The first question as the response repeats it: the name uncompressed, type, class. */
  readonly question: Uint8Array;
  readonly edns: ClientEdns;
  /** The OPT record breaks RFC 6891 §6.1.1 (more than one, or not owned by the root): FORMERR. */
  readonly badOpt: boolean;
}

export type ParsedQuery = { ok: true; query: Query } | { ok: false; reason: string };

/**
 * Checks that bytes are a DNS query worth answering at all; failures are transport-level errors
 * (HTTP 400 for DoH, FORMERR or a dropped datagram for classic DNS). Opcode, question count,
 * OPT and EDNS version problems are answered in DNS (NOTIMP, FORMERR, BADVERS) instead. Any
 * octet may sit in a label of the question (RFC 2181 §11).
 */
export function parseQuery(raw: Uint8Array): ParsedQuery {
  if (raw.length < 12) return { ok: false, reason: 'not a DNS message: shorter than 12 bytes' };
  const flags = readU16(raw, 2);
  if ((flags & FLAG.QR) !== 0) return { ok: false, reason: 'not a DNS query: QR bit is set' };
  const qdcount = readU16(raw, 4);
  if (qdcount === 0) return { ok: false, reason: 'DNS query has no question' };
  const qname = readName(raw, 12);
  if (!qname) return { ok: false, reason: 'not a DNS message: the question name is malformed' };
  if (qname.end + 4 > raw.length) {
    return { ok: false, reason: 'not a DNS message: the question ends early' };
  }
  const layout = scanMessage(raw);
  if (!layout) return { ok: false, reason: 'not a DNS message: a record runs past the end' };
  const question = new Uint8Array(qname.name.length + 4);
  question.set(qname.name, 0);
  question.set(raw.subarray(qname.end, qname.end + 4), qname.name.length);
  let edns: ClientEdns = NO_EDNS;
  let badOpt = false;
  for (const rec of layout.records) {
    if (rec.type !== QTYPE.OPT) continue;
    if (rec.section !== Section.Additional || edns.present || raw[rec.nameOffset] !== 0) {
      badOpt = true;
      continue;
    }
    // CLASS is the payload size; TTL is extended RCODE, version, DO and the other flags.
    let padding = false;
    let nsid = false;
    const end = rec.rdataOffset + rec.rdlength;
    for (let at = rec.rdataOffset; at + 4 <= end; at += 4 + readU16(raw, at + 2)) {
      const code = readU16(raw, at);
      if (code === EDNS_OPTION.PADDING) padding = true;
      else if (code === EDNS_OPTION.NSID) nsid = true;
    }
    edns = {
      present: true,
      version: raw[rec.ttlOffset + 1]!,
      dnssecOk: (raw[rec.ttlOffset + 2]! & 0x80) !== 0,
      padding,
      nsid,
      udpSize: Math.max(512, rec.klass),
    };
  }
  return {
    ok: true,
    query: {
      id: readU16(raw, 0),
      flags,
      opcode: (flags >> 11) & 0xf,
      qdcount,
      qname: qname.name,
      qtype: readU16(raw, qname.end),
      qclass: readU16(raw, qname.end + 2),
      question,
      edns,
      badOpt,
    },
  };
}
