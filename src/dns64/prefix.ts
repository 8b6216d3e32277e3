import * as rfc6052 from 'nat64-addr';
import { formatAddress, parseAddress } from '../acl/address';

/** Prefix lengths RFC 6052 §2.2 defines for IPv4-embedded IPv6 addresses. */
export const RFC6052_LENGTHS = rfc6052.RFC6052_PREFIX_LENGTHS;
export type PrefixLength = rfc6052.Rfc6052PrefixLength;

export interface Nat64Prefix extends rfc6052.Rfc6052Prefix {
  /** Canonical text, e.g. `64:ff9b::/96`. */
  readonly text: string;
}

/** RFC 6052 §2.1: the Well-Known Prefix. */
export const WELL_KNOWN_PREFIX_TEXT = rfc6052.WELL_KNOWN_PREFIX_TEXT;

export type PrefixParse = { ok: true; prefix: Nat64Prefix } | { ok: false; reason: string };

/** A prefix from its text; the rules (RFC 6052 §2.2) are the shared nat64-addr package's. */
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
  const length = /^\d+$/.test(lenText) ? Number(lenText) : NaN;
  const problem = rfc6052.prefixProblem(bytes, length);
  if (problem || !rfc6052.isRfc6052PrefixLength(length)) {
    return {
      ok: false,
      reason: `${text}: ${rfc6052.describePrefixProblem(problem ?? 'length', length)}`,
    };
  }
  return { ok: true, prefix: { bytes, length, text: `${formatAddress(bytes)}/${length}` } };
}

/** Parses a prefix known to be valid (configuration defaults); throws otherwise. */
export function prefixOf(text: string): Nat64Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.prefix;
}

export function isWellKnownPrefix(prefix: Nat64Prefix): boolean {
  return rfc6052.isWellKnownPrefix(prefix);
}

/**
 * RFC 6052 §2.2: the IPv4-embedded IPv6 address of `ipv4` under `prefix`. `suffix` (BIND's
 * dns64 `suffix`) fills the bits after the IPv4 address; it must not overlap them.
 */
export function embedIpv4(prefix: Nat64Prefix, ipv4: Uint8Array, suffix?: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  rfc6052.embedIpv4(prefix, rfc6052.ipv4FromBytes(ipv4), out, 0, suffix);
  return out;
}

/**
 * RFC 6052 §2.3: the IPv4 address inside `addr`, or null when `addr` is not under `prefix` or
 * embeds no IPv4 address (bits 64-71 not zero, RFC 6052 §2.2).
 */
export function extractIpv4(prefix: Nat64Prefix, addr: Uint8Array): Uint8Array | null {
  if (addr.length !== 16) return null;
  const v4 = rfc6052.embeddedIpv4(prefix, addr, 0);
  if (v4 < 0) return null;
  const out = new Uint8Array(4);
  rfc6052.ipv4ToBytes(v4, out);
  return out;
}

/** True when a suffix sets bits that the prefix, the IPv4 address or the u-octet occupy. */
export function suffixOverlaps(prefix: Nat64Prefix, suffix: Uint8Array): boolean {
  return rfc6052.suffixOverlaps(prefix, suffix);
}

/**
 * RFC 6052 §3.1: false for the non-global IPv4 addresses the Well-Known Prefix must not
 * carry (IANA special-purpose registry, shared with nat64d's `wkpf-strict`).
 */
export function isGlobalIpv4(ipv4: Uint8Array): boolean {
  return rfc6052.isGlobalIpv4(rfc6052.ipv4FromBytes(ipv4));
}
