import { QTYPE, RCODE } from './constants';
import { type MessageLayout, Section, readU32, scanMessage, skipName } from './scan';

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
  const layout = scanMessage(buf);
  if (!layout) return 0;
  const rcode = layout.flags & 0xf;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return 0;
  let min = Infinity;
  for (const rec of layout.records) {
    if (rec.section === Section.Answer) min = Math.min(min, readU32(buf, rec.ttlOffset));
  }
  if (min !== Infinity) return min;
  return negativeTtl(buf, layout) ?? 0;
}
