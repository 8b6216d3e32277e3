import { FLAG, OPCODE_QUERY, QCLASS_IN, QTYPE } from './constants';
import type { ClientEdns } from './edns';
import { typeName } from './message';
import { readU16 } from './scan';

/**
 * What the answer cache needs to know of a query, read straight off the wire without decoding
 * it (the cache-hit path). Only plain queries are read — one question of class IN, EDNS version
 * 0 at most, nothing else — and null means "decode it properly": never a different answer.
 */
export interface QueryShape {
  readonly id: number;
  readonly flags: number;
  /** The question name as sent (letter case kept), without the trailing dot. */
  readonly qname: string;
  /** dns-packet's type name, e.g. 'AAAA'. */
  readonly qtype: string;
  readonly edns: ClientEdns;
  /** The question's wire bytes (name, type, class). */
  readonly question: Uint8Array;
}

export function peekQuery(raw: Uint8Array): QueryShape | null {
  if (raw.length < 17) return null;
  const flags = readU16(raw, 2);
  if ((flags & FLAG.QR) !== 0 || ((flags >> 11) & 0xf) !== OPCODE_QUERY) return null;
  if (readU16(raw, 4) !== 1 || readU16(raw, 6) !== 0 || readU16(raw, 8) !== 0) return null;
  const arcount = readU16(raw, 10);
  if (arcount > 1) return null;
  // The name: plain labels of letters, digits, '-' and '_', no compression.
  let at = 12;
  let qname = '';
  for (;;) {
    const len = raw[at];
    if (len === undefined || len > 63) return null;
    at++;
    if (len === 0) break;
    if (at + len > raw.length || qname.length + len + 1 > 254) return null;
    for (let i = at; i < at + len; i++) {
      const c = raw[i]!;
      const ok =
        (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x30 && c <= 0x39) ||
        c === 0x2d ||
        c === 0x5f;
      if (!ok) return null;
    }
    qname += (qname ? '.' : '') + String.fromCharCode(...raw.subarray(at, at + len));
    at += len;
  }
  if (at + 4 > raw.length || qname === '') return null;
  const type = readU16(raw, at);
  if (readU16(raw, at + 2) !== QCLASS_IN || type === 0) return null;
  const questionEnd = at + 4;
  let edns: ClientEdns = {
    present: false,
    version: 0,
    dnssecOk: false,
    padding: false,
    udpSize: 512,
  };
  if (arcount === 1) {
    // The OPT record: root name, type 41, payload size, ext-RCODE, version, flags, options.
    at = questionEnd;
    if (raw[at] !== 0 || at + 11 > raw.length || readU16(raw, at + 1) !== QTYPE.OPT) return null;
    const version = raw[at + 6]!;
    if (version !== 0) return null;
    const rdlength = readU16(raw, at + 9);
    if (at + 11 + rdlength !== raw.length) return null;
    let padding = false;
    for (let o = at + 11; o < raw.length;) {
      if (o + 4 > raw.length) return null;
      const code = readU16(raw, o);
      const len = readU16(raw, o + 2);
      if (o + 4 + len > raw.length) return null;
      if (code === 12) padding = true;
      o += 4 + len;
    }
    edns = {
      present: true,
      version,
      dnssecOk: (readU16(raw, at + 7) & 0x8000) !== 0,
      padding,
      udpSize: Math.max(512, readU16(raw, at + 3)),
    };
  } else if (questionEnd !== raw.length) {
    return null;
  }
  return {
    id: readU16(raw, 0),
    flags,
    qname,
    qtype: typeName(type),
    edns,
    question: raw.subarray(12, questionEnd),
  };
}
