import { FLAG } from '../dns/constants';
import { encodePadded, optRecord } from '../dns/edns';
import { type Packet, encodeMessage } from '../dns/message';

/** What the resolver asks an upstream: one question, with the client's DNSSEC wishes. */
export interface UpstreamQuestion {
  readonly name: string;
  /** dns-packet type name, e.g. 'AAAA', 'A', 'UNKNOWN_65'. */
  readonly type: string;
  /** Send an OPT record (the client sent one; RFC 6891 §7 forbids adding OPT to its response). */
  readonly edns: boolean;
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
  /** Pad the query (RFC 8467 §4.1: queries to a multiple of 128 octets). */
  readonly padding: boolean;
}

export const QUERY_PADDING_BLOCK = 128;

/** The wire query for an upstream: ID 0 as RFC 8484 §4.1 asks, RD set. */
export function encodeUpstreamQuestion(q: UpstreamQuestion): Uint8Array {
  const packet: Packet = {
    type: 'query',
    id: 0,
    flags: FLAG.RD | (q.checkingDisabled ? FLAG.CD : 0),
    questions: [{ name: q.name, type: q.type as 'A', class: 'IN' }],
  };
  if (!q.edns) return encodeMessage(packet);
  const opt = optRecord(q.dnssecOk);
  packet.additionals = [opt];
  return q.padding ? encodePadded(packet, opt, QUERY_PADDING_BLOCK) : encodeMessage(packet);
}
