/**
 * Test-only packet builders and independent checksum verifiers. Nothing here imports the code
 * under test: checksums are full one's-complement sums written out plainly.
 */
import type { AddressMapper, Nat64Prefix, TranslatorConfig } from '../../src/core/types.js';

export function ip4(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function ip6(s: string): Uint8Array {
  let text = s;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v = ip4(dotted[1]!);
    tail.push(v >>> 16, v & 0xffff);
    text = text.slice(0, -dotted[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (x: string): number[] => (x === '' ? [] : x.split(':').map((h) => parseInt(h, 16)));
  const a = parse(head);
  const b = rest === undefined ? [] : parse(rest);
  const words =
    rest === undefined ? a : [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  if (tail.length) words.splice(6, 2, ...tail);
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

export function hex6(b: Uint8Array, off = 0): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[off + i]! << 8) | b[off + i + 1]!).toString(16));
  return w.join(':');
}

export function prefix(s: string, length: Nat64Prefix['length']): Nat64Prefix {
  return { bytes: ip6(s), length };
}

export const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

function be16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}
function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** Plain RFC 1071 checksum over the concatenation of the parts: sum words, fold, complement. */
export function inetChecksum(...parts: Uint8Array[]): number {
  const all: number[] = [];
  for (const p of parts) all.push(...p);
  if (all.length % 2) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all[i]! * 256 + all[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return 0xffff - sum;
}

export function pseudo4(src: number, dst: number, proto: number, len: number): Uint8Array {
  return Uint8Array.from([...be32(src), ...be32(dst), 0, proto, ...be16(len)]);
}

export function pseudo6(src: Uint8Array, dst: Uint8Array, nh: number, len: number): Uint8Array {
  return Uint8Array.from([...src, ...dst, ...be32(len), 0, 0, 0, nh]);
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  payload: Uint8Array;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  fragOffset?: number; // bytes
  options?: number[];
}

export function ipv4(o: Ipv4Opts): Uint8Array {
  const opts = o.options ?? [];
  const ihl = 20 + opts.length;
  const total = ihl + o.payload.length;
  const flags = (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8);
  const h = Uint8Array.from([
    0x40 | (ihl / 4),
    o.tos ?? 0,
    ...be16(total),
    ...be16(o.id ?? 0x1234),
    ...be16(flags),
    o.ttl ?? 64,
    o.proto,
    0,
    0,
    ...be32(ip4(o.src)),
    ...be32(ip4(o.dst)),
    ...opts,
  ]);
  const ck = inetChecksum(h);
  h[10] = ck >> 8;
  h[11] = ck & 0xff;
  return concat(h, o.payload);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  nh: number;
  payload: Uint8Array;
  hop?: number;
  tc?: number;
  flow?: number;
}

export function ipv6(o: Ipv6Opts): Uint8Array {
  const first = (0x60000000 | ((o.tc ?? 0) << 20) | (o.flow ?? 0)) >>> 0;
  const h = Uint8Array.from([
    ...be32(first),
    ...be16(o.payload.length),
    o.nh,
    o.hop ?? 64,
    ...ip6(o.src),
    ...ip6(o.dst),
  ]);
  return concat(h, o.payload);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

/** UDP datagram with checksum over the given pseudo-header (pass null for a zero checksum). */
export function udp(
  sport: number,
  dport: number,
  data: Uint8Array,
  ph: Uint8Array | null,
): Uint8Array {
  const u = concat(
    Uint8Array.from([...be16(sport), ...be16(dport), ...be16(8 + data.length), 0, 0]),
    data,
  );
  if (ph) {
    const ck = inetChecksum(ph, u) || 0xffff;
    u[6] = ck >> 8;
    u[7] = ck & 0xff;
  }
  return u;
}

export function tcp(sport: number, dport: number, data: Uint8Array, ph: Uint8Array): Uint8Array {
  const t = concat(
    Uint8Array.from([
      ...be16(sport),
      ...be16(dport),
      ...be32(0x01020304),
      ...be32(0x0a0b0c0d),
      0x50,
      0x18,
      ...be16(65535),
      0,
      0,
      0,
      0,
    ]),
    data,
  );
  const ck = inetChecksum(ph, t);
  t[16] = ck >> 8;
  t[17] = ck & 0xff;
  return t;
}

/** ICMP (ph = null) or ICMPv6 (ph = IPv6 pseudo-header) message with a correct checksum. */
export function icmp(
  type: number,
  code: number,
  rest: number,
  data: Uint8Array,
  ph: Uint8Array | null,
): Uint8Array {
  const m = concat(Uint8Array.from([type, code, 0, 0, ...be32(rest)]), data);
  const ck = ph ? inetChecksum(ph, m) : inetChecksum(m);
  m[2] = ck >> 8;
  m[3] = ck & 0xff;
  return m;
}

export function udp4(
  src: string,
  dst: string,
  data: Uint8Array,
  sport = 5000,
  dport = 53,
): Uint8Array {
  return udp(sport, dport, data, pseudo4(ip4(src), ip4(dst), 17, 8 + data.length));
}
export function udp6(
  src: string,
  dst: string,
  data: Uint8Array,
  sport = 5000,
  dport = 53,
): Uint8Array {
  return udp(sport, dport, data, pseudo6(ip6(src), ip6(dst), 17, 8 + data.length));
}
export function tcp4(src: string, dst: string, data: Uint8Array): Uint8Array {
  return tcp(40000, 443, data, pseudo4(ip4(src), ip4(dst), 6, 20 + data.length));
}
export function tcp6(src: string, dst: string, data: Uint8Array): Uint8Array {
  return tcp(40000, 443, data, pseudo6(ip6(src), ip6(dst), 6, 20 + data.length));
}
export function icmp6msg(
  src: string,
  dst: string,
  type: number,
  code: number,
  rest: number,
  data: Uint8Array,
): Uint8Array {
  return icmp(type, code, rest, data, pseudo6(ip6(src), ip6(dst), 58, 8 + data.length));
}

/** IPv4 header valid: version, IHL 5, total length = bytes, header checksum. */
export function checkIpv4(p: Uint8Array): boolean {
  return p[0] === 0x45 && u16(p, 2) === p.length && inetChecksum(p.subarray(0, 20)) === 0;
}

/** The upper-layer checksum of an IPv4 packet verifies (ICMP without pseudo-header). */
export function checkL4v4(p: Uint8Array): boolean {
  const ihl = (p[0]! & 15) * 4;
  const proto = p[9]!;
  const seg = p.subarray(ihl, u16(p, 2));
  if (proto === 1) return inetChecksum(seg) === 0;
  return inetChecksum(pseudo4(u32(p, 12), u32(p, 16), proto, seg.length), seg) === 0;
}

/** Walks the IPv6 extension headers the translator emits; returns [upper, offset]. */
export function upper6(p: Uint8Array): [number, number] {
  let nh = p[6]!;
  let o = 40;
  while (nh === 0 || nh === 43 || nh === 60 || nh === 44) {
    if (nh === 44) {
      const next = p[o]!;
      o += 8;
      nh = next;
      continue;
    }
    const next = p[o]!;
    o += (p[o + 1]! + 1) * 8;
    nh = next;
  }
  return [nh, o];
}

export function checkIpv6(p: Uint8Array): boolean {
  return p[0]! >> 4 === 6 && u16(p, 4) + 40 === p.length;
}

export function checkL4v6(p: Uint8Array): boolean {
  const [nh, o] = upper6(p);
  const seg = p.subarray(o);
  return inetChecksum(pseudo6(p.subarray(8, 24), p.subarray(24, 40), nh, seg.length), seg) === 0;
}

export class TestMapper implements AddressMapper {
  readonly calls: string[] = [];
  private readonly v6to4 = new Map<string, number>();
  private readonly v4to6 = new Map<number, Uint8Array>();
  constructor(pairs: [string, string][]) {
    for (const [a6, a4] of pairs) {
      this.v6to4.set(hex6(ip6(a6)), ip4(a4));
      this.v4to6.set(ip4(a4), ip6(a6));
    }
  }
  map6to4(addr: Uint8Array, offset: number, isSource: boolean): number {
    this.calls.push(`6to4 ${hex6(addr, offset)} ${isSource}`);
    return this.v6to4.get(hex6(addr, offset)) ?? -1;
  }
  map4to6(addr: number, out: Uint8Array, offset: number): boolean {
    this.calls.push(`4to6 ${addr}`);
    const a = this.v4to6.get(addr);
    if (!a) return false;
    out.set(a, offset);
    return true;
  }
}

/** IPv6 host 2001:db8:1::10 is mapped to pool address 198.51.100.10. */
export const V6HOST = '2001:db8:1::10';
export const V6POOL = '198.51.100.10';
/** An IPv4 server reached through the prefix 2001:db8:64::/96. */
export const V4SERVER = '203.0.113.7';
export const PREFIX96 = '2001:db8:64::';
export const V4SERVER_AS6 = '2001:db8:64::cb00:7107';
export const OWN4 = '192.0.2.1';
export const OWN6 = '2001:db8:ffff::1';

export function config(over: Partial<TranslatorConfig> = {}): TranslatorConfig {
  return {
    prefix: prefix(PREFIX96, 96),
    ipv4Addr: ip4(OWN4),
    ipv6Addr: ip6(OWN6),
    wkpfStrict: false,
    udpChecksumMode: 'drop',
    strictFragHdr: false,
    ipv6Mtu: 1280,
    tunMtu: 1500,
    ...over,
  };
}

export function defaultMapper(): TestMapper {
  return new TestMapper([[V6HOST, V6POOL]]);
}

/** Translates and returns copies of every emitted packet. */
export function run(
  t: { translate(p: Uint8Array, e: (x: Uint8Array) => void): void },
  pkt: Uint8Array,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  t.translate(pkt, (x) => out.push(x.slice()));
  return out;
}
