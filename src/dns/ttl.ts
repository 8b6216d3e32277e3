import { QTYPE, RCODE } from './constants';
import { type MessageLayout, Section, readU16, readU32, scanMessage, skipName } from './scan';

/**
 * Negative-caching TTL of a response (RFC 2308 §5): min(SOA TTL, SOA MINIMUM) of the SOA in the
 * authority section, or null when there is none.
 */
export function negativeTtl(buf: Uint8Array, layout: MessageLayout): number | null {
  for (const rec of layout.records) {
    if (rec.section !== Section.Authority || rec.type !== QTYPE.SOA) continue;
    let at = skipName(buf, rec.rdataOffset); // MNAME
    if (at < 0) return null;
    at = skipName(buf, at); // RNAME
    if (at < 0 || at + 20 > rec.rdataOffset + rec.rdlength) return null;
    const minimum = readU32(buf, at + 16);
    return Math.min(readU32(buf, rec.ttlOffset), minimum);
  }
  return null;
}

/**
 * How long an HTTP cache may keep this DNS response (RFC 8484 §5.1): the smallest TTL in the
 * answer section, or the negative TTL for NODATA/NXDOMAIN; 0 for errors and anything unparsable.
 */
export function freshnessLifetime(buf: Uint8Array): number {
  if (buf.length < 12) return 0;
  const rcode = buf[3]! & 0xf;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return 0;
  // The answer section's smallest TTL, walked without laying the message out (every answer
  // costs a call on the hot path, a cache hit included).
  let at = 12;
  for (let i = readU16(buf, 4); i > 0; i--) {
    at = skipName(buf, at);
    if (at < 0 || at + 4 > buf.length) return 0;
    at += 4;
  }
  let min = Infinity;
  for (let i = readU16(buf, 6); i > 0; i--) {
    at = skipName(buf, at);
    if (at < 0 || at + 10 > buf.length) return 0;
    min = Math.min(min, readU32(buf, at + 4));
    at += 10 + readU16(buf, at + 8);
  }
  if (at > buf.length) return 0;
  if (min !== Infinity) return min;
  const layout = scanMessage(buf);
  return layout ? (negativeTtl(buf, layout) ?? 0) : 0;
}
