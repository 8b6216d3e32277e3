import { EDNS_OPTION, EDNS_UDP_SIZE, MAX_MESSAGE_SIZE, QTYPE } from './constants';
import { Section, readU16, scanMessage } from './scan';
import type { WireWriter } from './write';

/** What the client's OPT record asked for (RFC 6891). */
export interface ClientEdns {
  readonly present: boolean;
  readonly version: number;
  /** DNSSEC OK (RFC 3225). */
  readonly dnssecOk: boolean;
  /** The query carried an EDNS(0) Padding option (RFC 7830), so the response is padded too. */
  readonly padding: boolean;
  /** The query carried an NSID option (RFC 5001 §2.3): the server's identifier is wanted. */
  readonly nsid: boolean;
  readonly udpSize: number;
}

export const NO_EDNS: ClientEdns = {
  present: false,
  version: 0,
  dnssecOk: false,
  padding: false,
  nsid: false,
  udpSize: 512,
};

/** An Extended DNS Error (RFC 8914 §2): info code and optional UTF-8 text. */
export interface Ede {
  readonly code: number;
  readonly text?: string;
}

export interface EdnsOption {
  readonly code: number;
  readonly data: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Text = new TextDecoder();

export function edeOption(ede: Ede): EdnsOption {
  const text = utf8.encode(ede.text ?? '');
  const data = new Uint8Array(2 + text.length);
  data[0] = ede.code >> 8;
  data[1] = ede.code & 0xff;
  data.set(text, 2);
  return { code: EDNS_OPTION.EXTENDED_ERROR, data };
}

/** The EDNS options of a message's OPT record, in order (none without one). */
function optionsOf(msg: Uint8Array): EdnsOption[] {
  const layout = scanMessage(msg);
  const opt = layout?.records.find((r) => r.type === QTYPE.OPT && r.section === Section.Additional);
  if (!opt) return [];
  const out: EdnsOption[] = [];
  const end = opt.rdataOffset + opt.rdlength;
  for (let at = opt.rdataOffset; at + 4 <= end;) {
    const len = readU16(msg, at + 2);
    if (at + 4 + len > end) break;
    out.push({ code: readU16(msg, at), data: msg.subarray(at + 4, at + 4 + len) });
    at += 4 + len;
  }
  return out;
}

/** The Extended DNS Errors of a message (to pass an upstream's on, for the JSON API, tests). */
export function edeOf(msg: Uint8Array): Ede[] {
  const out: Ede[] = [];
  for (const o of optionsOf(msg)) {
    if (o.code !== EDNS_OPTION.EXTENDED_ERROR || o.data.length < 2) continue;
    const code = readU16(o.data, 0);
    const text = utf8Text.decode(o.data.subarray(2));
    out.push(text ? { code, text } : { code });
  }
  return out;
}

/**
 * Writes our OPT record (RFC 6891 §6.1.2: the root, our payload size, EDNS version 0, DO as
 * given) as the last record of the message written so far in `w`. `extendedRcode` holds the
 * upper 8 bits of a 12-bit RCODE (§6.1.3). With `padBlock`, a Padding option (RFC 7830) after
 * `options` brings the whole message to a multiple of that many octets (RFC 8467 §4.1).
 */
export function writeOpt(
  w: WireWriter,
  dnssecOk: boolean,
  options: readonly EdnsOption[] = [],
  padBlock = 0,
  extendedRcode = 0,
): void {
  w.u8(0); // the root
  w.u16(QTYPE.OPT);
  w.u16(EDNS_UDP_SIZE);
  w.u8(extendedRcode);
  w.u8(0); // version
  w.u16(dnssecOk ? 0x8000 : 0);
  const rdlengthAt = w.length;
  w.u16(0);
  for (const o of options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
  if (padBlock > 0) {
    const n = paddingLength(w.length, padBlock);
    w.u16(EDNS_OPTION.PADDING);
    w.u16(n);
    w.zeros(n);
  }
  w.setU16(rdlengthAt, w.length - rdlengthAt - 2);
}

/** RFC 8467 §4.1: responses are padded to a multiple of 468 octets. */
export const RESPONSE_PADDING_BLOCK = 468;

/** Bytes of padding data that bring a message of `length` (without the option) to the block. */
export function paddingLength(length: number, block = RESPONSE_PADDING_BLOCK): number {
  const withHeader = length + 4; // option code + option length
  return (block - (withHeader % block)) % block;
}

/**
 * `msg` with one more option in its OPT record, after the others (a Padding option is taken out
 * and the message padded again to the same block, RFC 8467 §4.1). A message without an OPT
 * record gets one (a relayed upstream answer without EDNS, to a client that sent EDNS). Used
 * for NSID (RFC 5001 §2.3), which differs per instance and so is added after the cache.
 */
export function withOption(msg: Uint8Array, option: EdnsOption): Uint8Array {
  // Room for it (and a new OPT, and more padding) within the largest message, or left out.
  if (msg.length + 11 + 4 + option.data.length + RESPONSE_PADDING_BLOCK > MAX_MESSAGE_SIZE) {
    return msg;
  }
  const layout = scanMessage(msg);
  if (!layout) return msg;
  const opt = layout.records.find((r) => r.type === QTYPE.OPT && r.section === Section.Additional);
  const added = 4 + option.data.length;
  if (!opt) {
    const out = new Uint8Array(msg.length + 11 + added);
    out.set(msg, 0);
    const arcount = readU16(msg, 10) + 1;
    out[10] = arcount >> 8;
    out[11] = arcount & 0xff;
    let at = msg.length;
    out.set([0, 0, QTYPE.OPT, EDNS_UDP_SIZE >> 8, EDNS_UDP_SIZE & 0xff, 0, 0, 0, 0], at);
    at += 9;
    out.set([added >> 8, added & 0xff, option.code >> 8, option.code & 0xff], at);
    out.set([option.data.length >> 8, option.data.length & 0xff], at + 4);
    out.set(option.data, at + 6);
    return out;
  }
  const start = opt.rdataOffset;
  const end = start + opt.rdlength;
  const kept: Uint8Array[] = [];
  let padded = false;
  for (let at = start; at + 4 <= end;) {
    const len = readU16(msg, at + 2);
    if (at + 4 + len > end) break;
    if (readU16(msg, at) === EDNS_OPTION.PADDING) padded = true;
    else kept.push(msg.subarray(at, at + 4 + len));
    at += 4 + len;
  }
  const optionBytes = new Uint8Array(added);
  optionBytes.set([option.code >> 8, option.code & 0xff, option.data.length >> 8], 0);
  optionBytes[3] = option.data.length & 0xff;
  optionBytes.set(option.data, 4);
  kept.push(optionBytes);
  const rest = msg.subarray(end);
  let body = kept.reduce((n, o) => n + o.length, 0);
  const before = start + body + rest.length;
  const pad = padded ? paddingLength(before) : -1;
  if (pad >= 0) body += 4 + pad;
  const out = new Uint8Array(start + body + rest.length);
  out.set(msg.subarray(0, start), 0);
  out[start - 2] = body >> 8;
  out[start - 1] = body & 0xff;
  let at = start;
  for (const o of kept) {
    out.set(o, at);
    at += o.length;
  }
  if (pad >= 0) {
    out[at + 1] = EDNS_OPTION.PADDING;
    out[at + 2] = pad >> 8;
    out[at + 3] = pad & 0xff;
    at += 4 + pad;
  }
  out.set(rest, at);
  return out;
}
