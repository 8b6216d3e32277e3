/**
 * Tayga's `dynamic-pool`: an IPv6 host that is neither inside the NAT64 prefix nor in a
 * `map` line gets an IPv4 address from the pool the first time it sends a packet.
 *
 * Choices (Tayga semantics, simplified):
 * - The pool's lowest address is reserved; `ipv4-addr` and addresses of `map` lines inside
 *   the pool are taken out of it.
 * - Free addresses are handed out in ascending order from a rotating cursor.
 * - A mapping is never removed while the pool has free addresses: an IPv6 host that comes
 *   back after a long silence finds its old IPv4 address (Tayga's "dormant" entries).
 * - When the pool is full, the least recently used mapping is reused, but only once it has
 *   been idle for the lease (2 h 4 min like Tayga); otherwise allocation fails, the packet
 *   is dropped and `exhausted` is counted.
 * Per-packet lookups are typed-array hash probes and refresh `lastUse`; only the creation of a
 * mapping may allocate (when the tables grow).
 */
import type { Ipv4Net } from '../config/addr.js';
import { Ipv4Table, Ipv6Table } from './hash-tables.js';

/** Tayga's minimum lease: two hours and four minutes after the last packet. */
export const DEFAULT_LEASE_SECONDS = 7200 + 4 * 60;

export interface DynamicPoolCounters {
  /** Mappings created from a free address. */
  allocated: number;
  /** Mappings created by reusing the least recently used idle mapping. */
  reused: number;
  /** Allocations refused: every address mapped and none idle for the lease. */
  exhausted: number;
}

export interface DynamicMapping {
  readonly ipv4: number;
  readonly ipv6: Uint8Array;
  /** Unix time in seconds of the last packet. */
  readonly lastUse: number;
}

export class DynamicPool {
  readonly net: Ipv4Net;
  /** Netmask of `net` (for membership tests). */
  readonly mask: number;
  /** Addresses that can be handed out (pool size minus the reserved and excluded ones). */
  readonly usable: number;
  readonly counters: DynamicPoolCounters = { allocated: 0, reused: 0, exhausted: 0 };
  /** Called after a mapping was created or changed (for persistence). */
  onChange: (() => void) | null = null;
  /**
   * Called when an IPv6 host gets an address: a free one, or (`reused`) the least recently
   * used idle mapping's. For the log; not called by restore().
   */
  onAssign: ((ipv4: number, ipv6: Uint8Array, reused: boolean) => void) | null = null;

  private readonly leaseSeconds: number;
  private readonly isExcluded: (addr: number) => boolean;
  private readonly span: number;
  private cursor = 0;
  private count = 0;
  private ipv4: Uint32Array;
  private ipv6: Uint8Array;
  private lastUse: Float64Array;
  private readonly by6 = new Ipv6Table();
  private readonly by4 = new Ipv4Table();

  constructor(
    net: Ipv4Net,
    isExcluded: (addr: number) => boolean,
    leaseSeconds = DEFAULT_LEASE_SECONDS,
  ) {
    this.net = net;
    this.mask = net.length === 0 ? 0 : (0xffffffff << (32 - net.length)) >>> 0;
    this.isExcluded = isExcluded;
    this.leaseSeconds = leaseSeconds;
    this.span = 2 ** (32 - net.length) - 1; // addresses after the reserved lowest one
    let excluded = 0;
    if (this.span <= 65536) {
      for (let i = 1; i <= this.span; i++) if (isExcluded((net.addr + i) >>> 0)) excluded++;
    }
    this.usable = this.span - excluded;
    const initial = Math.min(this.span, 64);
    this.ipv4 = new Uint32Array(initial);
    this.ipv6 = new Uint8Array(initial * 16);
    this.lastUse = new Float64Array(initial);
  }

  get size(): number {
    return this.count;
  }

  /** The IPv4 address mapped to this IPv6 host, refreshing its use time; -1 if none. */
  lookup6(addr: Uint8Array, offset: number, now: number): number {
    const i = this.by6.get(addr, offset);
    if (i < 0) return -1;
    this.lastUse[i] = now;
    return this.ipv4[i] ?? -1;
  }

  /** Writes the IPv6 host mapped to `addr`, refreshing its use time. */
  lookup4(addr: number, out: Uint8Array, offset: number, now: number): boolean {
    const i = this.by4.get(addr);
    if (i < 0) return false;
    this.lastUse[i] = now;
    const src = this.ipv6;
    for (let b = 0; b < 16; b++) out[offset + b] = src[i * 16 + b] ?? 0;
    return true;
  }

