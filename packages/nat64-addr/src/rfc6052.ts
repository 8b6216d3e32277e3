/**
 * RFC 6052, IPv6 Addressing of IPv4/IPv6 Translators: the Well-Known Prefix (§2.1), the
 * prefix lengths and the IPv4-embedded IPv6 address format (§2.2).
 *
 * IPv4 addresses are unsigned 32-bit numbers and IPv6 addresses 16 bytes at an offset, so
 * nat64d can embed and extract inside its packet buffers without allocating. Nothing here
 * parses or formats text: each product keeps its own parser and its own messages.
 */

/** §2.2: the only prefix lengths an IPv4-embedded IPv6 address may use. */
export const RFC6052_PREFIX_LENGTHS = [32, 40, 48, 56, 64, 96] as const;
export type Rfc6052PrefixLength = (typeof RFC6052_PREFIX_LENGTHS)[number];

/** A NAT64 prefix ("Pref64::/n"): 16 bytes, only the first `length` bits set. */
export interface Rfc6052Prefix {
  readonly bytes: Uint8Array;
  readonly length: Rfc6052PrefixLength;
}

/** §2.1: the Well-Known Prefix. */
export const WELL_KNOWN_PREFIX_TEXT = '64:ff9b::/96';
export const WELL_KNOWN_PREFIX: Rfc6052Prefix = {
  bytes: Uint8Array.of(0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
  length: 96,
};

/**
 * §2.2: byte index of bits 64 to 71 (the "u" octet of Figure 1). They "MUST be set to zero":
 * an address where they are not is not an IPv4-embedded IPv6 address.
 */
export const U_OCTET = 8;

/** §2.2 Figure 1: byte indexes of the four IPv4 octets, in order, for each prefix length. */
const IPV4_OCTETS: Readonly<
  Record<Rfc6052PrefixLength, readonly [number, number, number, number]>
> = {
  32: [4, 5, 6, 7],
  40: [5, 6, 7, 9],
  48: [6, 7, 9, 10],
  56: [7, 9, 10, 11],
  64: [9, 10, 11, 12],
  96: [12, 13, 14, 15],
};

/** The same, flat for the data path: OCTET_AT[(length >>> 3) * 4 + k] is octet k's byte index. */
const OCTET_AT = new Uint8Array(13 * 4);
for (const length of RFC6052_PREFIX_LENGTHS) OCTET_AT.set(IPV4_OCTETS[length], (length >>> 3) * 4);

export function isRfc6052PrefixLength(length: number): length is Rfc6052PrefixLength {
  return (RFC6052_PREFIX_LENGTHS as readonly number[]).includes(length);
}

/** What makes 16 bytes and a length unusable as an RFC 6052 prefix, checked in this order. */
export type PrefixProblem =
  /** §2.2: not /32, /40, /48, /56, /64 or /96. */
  | 'length'
  /** Bits set after the prefix length. */
  | 'host-bits'
  /** §2.2: a /96 whose bits 64 to 71 are not zero (shorter prefixes do not reach them). */
  | 'u-octet';

export function prefixProblem(bytes: Uint8Array, length: number): PrefixProblem | null {
  if (bytes.length !== 16 || !isRfc6052PrefixLength(length)) return 'length';
  for (let bit = length; bit < 128; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return 'host-bits';
  }
  if (bytes[U_OCTET] !== 0) return 'u-octet';
  return null;
}

/** The resolver's wording of a PrefixProblem (its API and tests show these texts). */
export function describePrefixProblem(problem: PrefixProblem, length: number): string {
  switch (problem) {
    case 'length':
      return 'RFC 6052 allows only /32, /40, /48, /56, /64 or /96';
    case 'host-bits':
      return `bits after /${length} must be zero`;
    case 'u-octet':
      return 'bits 64-71 (the u-octet) must be zero (RFC 6052 §2.2)';
  }
}

/** §2.1: true only for 64:ff9b::/96 itself (RFC 8215's 64:ff9b:1::/48 is a network-specific prefix). */
export function isWellKnownPrefix(prefix: Rfc6052Prefix): boolean {
  return prefix.length === 96 && matchesPrefix(WELL_KNOWN_PREFIX, prefix.bytes, 0);
}

/** True when addr[off..off+16) starts with the prefix. */
export function matchesPrefix(prefix: Rfc6052Prefix, addr: Uint8Array, off: number): boolean {
  const n = prefix.length >>> 3;
  const p = prefix.bytes;
  for (let i = 0; i < n; i++) if (addr[off + i] !== p[i]) return false;
  return true;
}

/**
 * §2.2 format, §2.3 algorithm: writes the IPv4-embedded IPv6 address of `ipv4` under `prefix`
 * at out[off..off+16).
 * The u-octet is zero; the suffix (the bits after the IPv4 address) is zero or, when given,
 * taken from `suffix` (16 bytes, BIND's dns64 `suffix`; see suffixOverlaps).
 */
export function embedIpv4(
  prefix: Rfc6052Prefix,
  ipv4: number,
  out: Uint8Array,
  off: number,
  suffix?: Uint8Array,
): void {
  const n = prefix.length >>> 3;
  const p = prefix.bytes;
  let i = 0;
  for (; i < n; i++) out[off + i] = p[i]!;
  if (suffix) for (; i < 16; i++) out[off + i] = suffix[i]!;
  else for (; i < 16; i++) out[off + i] = 0;
  const at = n * 4;
  out[off + OCTET_AT[at]!] = ipv4 >>> 24;
  out[off + OCTET_AT[at + 1]!] = (ipv4 >>> 16) & 0xff;
  out[off + OCTET_AT[at + 2]!] = (ipv4 >>> 8) & 0xff;
  out[off + OCTET_AT[at + 3]!] = ipv4 & 0xff;
  if (n < 12) out[off + U_OCTET] = 0;
}

/**
 * §2.3: the IPv4 address embedded in addr[off..off+16), which the caller knows to match the
 * prefix (matchesPrefix), as an unsigned number; -1 when bits 64-71 are not zero, because then
 * the address is not an IPv4-embedded IPv6 address at all. The suffix is not looked at: §2.2
 * reserves it and says a translator receiving it non-zero SHOULD ignore its value and proceed as
 * if it were zero.
 */
export function extractIpv4(prefix: Rfc6052Prefix, addr: Uint8Array, off: number): number {
  if (addr[off + U_OCTET] !== 0) return -1;
  const at = (prefix.length >>> 3) * 4;
  return (
    ((addr[off + OCTET_AT[at]!]! << 24) |
      (addr[off + OCTET_AT[at + 1]!]! << 16) |
      (addr[off + OCTET_AT[at + 2]!]! << 8) |
      addr[off + OCTET_AT[at + 3]!]!) >>>
    0
  );
}

/**
 * §2.3: the IPv4 address embedded in addr[off..off+16) under `prefix`, or -1 when the address
 * is not under the prefix or is not an IPv4-embedded address (u-octet not zero).
 */
export function embeddedIpv4(prefix: Rfc6052Prefix, addr: Uint8Array, off: number): number {
  return matchesPrefix(prefix, addr, off) ? extractIpv4(prefix, addr, off) : -1;
}

/**
 * True when a 16-byte suffix (BIND's dns64 `suffix`) sets a bit that the prefix, the IPv4
 * address or the u-octet occupies: only the bits after the IPv4 address are its to fill.
 */
export function suffixOverlaps(prefix: Rfc6052Prefix, suffix: Uint8Array): boolean {
  // Prefix, u-octet and IPv4 address together fill bytes 0 to the IPv4 address's last octet
  // (byte 8 for /32, whose IPv4 address ends before the u-octet).
  const end = Math.max(IPV4_OCTETS[prefix.length][3], U_OCTET);
  for (let i = 0; i <= end; i++) if (suffix[i] !== 0) return true;
  return false;
}

/** The IPv4 address in bytes[off..off+4) as an unsigned number. */
export function ipv4FromBytes(bytes: Uint8Array, off = 0): number {
  return (
    ((bytes[off]! << 24) | (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!) >>> 0
  );
}

/** Writes the unsigned IPv4 address at out[off..off+4). */
export function ipv4ToBytes(ipv4: number, out: Uint8Array, off = 0): void {
  out[off] = ipv4 >>> 24;
  out[off + 1] = (ipv4 >>> 16) & 0xff;
  out[off + 2] = (ipv4 >>> 8) & 0xff;
  out[off + 3] = ipv4 & 0xff;
}
