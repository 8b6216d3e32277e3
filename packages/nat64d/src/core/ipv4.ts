/** IPv4 header constants and helpers (RFC 791). */
import { finish, sumWords } from './checksum.js';
import { wr16, wr32 } from './bytes.js';

export const IPV4_HEADER_LEN = 20;
export const IPV4_DF = 0x4000;
export const IPV4_MF = 0x2000;
export const IPV4_OFFSET_MASK = 0x1fff;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/**
 * Upper-layer protocols carried through untouched: their checksums (if any) do not cover
 * the IP addresses (GRE, ESP, SCTP's CRC32c). Everything else but TCP/UDP/ICMP is dropped.
 */
export function isPassThroughProtocol(p: number): boolean {
  return p === 47 || p === 50 || p === 132;
}

/** Writes a 20-byte IPv4 header (no options) with a computed header checksum. */
export function writeIpv4Header(
  b: Uint8Array,
  o: number,
  tos: number,
  totalLength: number,
  id: number,
  flagsOffset: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  b[o] = 0x45;
  b[o + 1] = tos;
  wr16(b, o + 2, totalLength);
  wr16(b, o + 4, id);
  wr16(b, o + 6, flagsOffset);
  b[o + 8] = ttl;
  b[o + 9] = protocol;
  wr16(b, o + 10, 0);
  wr32(b, o + 12, src);
  wr32(b, o + 16, dst);
  wr16(b, o + 10, finish(sumWords(b, o, IPV4_HEADER_LEN)));
}

/**
 * RFC 7915 §4.1: an unexpired Loose/Strict Source Route option (pointer not past the
 * option's end) means the packet must not be translated. Malformed options end the scan.
 */
export function hasUnexpiredSourceRoute(b: Uint8Array, ihl: number): boolean {
  let i = IPV4_HEADER_LEN;
  while (i < ihl) {
    const type = b[i]!;
    if (type === 0) return false; // End of Option List
    if (type === 1) {
      i++; // No Operation
      continue;
    }
    if (i + 1 >= ihl) return false;
    const len = b[i + 1]!;
    if (len < 2 || i + len > ihl) return false;
    if ((type === 131 || type === 137) && len >= 3 && b[i + 2]! <= len) return true;
    i += len;
  }
  return false;
}

/** Multicast, broadcast, loopback and "this network" sources/destinations get no ICMP error. */
export function isIcmpErrorTarget(a: number): boolean {
  const top = a >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}
