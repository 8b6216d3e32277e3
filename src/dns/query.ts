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
  return { ok: true, query: decoded.packet };
}