  /** Creates a mapping for an IPv6 host that has none; returns its IPv4 address or -1. */
  allocate(addr: Uint8Array, offset: number, now: number): number {
    const existing = this.lookup6(addr, offset, now);
    if (existing >= 0) return existing;
    const free = this.findFree();
    if (free >= 0) {
      this.add(free, addr, offset, now);
      this.counters.allocated++;
      this.onChange?.();
      this.onAssign?.(free, addr.subarray(offset, offset + 16), false);
      return free;
    }
    const oldest = this.oldestIdle(now);
    if (oldest < 0) {
      this.counters.exhausted++;
      return -1;
    }
    this.by6.delete(this.ipv6, oldest * 16);
    for (let b = 0; b < 16; b++) this.ipv6[oldest * 16 + b] = addr[offset + b] ?? 0;
    this.by6.set(this.ipv6, oldest * 16, oldest);
    this.lastUse[oldest] = now;
    this.counters.reused++;
    this.onChange?.();
    this.onAssign?.(this.ipv4[oldest] ?? 0, addr.subarray(offset, offset + 16), true);
    return this.ipv4[oldest] ?? -1;
  }

  /** Restores a saved mapping; false when it no longer fits (address outside the pool, taken...). */
  restore(ipv4: number, ipv6: Uint8Array, lastUse: number): boolean {
    return this.restoreOrWhy(ipv4, ipv6, lastUse) === null;
  }

  /** Like restore(); returns null when restored, else why the mapping does not fit. */
  restoreOrWhy(ipv4: number, ipv6: Uint8Array, lastUse: number): string | null {
    const rel = (ipv4 - this.net.addr) >>> 0;
    if (rel < 1 || rel > this.span) return 'outside the dynamic-pool';
    if (this.isExcluded(ipv4)) return 'the address is ipv4-addr or in a map line';
    if (this.by4.get(ipv4) >= 0) return 'the IPv4 address is saved twice';
    if (this.by6.get(ipv6, 0) >= 0) return 'the IPv6 host is saved twice';
    this.add(ipv4, ipv6, 0, lastUse);
    return null;
  }

  /** Every mapping, for persistence and inspection (allocates; not for the packet path). */
  mappings(): DynamicMapping[] {
    const out: DynamicMapping[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push({
        ipv4: this.ipv4[i] ?? 0,
        ipv6: this.ipv6.slice(i * 16, i * 16 + 16),
        lastUse: this.lastUse[i] ?? 0,
      });
    }
    return out;
  }

  private add(ipv4: number, addr: Uint8Array, offset: number, now: number): void {
    if (this.count === this.ipv4.length) this.grow();
    const i = this.count++;
    this.ipv4[i] = ipv4;
    for (let b = 0; b < 16; b++) this.ipv6[i * 16 + b] = addr[offset + b] ?? 0;
    this.lastUse[i] = now;
    this.by6.set(this.ipv6, i * 16, i);
    this.by4.set(ipv4, i);
  }

  private grow(): void {
    const cap = Math.min(this.span, this.ipv4.length * 2);
    const ipv4 = new Uint32Array(cap);
    ipv4.set(this.ipv4);
    const ipv6 = new Uint8Array(cap * 16);
    ipv6.set(this.ipv6);
    const lastUse = new Float64Array(cap);
    lastUse.set(this.lastUse);
    this.ipv4 = ipv4;
    this.ipv6 = ipv6;
    this.lastUse = lastUse;
  }

  private findFree(): number {
    if (this.count >= this.usable) return -1;
    for (let n = 0; n < this.span; n++) {
      const rel = 1 + ((this.cursor + n) % this.span);
      const addr = (this.net.addr + rel) >>> 0;
      if (this.by4.get(addr) < 0 && !this.isExcluded(addr)) {
        this.cursor = rel % this.span;
        return addr;
      }
    }
    return -1;
  }

  private oldestIdle(now: number): number {
    let best = -1;
    let bestTime = Infinity;
    for (let i = 0; i < this.count; i++) {
      const t = this.lastUse[i] ?? 0;
      if (t < bestTime) {
        bestTime = t;
        best = i;
      }
    }
    return best >= 0 && now - bestTime >= this.leaseSeconds ? best : -1;
  }
}
