/**
 * Tayga's static `map` lines: host maps (/32 <-> /128) in hash tables, network maps
 * (`map 192.0.2.0/24 2001:db8:1::/120`, equal host bits copied across) in a short list
 * scanned longest prefix first.
 */
import type { StaticMapEntry } from '../config/types.js';
import { ipv4InNet, ipv4Mask, ipv6InNet, type Ipv6Net } from '../config/addr.js';
import { Ipv4Table, Ipv6Table } from './hash-tables.js';

interface NetworkMap {
  readonly ipv4: number;
  readonly ipv4Length: number;
  readonly ipv6: Ipv6Net;
  readonly hostMask: number;
}

function readU32(a: Uint8Array, o: number): number {
  return (
    (((a[o] ?? 0) << 24) | ((a[o + 1] ?? 0) << 16) | ((a[o + 2] ?? 0) << 8) | (a[o + 3] ?? 0)) >>> 0
  );
}

export class StaticMapTable {
  private readonly hostIpv4: Uint32Array;
  private readonly hostIpv6: Uint8Array;
  private readonly by6 = new Ipv6Table();
  private readonly by4 = new Ipv4Table();
  private readonly networks: NetworkMap[];
  readonly entries: readonly StaticMapEntry[];

  constructor(entries: readonly StaticMapEntry[]) {
    this.entries = entries;
    const hosts = entries.filter((e) => e.ipv4.length === 32);
    this.hostIpv4 = new Uint32Array(hosts.length);
    this.hostIpv6 = new Uint8Array(hosts.length * 16);
    hosts.forEach((e, i) => {
      this.hostIpv4[i] = e.ipv4.addr;
      this.hostIpv6.set(e.ipv6.bytes, i * 16);
      this.by6.set(e.ipv6.bytes, 0, i);
      this.by4.set(e.ipv4.addr, i);
    });
    this.networks = entries
      .filter((e) => e.ipv4.length < 32)
      .sort((a, b) => b.ipv4.length - a.ipv4.length)
      .map((e) => ({
        ipv4: e.ipv4.addr,
        ipv4Length: e.ipv4.length,
        ipv6: e.ipv6,
        hostMask: ~ipv4Mask(e.ipv4.length) >>> 0,
      }));
  }

  /** True when `addr` belongs to the IPv4 side of some map line (hosts and networks). */
  coversIpv4(addr: number): boolean {
    if (this.by4.get(addr) >= 0) return true;
    return this.entries.some((e) => ipv4InNet(addr, e.ipv4));
  }

  map6to4(addr: Uint8Array, offset: number): number {
    const i = this.by6.get(addr, offset);
    if (i >= 0) return this.hostIpv4[i] ?? -1;
    const nets = this.networks;
    for (let n = 0; n < nets.length; n++) {
      const net = nets[n] as NetworkMap;
      if (ipv6InNet(addr, offset, net.ipv6)) {
        return (net.ipv4 | (readU32(addr, offset + 12) & net.hostMask)) >>> 0;
      }
    }
    return -1;
  }

  map4to6(addr: number, out: Uint8Array, offset: number): boolean {
    const i = this.by4.get(addr);
    if (i >= 0) {
      const src = this.hostIpv6;
      for (let b = 0; b < 16; b++) out[offset + b] = src[i * 16 + b] ?? 0;
      return true;
    }
    const nets = this.networks;
    for (let n = 0; n < nets.length; n++) {
      const net = nets[n] as NetworkMap;
      if ((addr & ~net.hostMask) >>> 0 !== net.ipv4) continue;
      const bytes = net.ipv6.bytes;
      for (let b = 0; b < 16; b++) out[offset + b] = bytes[b] ?? 0;
      const host = addr & net.hostMask;
      out[offset + 12] = (out[offset + 12] ?? 0) | (host >>> 24);
      out[offset + 13] = (out[offset + 13] ?? 0) | ((host >>> 16) & 0xff);
      out[offset + 14] = (out[offset + 14] ?? 0) | ((host >>> 8) & 0xff);
      out[offset + 15] = (out[offset + 15] ?? 0) | (host & 0xff);
      return true;
    }
    return false;
  }
}
