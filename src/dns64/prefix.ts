import { formatAddress, hasHostBits, parseAddress, samePrefix } from '../acl/address';

/** Prefix lengths RFC 6052 §2.2 defines for IPv4-embedded IPv6 addresses. */
export const RFC6052_LENGTHS = [32, 40, 48, 56, 64, 96] as const;
export type PrefixLength = (typeof RFC6052_LENGTHS)[number];

export interface Nat64Prefix {
  /** 16 bytes; only the first `length` bits may be set. */
  readonly bytes: Uint8Array;
  readonly length: PrefixLength;
  /** Canonical text, e.g. `64:ff9b::/96`. */
  readonly text: string;
}

/** RFC 6052 §2.1: the Well-Known Prefix. */
export const WELL_KNOWN_PREFIX_TEXT = '64:ff9b::/96';

export type PrefixParse = { ok: true; prefix: Nat64Prefix } | { ok: false; reason: string };

/** The u-octet, bits 64 to 71, which RFC 6052 §2.2 requires to be zero. */
const U_OCTET = 8;

/** Byte positions (in order) that carry the IPv4 address for each prefix length (RFC 6052 §2.2). */
const IPV4_POSITIONS: Record<PrefixLength, readonly number[]> = {
  32: [4, 5, 6, 7],
  40: [5, 6, 7, 9],
  48: [6, 7, 9, 10],
  56: [7, 9, 10, 11],
  64: [9, 10, 11, 12],
  96: [12, 13, 14, 15],
};

export function parsePrefix(input: string): PrefixParse {
  const text = input.trim();
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: `${text}: a prefix needs a length (e.g. /96)` };
  const addr = text.slice(0, slash);
  const bytes = addr.includes(':') ? parseAddress(addr) : null;
  if (!bytes || bytes.length !== 16) {
    return { ok: false, reason: `${text}: ${addr} is not an IPv6 address` };
  }
  const lenText = text.slice(slash + 1);
  const length = Number(lenText);
  if (!/^\d+$/.test(lenText) || !(RFC6052_LENGTHS as readonly number[]).includes(length)) {
    return {
      ok: false,
      reason: `${text}: RFC 6052 allows only /32, /40, /48, /56, /64 or /96`,
    };
  }
  if (hasHostBits(bytes, length)) {
    return { ok: false, reason: `${text}: bits after /${length} must be zero` };
  }
  if (bytes[U_OCTET] !== 0) {
    return { ok: false, reason: `${text}: bits 64-71 (the u-octet) must be zero (RFC 6052 §2.2)` };
  }
  return {
    ok: true,
    prefix: { bytes, length: length as PrefixLength, text: `${formatAddress(bytes)}/${length}` },
  };
}

/** Parses a prefix known to be valid (configuration defaults); throws otherwise. */
export function prefixOf(text: string): Nat64Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.prefix;
}

export function isWellKnownPrefix(prefix: Nat64Prefix): boolean {
  return prefix.text === WELL_KNOWN_PREFIX_TEXT;
}

/**
 * RFC 6052 §2.2: the IPv4-embedded IPv6 address of `ipv4` under `prefix`. `suffix` (BIND's
 * dns64 `suffix`) fills the bits after the IPv4 address; it must not overlap them.
 */
export function embedIpv4(prefix: Nat64Prefix, ipv4: Uint8Array, suffix?: Uint8Array): Uint8Array {
  const out = suffix ? Uint8Array.from(suffix) : new Uint8Array(16);
  out.set(prefix.bytes.subarray(0, prefix.length >> 3));
  const positions = IPV4_POSITIONS[prefix.length];
  for (let i = 0; i < 4; i++) out[positions[i]!] = ipv4[i]!;
  out[U_OCTET] = 0;
  return out;
}

/** RFC 6052 §2.3: the IPv4 address inside `addr`, or null when `addr` is not under `prefix`. */
export function extractIpv4(prefix: Nat64Prefix, addr: Uint8Array): Uint8Array | null {
  if (addr.length !== 16 || !samePrefix(prefix.bytes, addr, prefix.length)) return null;
  const positions = IPV4_POSITIONS[prefix.length];
  return Uint8Array.from(positions, (p) => addr[p]!);
}

/** Bits of a 16-byte address that the prefix, the IPv4 address and the u-octet occupy. */
export function suffixOverlaps(prefix: Nat64Prefix, suffix: Uint8Array): boolean {
  const used = new Set<number>([U_OCTET, ...IPV4_POSITIONS[prefix.length]]);
  for (let i = 0; i < prefix.length >> 3; i++) used.add(i);
  return [...used].some((i) => suffix[i] !== 0);
}
