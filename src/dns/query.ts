import { decodeMessage, isResponse, type Packet } from './message';

export type ParsedQuery = { ok: true; query: Packet } | { ok: false; reason: string };

/**
 * Checks that bytes are a DNS query worth answering at all; failures are transport-level
 * errors (HTTP 400 for DoH, a dropped datagram for UDP). Opcode, question count and EDNS
 * version problems are answered in DNS (FORMERR, NOTIMP, BADVERS) by the resolver instead.
 */
export function parseQuery(bytes: Uint8Array): ParsedQuery {
  if (bytes.length < 12) return { ok: false, reason: 'not a DNS message: shorter than 12 bytes' };
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) return { ok: false, reason: `not a DNS message: ${decoded.reason}` };
  if (isResponse(decoded.packet)) return { ok: false, reason: 'not a DNS query: QR bit is set' };
  if ((decoded.packet.questions ?? []).length === 0) {
    return { ok: false, reason: 'DNS query has no question' };
  }
  if (!representableName(bytes, 12)) {
    return {
      ok: false,
      reason: 'DNS query name has a label that is not UTF-8 text or holds a dot',
    };
  }
  return { ok: true, query: decoded.packet };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Whether the name at `offset` survives decoding and encoding unchanged: plain labels (no
 * compression in a question), each valid UTF-8 without a '.'. Anything else would come back
 * altered in the answer's question section, or not decodable at all.
 */
function representableName(bytes: Uint8Array, offset: number): boolean {
  let at = offset;
  for (;;) {
    const len = bytes[at];
    if (len === undefined || (len & 0xc0) !== 0) return false;
    if (len === 0) return true;
    const label = bytes.subarray(at + 1, at + 1 + len);
    if (label.length !== len || label.includes(0x2e)) return false;
    try {
      utf8.decode(label);
    } catch {
      return false;
    }
    at += 1 + len;
  }
}
