import { FLAG, RCODE } from './constants';
import {
  type ClientEdns,
  type Ede,
  RESPONSE_PADDING_BLOCK,
  encodePadded,
  responseOpt,
} from './edns';
import { type Answer, type Packet, encodeMessage, patchId } from './message';

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
