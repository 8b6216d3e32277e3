import { Buffer } from 'node:buffer';
import { EDNS_OPTION, EDNS_UDP_SIZE, FLAG } from '../dns/constants';
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
  packet.additionals = [
    {
      type: 'OPT',
      name: '.',
      udpPayloadSize: EDNS_UDP_SIZE,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: q.dnssecOk ? 0x8000 : 0,
      flag_do: q.dnssecOk,
      options: [],
    },
  ];
  if (!q.padding) return encodeMessage(packet);
  const unpadded = encodeMessage(packet).length + 4;
  const length = (QUERY_PADDING_BLOCK - (unpadded % QUERY_PADDING_BLOCK)) % QUERY_PADDING_BLOCK;
  const opt = packet.additionals[0] as { options: unknown[] };
  opt.options = [{ code: EDNS_OPTION.PADDING, data: Buffer.alloc(length) }];
  return encodeMessage(packet);
}
