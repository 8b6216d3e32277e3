/**
 * ICMP <-> ICMPv6 type/code, Parameter Problem pointer and MTU mappings (RFC 7915 §4.2, §5.2).
 * Type/code pairs are returned as (type << 8) | code; -1 means "drop, no translation".
 */

export const ICMP4_ECHO_REPLY = 0;
export const ICMP4_DEST_UNREACH = 3;
export const ICMP4_ECHO_REQUEST = 8;
export const ICMP4_TIME_EXCEEDED = 11;
export const ICMP4_PARAM_PROBLEM = 12;

export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROBLEM = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

/** RFC 792/950/1256 informational types; every other ICMPv4 type is treated as an error. */
export function isIcmp4Informational(type: number): boolean {
  return type === 0 || type === 8 || type === 9 || type === 10 || (type >= 13 && type <= 18);
}

/** RFC 4443 §2.1: types 0-127 are errors. */
export function isIcmp6Error(type: number): boolean {
  return type < 128;
}

const pair = (type: number, code: number): number => (type << 8) | code;

/** ICMPv4 error -> ICMPv6 (RFC 7915 §4.2). */
export function icmp4ErrorTo6(type: number, code: number): number {
  if (type === ICMP4_TIME_EXCEEDED) return code <= 1 ? pair(ICMP6_TIME_EXCEEDED, code) : -1;
  if (type === ICMP4_PARAM_PROBLEM) {
    // Code 1 (missing required option) has no counterpart.
    return code === 0 || code === 2 ? pair(ICMP6_PARAM_PROBLEM, 0) : -1;
  }
  if (type !== ICMP4_DEST_UNREACH) return -1;
  switch (code) {
    case 0: // net unreachable
    case 1: // host unreachable
    case 5: // source route failed
    case 6:
    case 7:
    case 8:
    case 11:
    case 12:
      return pair(ICMP6_DEST_UNREACH, 0);
    case 2: // protocol unreachable -> Parameter Problem, unrecognized Next Header
      return pair(ICMP6_PARAM_PROBLEM, 1);
    case 3:
      return pair(ICMP6_DEST_UNREACH, 4);
    case 4:
      return pair(ICMP6_PACKET_TOO_BIG, 0);
    case 9:
    case 10:
    case 13:
    case 15:
      return pair(ICMP6_DEST_UNREACH, 1);
    default: // 14 (host precedence violation) and unknown codes
      return -1;
  }
}

/** ICMPv6 error -> ICMPv4 (RFC 7915 §5.2). */
export function icmp6ErrorTo4(type: number, code: number): number {
  switch (type) {
    case ICMP6_DEST_UNREACH:
      if (code === 0 || code === 2 || code === 3) return pair(ICMP4_DEST_UNREACH, 1);
      if (code === 1) return pair(ICMP4_DEST_UNREACH, 10);
      if (code === 4) return pair(ICMP4_DEST_UNREACH, 3);
      return -1;
    case ICMP6_PACKET_TOO_BIG:
      return pair(ICMP4_DEST_UNREACH, 4);
    case ICMP6_TIME_EXCEEDED:
      return code <= 1 ? pair(ICMP4_TIME_EXCEEDED, code) : -1;
    case ICMP6_PARAM_PROBLEM:
      if (code === 0) return pair(ICMP4_PARAM_PROBLEM, 0);
      if (code === 1) return pair(ICMP4_DEST_UNREACH, 2);
      return -1;
    default:
      return -1;
  }
}

/** RFC 7915 §4.2 Figure 3: IPv4 header byte offset -> IPv6 header byte offset, -1 for n/a. */
export function pointer4to6(p: number): number {
  if (p === 0 || p === 1) return p; // Version/IHL, Type of Service
  if (p === 2 || p === 3) return 4; // Total Length -> Payload Length
  if (p === 8) return 7; // TTL -> Hop Limit
  if (p === 9) return 6; // Protocol -> Next Header
  if (p >= 12 && p <= 15) return 8; // Source Address
  if (p >= 16 && p <= 19) return 24; // Destination Address
  return -1; // Identification, Flags/Offset, Header Checksum, options and beyond
}

/** RFC 7915 §5.2 Figure 6: IPv6 header byte offset -> IPv4 header byte offset, -1 for n/a. */
export function pointer6to4(p: number): number {
  if (p === 0 || p === 1) return p; // Version/Traffic Class, Traffic Class/Flow Label
  if (p === 4 || p === 5) return 2; // Payload Length -> Total Length
  if (p === 6) return 9; // Next Header -> Protocol
  if (p === 7) return 8; // Hop Limit -> TTL
  if (p >= 8 && p <= 23) return 12; // Source Address
  if (p >= 24 && p <= 39) return 16; // Destination Address
  return -1; // Flow Label (2,3) and extension headers
}

/** RFC 1191 §7 plateau table, descending. */
const PLATEAUS: readonly number[] = [
  65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

export const IPV6_MIN_MTU = 1280;

/**
 * Fragmentation Needed -> Packet Too Big MTU (RFC 7915 §4.2 and §6):
 * min(advertised + 20, ipv6 next hop MTU, ipv4 next hop MTU + 20), never below 1280.
 * An advertised MTU of 0 (pre-RFC 1191 router) is replaced by the greatest plateau below the
 * returned Total Length that is >= 1280 (1280 when there is none).
 */
export function mtu4to6(
  advertised: number,
  innerTotalLength: number,
  ipv6NextHopMtu: number,
  ipv4NextHopMtu: number,
): number {
  let v4 = advertised;
  if (v4 === 0) {
    v4 = IPV6_MIN_MTU;
    for (let i = 0; i < PLATEAUS.length; i++) {
      const p = PLATEAUS[i]!;
      if (p < innerTotalLength && p >= IPV6_MIN_MTU) {
        v4 = p;
        break;
      }
    }
  }
  const mtu = Math.min(v4 + 20, ipv6NextHopMtu, ipv4NextHopMtu + 20);
  return Math.max(mtu, IPV6_MIN_MTU);
}

/**
 * Packet Too Big -> Fragmentation Needed MTU (RFC 7915 §5.2):
 * min(advertised - 20 (- 8 more when the packet in error had a Fragment header),
 * ipv4 next hop MTU, ipv6 next hop MTU - 20), kept within [68, 65535].
 */
export function mtu6to4(
  advertised: number,
  innerHasFragmentHeader: boolean,
  ipv6NextHopMtu: number,
  ipv4NextHopMtu: number,
): number {
  const fromPtb = advertised - 20 - (innerHasFragmentHeader ? 8 : 0);
  const mtu = Math.min(fromPtb, ipv4NextHopMtu, ipv6NextHopMtu - 20, 0xffff);
  return Math.max(mtu, 68);
}
