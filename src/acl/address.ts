import ipaddr from 'ipaddr.js';

/** An IP address as network-order bytes: 4 for IPv4, 16 for IPv6. */
export type AddressBytes = Uint8Array;

/**
 * Parses an IPv4 or IPv6 address to bytes. Unless `unmap` is false, IPv4-mapped IPv6
 * (::ffff:a.b.c.d, as Node reports IPv4 clients on a dual-stack socket) becomes plain IPv4.
 * Returns null for anything else.
 */
export function parseAddress(text: string, unmap = true): AddressBytes | null {
  // Clients repeat: remember recent parses (ipaddr.js is the slow part of a cached answer).
  // The bytes returned are shared: callers read them, never write them.
  const key = unmap ? text : `!${text}`;
  const known = recent.get(key);
  if (known !== undefined) return known;
  const parsed = parseUncached(text, unmap);
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(key, parsed);
  return parsed;
}

const RECENT_MAX = 4096;
const recent = new Map<string, AddressBytes | null>();

function parseUncached(text: string, unmap: boolean): AddressBytes | null {
  const trimmed = text.trim();
  if (!ipaddr.isValid(trimmed)) return null;
  // ipaddr.js accepts legacy IPv4 forms (0x7f.1, 127.1); only dotted quads are addresses here.
  if (ipaddr.IPv4.isValid(trimmed) && !ipaddr.IPv4.isValidFourPartDecimal(trimmed)) return null;
  const parsed = ipaddr.parse(trimmed);
  if (unmap && parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return Uint8Array.from(v6.toIPv4Address().toByteArray());
  }
  return Uint8Array.from(parsed.toByteArray());
}

export function formatAddress(bytes: AddressBytes): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}

/** True when the first `bits` bits of a and b are equal (both the same length). */
export function samePrefix(a: AddressBytes, b: AddressBytes, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole]! ^ b[whole]!) & mask) === 0;
}

/** True when any bit after the first `bits` is set. */
export function hasHostBits(a: AddressBytes, bits: number): boolean {
  for (let bit = bits; bit < a.length * 8; bit++) {
    if ((a[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}
