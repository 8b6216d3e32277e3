import { FLAG, RCODE } from '../dns/constants';
import { readU16, scanMessage, skipName } from '../dns/scan';

/**
 * Classic-DNS wire helpers for the self-hosted server: FORMERR for datagrams that are not a
 * query dns-packet can decode, UDP truncation (RFC 1035 §4.2.1, RFC 6891 §7), and the 2-byte
 * length framing of DNS over TCP and TLS (RFC 1035 §4.2.2, RFC 7766 §8, RFC 7858).
 */

const OPT_TYPE = 41;
const PADDING_OPTION = 12;

/** The header and first question of a message, when they can be read; null otherwise. */
function readHeaderAndQuestion(bytes: Uint8Array): { flags: number; questionEnd: number } | null {
  if (bytes.length < 12) return null;
  if (readU16(bytes, 4) < 1) return null;
  // The question's name; a compression pointer cannot point anywhere useful this early.
  let at = 12;
  let nameLength = 1;
  for (;;) {
    if (at >= bytes.length) return null;
    const len = bytes[at]!;
    if (len === 0) break;
    if (len > 63) return null;
    nameLength += len + 1;
    if (nameLength > 255) return null;
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > bytes.length) return null;
  return { flags: readU16(bytes, 2), questionEnd: at + 4 };
}

/**
 * FORMERR for a query that could not be decoded: its ID, opcode, RD and first question, no
 * records. null (drop it) when not even a header and a question can be read, or when the
 * message is itself a response (answering those invites loops).
 */
export function formErr(bytes: Uint8Array): Uint8Array | null {
  const hq = readHeaderAndQuestion(bytes);
  if (!hq || (hq.flags & FLAG.QR) !== 0) return null;
  const question = bytes.subarray(12, hq.questionEnd);
  const out = new Uint8Array(12 + question.length);
  out[0] = bytes[0]!;
  out[1] = bytes[1]!;
  const flags = FLAG.QR | (hq.flags & 0x7800) | (hq.flags & FLAG.RD) | FLAG.RA | RCODE.FORMERR;
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  out[5] = 1; // QDCOUNT 1, the other counts 0
  out.set(question, 12);
  return out;
}

/**
 * A UDP response that fits `limit` octets: unchanged when it does, otherwise its header with
 * TC=1, its question, and its OPT record (without padding) when it had one, so the client
 * retries over TCP. A response that cannot be laid out is cut to header and question.
 */
export function truncateForUdp(response: Uint8Array, limit: number): Uint8Array {
  if (response.length <= limit) return response;
  const layout = scanMessage(response);
  const questionEnd = layout?.questionEnd ?? readHeaderAndQuestion(response)?.questionEnd ?? 12;
  const qdcount = layout ? layout.qdcount : questionEnd > 12 ? 1 : 0;
  const optRecord = layout?.records.find((r) => r.type === OPT_TYPE && r.section === 2);
  let opt = optRecord ? optWithoutPadding(response, optRecord) : null;
  // A long EDE text (every upstream's failure) must not push the truncated answer past the
  // limit: then the OPT goes without options, and the full text comes over TCP.
  if (opt && opt.length > 11 && questionEnd + opt.length > limit) opt = bareOpt(opt);
  const out = new Uint8Array(questionEnd + (opt?.length ?? 0));
  out.set(response.subarray(0, 4), 0);
  out[2] = out[2]! | (FLAG.TC >> 8);
  out[4] = qdcount >> 8;
  out[5] = qdcount & 0xff;
  out[11] = opt ? 1 : 0;
  out.set(response.subarray(12, questionEnd), 12);
  if (opt) out.set(opt, questionEnd);
  return out;
}

/** The OPT record's bytes with any Padding option (RFC 7830) left out. */
/** An OPT record (root owner, no compression) without its options. */
function bareOpt(opt: Uint8Array): Uint8Array {
  const out = opt.slice(0, 11);
  out[9] = 0;
  out[10] = 0;
  return out;
}

function optWithoutPadding(
  msg: Uint8Array,
  rec: { ttlOffset: number; rdataOffset: number; rdlength: number },
): Uint8Array {
  const start = rec.ttlOffset - 4;
  // OPT's owner is the root; find where its name starts (one zero octet, or a pointer).
  const nameStart = msg[start - 1] === 0 ? start - 1 : start - 2;
  if (skipName(msg, nameStart) !== start) return new Uint8Array(0);
  const kept: Uint8Array[] = [];
  let at = rec.rdataOffset;
  const end = rec.rdataOffset + rec.rdlength;
  while (at + 4 <= end) {
    const code = readU16(msg, at);
    const len = readU16(msg, at + 2);
    if (at + 4 + len > end) break;
    if (code !== PADDING_OPTION) kept.push(msg.subarray(at, at + 4 + len));
    at += 4 + len;
  }
  const rdlength = kept.reduce((n, o) => n + o.length, 0);
  const out = new Uint8Array(1 + 8 + 2 + rdlength);
  // root name, then TYPE, CLASS (UDP size), TTL (extended RCODE, version, flags)
  out.set(msg.subarray(start, start + 8), 1);
  out[9] = rdlength >> 8;
  out[10] = rdlength & 0xff;
  let w = 11;
  for (const o of kept) {
    out.set(o, w);
    w += o.length;
  }
  return out;
}

/** One DNS message with its 2-byte length prefix, for TCP and TLS. */
export function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** Splits a TCP byte stream into DNS messages (queries may be pipelined, RFC 7766 §6.2.1.1). */
export class FrameReader {
  private buffer: Uint8Array = new Uint8Array(0);

  /** Adds bytes; returns every message now complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.buffer.length === 0) {
      this.buffer = chunk;
    } else {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer, 0);
      joined.set(chunk, this.buffer.length);
      this.buffer = joined;
    }
    const out: Uint8Array[] = [];
    let at = 0;
    while (this.buffer.length - at >= 2) {
      const len = readU16(this.buffer, at);
      if (this.buffer.length - at - 2 < len) break;
      out.push(this.buffer.slice(at + 2, at + 2 + len));
      at += 2 + len;
    }
    this.buffer = at === 0 ? this.buffer : this.buffer.slice(at);
    return out;
  }

  /** Bytes of an incomplete message waiting for the rest. */
  get pending(): number {
    return this.buffer.length;
  }
}
