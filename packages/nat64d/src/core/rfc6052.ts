/**
 * RFC 6052 IPv4-embedded IPv6 addresses: embedding and extraction for every prefix length
 * (§2.2), the Well-Known Prefix (§2.1) and the non-global IPv4 rule of §3.1.
 */
import type { Nat64Prefix } from './types.js';

export const PREFIX_LENGTHS: readonly number[] = [32, 40, 48, 56, 64, 96];

/** 64:ff9b::/96, the Well-Known Prefix (RFC 6052 §2.1). */
export const WELL_KNOWN_PREFIX: Nat64Prefix = {
  bytes: Uint8Array.of(0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
  length: 96,
};

/** Index of the "u" octet (bits 64-71), which never carries IPv4 bits (RFC 6052 §2.2). */
const U_OCTET = 8;

/** Builds a prefix, checking the length and clearing the bits after it. Throws on bad input. */
export function makeNat64Prefix(bytes: Uint8Array, length: number): Nat64Prefix {
  if (bytes.length !== 16) throw new RangeError('NAT64 prefix must be 16 bytes');
  if (!PREFIX_LENGTHS.includes(length)) {
    throw new RangeError(`NAT64 prefix length must be one of ${PREFIX_LENGTHS.join('/')}`);
  }
  const b = new Uint8Array(16);
  b.set(bytes.subarray(0, length / 8));
  if (length > 64 && bytes[U_OCTET] !== 0) {
    throw new RangeError('NAT64 prefix: bits 64-71 (u octet) must be zero (RFC 6052 §2.2)');
  }
  return { bytes: b, length: length as Nat64Prefix['length'] };
}

/** True when addr[off..off+16) starts with the prefix. */
export function matchesPrefix(prefix: Nat64Prefix, addr: Uint8Array, off: number): boolean {
  const n = prefix.length >>> 3;
  const p = prefix.bytes;
  for (let i = 0; i < n; i++) if (addr[off + i] !== p[i]) return false;
  return true;
}

/** Writes the IPv4-embedded IPv6 address of `ipv4` at out[off..off+16) (suffix and u zero). */
export function embedIpv4(prefix: Nat64Prefix, ipv4: number, out: Uint8Array, off: number): void {
  const n = prefix.length >>> 3;
  const p = prefix.bytes;
  for (let i = 0; i < 16; i++) out[off + i] = i < n ? p[i]! : 0;
  let idx = n;
  for (let shift = 24; shift >= 0; shift -= 8) {
    if (idx === U_OCTET) idx++;
    out[off + idx] = (ipv4 >>> shift) & 0xff;
    idx++;
  }
}

/**
 * The IPv4 address embedded in addr[off..off+16), which must match the prefix; -1 when the
 * u octet is not zero (RFC 6052 §2.2: such an address is not a valid IPv4-embedded address).
 * Suffix bits are ignored.
 */
export function extractIpv4(prefix: Nat64Prefix, addr: Uint8Array, off: number): number {
  if (prefix.length < 96 && addr[off + U_OCTET] !== 0) return -1;
  let idx = prefix.length >>> 3;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    if (idx === U_OCTET) idx++;
    v = v * 256 + addr[off + idx]!;
    idx++;
  }
  return v;
}

export function isWellKnownPrefix(prefix: Nat64Prefix): boolean {
  return prefix.length === 96 && matchesPrefix(WELL_KNOWN_PREFIX, prefix.bytes, 0);
}

/** [network, mask length] of the IANA IPv4 special-purpose blocks that are not global. */
const NON_GLOBAL: readonly (readonly [number, number])[] = [
  [0x00000000, 8], // 0/8 "this network"
  [0x0a000000, 8], // 10/8 private
  [0x64400000, 10], // 100.64/10 shared (CGN)
  [0x7f000000, 8], // 127/8 loopback
  [0xa9fe0000, 16], // 169.254/16 link local
  [0xac100000, 12], // 172.16/12 private
  [0xc0000000, 24], // 192.0.0/24 IETF protocol assignments
  [0xc0000200, 24], // 192.0.2/24 TEST-NET-1
  [0xc0586300, 24], // 192.88.99/24 6to4 relay anycast (deprecated)
  [0xc0a80000, 16], // 192.168/16 private
  [0xc6120000, 15], // 198.18/15 benchmarking
  [0xc6336400, 24], // 198.51.100/24 TEST-NET-2
  [0xcb007100, 24], // 203.0.113/24 TEST-NET-3
  [0xe0000000, 4], // 224/4 multicast
  [0xf0000000, 4], // 240/4 reserved, includes 255.255.255.255
];

/** False for the special-purpose blocks that RFC 6052 §3.1 forbids inside the WKP. */
export function isGlobalIpv4(ipv4: number): boolean {
  for (let i = 0; i < NON_GLOBAL.length; i++) {
    const block = NON_GLOBAL[i]!;
    const mask = (0xffffffff << (32 - block[1])) >>> 0;
    if ((ipv4 & mask) >>> 0 === block[0]) return false;
  }
  return true;
}
