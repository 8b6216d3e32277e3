/**
 * The daemon's AddressMapper (stateless NAT64, Tayga semantics): static `map` lines first,
 * then the translator's own address pair, then the `dynamic-pool`. Addresses inside the
 * NAT64 prefix never reach it (the core derives them with RFC 6052).
 */
import type { AddressMapper } from '../core/types.js';
import type { Nat64dConfig, StaticMapEntry } from '../config/types.js';
import { ipv4InNet } from '../config/addr.js';
import { DynamicPool, DEFAULT_LEASE_SECONDS, type DynamicMapping } from './dynamic-pool.js';
import { StaticMapTable } from './static-maps.js';

export interface MapperCounters {
  /** IPv6 addresses with no IPv4 address (dropped by the core). */
  unmapped6: number;
  /** Packets to a dynamic-pool address that has no mapping (dropped by the core). */
  unmapped4: number;
}

export interface RejectedMapping {
  readonly mapping: DynamicMapping;
  readonly reason: string;
}

export interface MapperOptions {
  readonly leaseSeconds?: number;
  /** Unix seconds at start; the daemon advances it with `tick()`. */
  readonly now?: number;
  /**
   * Count addresses without a mapping (default true). Stateful mode turns it off: there the
   * session tables handle every IPv6 host without a `map` line and count their own drops.
   */
  readonly countUnmapped?: boolean;
}

export class TaygaAddressMapper implements AddressMapper {
  readonly counters: MapperCounters = { unmapped6: 0, unmapped4: 0 };
  readonly dynamic: DynamicPool | null;
  /** Coarse clock in unix seconds, read on the packet path (no Date.now() per packet). */
  now: number;

  private statics: StaticMapTable;
  private readonly ipv4Addr: number;
  private readonly ipv6Addr: Uint8Array;
  private readonly countUnmapped: boolean;

  constructor(config: Nat64dConfig, options: MapperOptions = {}) {
    this.countUnmapped = options.countUnmapped ?? true;
    this.now = options.now ?? Math.floor(Date.now() / 1000);
    this.ipv4Addr = config.ipv4Addr;
    this.ipv6Addr = config.ipv6Addr;
    this.statics = new StaticMapTable(withSelf(config.maps, config));
    const statics = () => this.statics;
    this.dynamic = config.dynamicPool
      ? new DynamicPool(
          config.dynamicPool,
          (addr) => addr === config.ipv4Addr || statics().coversIpv4(addr),
          options.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
        )
      : null;
  }

  tick(now = Math.floor(Date.now() / 1000)): void {
    this.now = now;
  }

  get staticMaps(): readonly StaticMapEntry[] {
    return this.statics.entries;
  }

  /**
   * Replaces the `map` lines (SIGHUP). A dynamic mapping that now collides with a static one
   * stays in the table, but static lines take precedence in every lookup.
   */
  reloadStaticMaps(config: Nat64dConfig): void {
    this.statics = new StaticMapTable(withSelf(config.maps, config));
  }

  map6to4(addr: Uint8Array, offset: number, isSource: boolean): number {
    const s = this.statics.map6to4(addr, offset);
    if (s >= 0) return s;
    const pool = this.dynamic;
    if (pool) {
      const d = isSource
        ? pool.allocate(addr, offset, this.now)
        : pool.lookup6(addr, offset, this.now);
      if (d >= 0) return d;
    }
    if (this.countUnmapped) this.counters.unmapped6++;
    return -1;
  }

  map4to6(addr: number, out: Uint8Array, offset: number): boolean {
    if (this.statics.map4to6(addr, out, offset)) return true;
    const pool = this.dynamic;
    if (pool === null) return false;
    if (pool.lookup4(addr, out, offset, this.now)) return true;
    // Only a pool address without a mapping counts: every IPv4 source from the Internet is
    // looked up here before the prefix embeds it, which is normal traffic.
    if (this.countUnmapped && ((addr ^ pool.net.addr) & pool.mask) >>> 0 === 0)
      this.counters.unmapped4++;
    return false;
  }

  /** Restores saved dynamic mappings; returns how many were dropped because they no longer fit. */
  restore(mappings: readonly DynamicMapping[]): number {
    return this.restoreAll(mappings).length;
  }

  /** Restores saved dynamic mappings; returns those that no longer fit, each with the reason. */
  restoreAll(mappings: readonly DynamicMapping[]): RejectedMapping[] {
    const rejected: RejectedMapping[] = [];
    for (const m of mappings) {
      let reason: string | null;
      if (this.statics.map6to4(m.ipv6, 0) >= 0) reason = 'the IPv6 host is in a map line';
      else if (this.statics.coversIpv4(m.ipv4)) reason = 'the IPv4 address is in a map line';
      else if (!this.dynamic) reason = 'no dynamic-pool';
      else reason = this.dynamic.restoreOrWhy(m.ipv4, m.ipv6, m.lastUse);
      if (reason !== null) rejected.push({ mapping: m, reason });
    }
    return rejected;
  }

  isOwnAddress4(addr: number): boolean {
    return addr === this.ipv4Addr;
  }

  get ownIpv6(): Uint8Array {
    return this.ipv6Addr;
  }
}

/** Tayga maps `ipv4-addr` <-> `ipv6-addr` like a static host map line. */
function withSelf(maps: readonly StaticMapEntry[], config: Nat64dConfig): StaticMapEntry[] {
  const covered = maps.some((m) => ipv4InNet(config.ipv4Addr, m.ipv4));
  if (covered || config.ipv6AddrDerived) return [...maps];
  return [
    ...maps,
    {
      ipv4: { addr: config.ipv4Addr, length: 32 },
      ipv6: { bytes: config.ipv6Addr, length: 128 },
      line: 0,
    },
  ];
}
