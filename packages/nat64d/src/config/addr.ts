/**
 * Address parsing for tayga.conf values, on top of ipaddr.js. IPv4 addresses are unsigned
 * 32-bit integers and IPv6 addresses are 16-byte arrays, as in the core contract.
 * Every function returns a reason string instead of throwing, so the parser can attach
 * file and line.
 */
import ipaddr from 'ipaddr.js';

export interface Ipv4Net {
  /** Network address (host bits zero), unsigned 32-bit. */
  readonly addr: number;
  readonly length: number;
}

export interface Ipv6Net {
  /** Network address (host bits zero). */
  readonly bytes: Uint8Array;
  readonly length: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });

export function parseIpv4(text: string): Parsed<number> {
  // inet_pton(AF_INET) semantics: dotted quad only, no "10.1" shorthand, no octal.
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return fail('not an IPv4 address');
  const o = ipaddr.IPv4.parse(text).octets;
  return ok((((o[0] ?? 0) << 24) | ((o[1] ?? 0) << 16) | ((o[2] ?? 0) << 8) | (o[3] ?? 0)) >>> 0);
}

export function parseIpv6(text: string): Parsed<Uint8Array> {
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return fail('not an IPv6 address');
  return ok(Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()));
}

function splitLength(text: string, max: number): Parsed<{ addr: string; length: number | null }> {
  const slash = text.indexOf('/');
  if (slash < 0) return ok({ addr: text, length: null });
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    return fail(`bad prefix length "/${lenText}"`);
  }
  return ok({ addr: text.slice(0, slash), length: Number(lenText) });
}

export function ipv4Mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/** `a.b.c.d/len` (or a bare address as /32 when `defaultLength` is given). Host bits must be zero. */
export function parseIpv4Net(text: string, defaultLength?: number): Parsed<Ipv4Net> {
  const split = splitLength(text, 32);
  if (!split.ok) return split;
  const length = split.value.length ?? defaultLength;
  if (length === undefined) return fail('expected an IPv4 network (address/length)');
  const addr = parseIpv4(split.value.addr);
  if (!addr.ok) return addr;
  if ((addr.value & ~ipv4Mask(length)) >>> 0 !== 0) return fail(`host bits set beyond /${length}`);
  return ok({ addr: addr.value, length });
}

/** `x::/len` (or a bare address as /128 when `defaultLength` is given). Host bits must be zero. */
export function parseIpv6Net(text: string, defaultLength?: number): Parsed<Ipv6Net> {
  const split = splitLength(text, 128);
  if (!split.ok) return split;
  const length = split.value.length ?? defaultLength;
  if (length === undefined) return fail('expected an IPv6 network (address/length)');
  const bytes = parseIpv6(split.value.addr);
  if (!bytes.ok) return bytes;
  for (let bit = length; bit < 128; bit++) {
    if (((bytes.value[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) {
      return fail(`host bits set beyond /${length}`);
    }
  }
  return ok({ bytes: bytes.value, length });
}

export function ipv4InNet(addr: number, net: Ipv4Net): boolean {
  return (addr & ipv4Mask(net.length)) >>> 0 === net.addr;
}

/** True when the two IPv4 networks share at least one address (CIDR: one contains the other). */
export function ipv4Overlap(a: Ipv4Net, b: Ipv4Net): boolean {
  const len = Math.min(a.length, b.length);
  const mask = ipv4Mask(len);
  return (a.addr & mask) >>> 0 === (b.addr & mask) >>> 0;
}

export function ipv6InNet(addr: Uint8Array, offset: number, net: Ipv6Net): boolean {
  const full = net.length >> 3;
  for (let i = 0; i < full; i++) if (addr[offset + i] !== net.bytes[i]) return false;
  const rest = net.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[offset + full] ?? 0) & mask) === ((net.bytes[full] ?? 0) & mask);
}

export function ipv6Overlap(a: Ipv6Net, b: Ipv6Net): boolean {
  return a.length <= b.length ? ipv6InNet(b.bytes, 0, a) : ipv6InNet(a.bytes, 0, b);
}

export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  return ipaddr
    .fromByteArray(Array.from(bytes.subarray(offset, offset + 16)))
    .toString()
    .toLowerCase();
}

export const formatIpv4Net = (n: Ipv4Net): string => `${formatIpv4(n.addr)}/${n.length}`;
export const formatIpv6Net = (n: Ipv6Net): string => `${formatIpv6(n.bytes)}/${n.length}`;

/** Why an IPv4 address may not be used in tayga.conf, or null. Link-local is allowed. */
export function reservedIpv4(addr: number): string | null {
  const top = addr >>> 24;
  if (top === 0) return 'reserved address ("this network", 0.0.0.0/8)';
  if (top === 127) return 'reserved address (loopback, 127.0.0.0/8)';
  if (top >= 224 && top < 240) return 'reserved address (multicast, 224.0.0.0/4)';
  if (top >= 240) return 'reserved address (240.0.0.0/4)';
  return null;
}

/** Why an IPv6 address or prefix may not be used in tayga.conf, or null. */
export function reservedIpv6(bytes: Uint8Array): string | null {
  const b0 = bytes[0] ?? 0;
  if (b0 === 0xff) return 'reserved address (multicast, ff00::/8)';
  if (b0 === 0xfe && ((bytes[1] ?? 0) & 0xc0) === 0x80) {
    return 'reserved address (link-local, fe80::/10)';
  }
  let allZeroTo10 = true;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) allZeroTo10 = false;
  if (allZeroTo10 && bytes[10] === 0xff && bytes[11] === 0xff) {
    return 'reserved address (IPv4-mapped, ::ffff:0:0/96)';
  }
  if (allZeroTo10 && bytes[10] === 0 && bytes[11] === 0 && bytes[12] === 0 && bytes[13] === 0) {
    if (bytes[14] === 0 && (bytes[15] ?? 0) <= 1)
      return 'reserved address (unspecified or loopback)';
  }
  return null;
}
