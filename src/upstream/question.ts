import { FLAG } from '../dns/constants';
import { writeOpt } from '../dns/edns';
import { WireWriter } from '../dns/write';

/** What the resolver asks an upstream: one question, with the client's DNSSEC wishes. */
export interface UpstreamQuestion {
  /** The name, uncompressed (src/dns/name.ts), octet for octet as the client asked it. */
  readonly name: Uint8Array;
  readonly type: number;
  /** Send an OPT record (the client sent one; RFC 6891 §7 forbids adding OPT to its response). */
  readonly edns: boolean;
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
  /** Pad the query (RFC 8467 §4.1: queries to a multiple of 128 octets). */
  readonly padding: boolean;
}

export const QUERY_PADDING_BLOCK = 128;

/**
 * The wire query for an upstream: ID 0 as RFC 8484 §4.1 asks, RD set, CD as the client's, one
 * question, and an OPT record when the client sent one (padded when the client padded).
 */
export function encodeUpstreamQuestion(q: UpstreamQuestion): Uint8Array {
  const w = new WireWriter(q.padding ? QUERY_PADDING_BLOCK : 64);
  w.u16(0); // ID
  w.u16(FLAG.RD | (q.checkingDisabled ? FLAG.CD : 0));
  w.u16(1); // QDCOUNT
  w.u16(0); // ANCOUNT
  w.u16(0); // NSCOUNT
  w.u16(q.edns ? 1 : 0); // ARCOUNT
  w.question(q.name, q.type);
  if (q.edns) writeOpt(w, q.dnssecOk, [], q.padding ? QUERY_PADDING_BLOCK : 0);
  return w.finish();
}
