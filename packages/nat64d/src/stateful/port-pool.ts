/**
 * The pool4 transport addresses of one protocol: (IPv4 address, port range) pairs with one
 * bit per port. Allocation (RFC 6146 §3.5.1.1, RFC 4787 REQ-2 "paired" pooling):
 *
 * 1. the IPv6 host's address is chosen by a hash of its IPv6 address, so all its mappings
 *    share one IPv4 address while that address has free ports;
 * 2. the source port itself when it lies in a configured range of that address and is free;
 * 3. otherwise a free port of the same parity (even/odd), from a rotating cursor;
 * 4. otherwise any free port of that address; then the next addresses in turn.
 *
 * Work is bounded by the bitmap size (range length / 32 words per range visited).
 */
import { hashStep } from './slot-index.js';

export interface PortRangeSpec {
  readonly addr: number;
  readonly first: number;
  readonly last: number;
}

class PortRange {
  readonly bits: Uint32Array;
  free: number;
  cursor: number;

  constructor(
    readonly addr: number,
    readonly first: number,
    readonly last: number,
    seed: number,
  ) {
    const len = last - first + 1;
    this.bits = new Uint32Array((len + 31) >>> 5);
    this.free = len;
    this.cursor = (seed >>> 0) % this.bits.length;
    // Bits past `last` in the final word are permanently "used".
    const tail = len & 31;
    if (tail !== 0) this.bits[this.bits.length - 1] = ~((1 << tail) - 1);
  }

  has(port: number): boolean {
    return port >= this.first && port <= this.last;
  }

  isFree(port: number): boolean {
    const i = port - this.first;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) === 0;
  }

  take(port: number): void {
    const i = port - this.first;
    this.bits[i >>> 5]! |= 1 << (i & 31);
    this.free--;
  }

  release(port: number): void {
    const i = port - this.first;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
    this.free++;
  }

  /** A free port whose parity is `parity` (0/1), or any parity when parity < 0; -1 if none. */
  search(parity: number): number {
    if (this.free === 0) return -1;
    let pattern = -1;
    if (parity >= 0) pattern = ((this.first ^ parity) & 1) === 0 ? 0x55555555 : 0xaaaaaaaa | 0;
    const bits = this.bits;
    const n = bits.length;
    for (let k = 0; k < n; k++) {
      let w = this.cursor + k;
      if (w >= n) w -= n;
      const avail = ~bits[w]! & pattern;
      if (avail !== 0) {
        const bit = 31 - Math.clz32(avail & -avail);
        this.cursor = w;
        return this.first + (w << 5) + bit;
      }
    }
    return -1;
  }
}

export class PortPool {
  private readonly ranges: PortRange[] = [];
  /** Distinct addresses in configuration order, each with its ranges. */
  private readonly addrs: number[] = [];
  private readonly byAddr = new Map<number, PortRange[]>();
  private total = 0;

  constructor(specs: readonly PortRangeSpec[], seed = 0x2545f491) {
    let s = seed;
    for (const spec of specs) {
      s = hashStep(s, spec.addr ^ spec.first);
      const r = new PortRange(spec.addr >>> 0, spec.first, spec.last, s);
      this.ranges.push(r);
      let list = this.byAddr.get(r.addr);
      if (!list) {
        list = [];
        this.byAddr.set(r.addr, list);
        this.addrs.push(r.addr);
      }
      list.push(r);
      this.total += r.last - r.first + 1;
    }
  }

  /** Number of transport addresses (address, port) in the pool. */
  get size(): number {
    return this.total;
  }

  get freeCount(): number {
    let n = 0;
    for (const r of this.ranges) n += r.free;
    return n;
  }

  get addresses(): readonly number[] {
    return this.addrs;
  }

  hasAddress(addr: number): boolean {
    return this.byAddr.has(addr >>> 0);
  }

  private rangeOf(addr: number, port: number): PortRange | null {
    const list = this.byAddr.get(addr >>> 0);
    if (!list) return null;
    for (const r of list) if (r.has(port)) return r;
    return null;
  }

  /** True when (addr, port) lies in the pool and is free. */
  isFree(addr: number, port: number): boolean {
    const r = this.rangeOf(addr, port);
    return r !== null && r.isFree(port);
  }

  /** Marks a transport address as used (static BIB entries); false if outside the pool or taken. */
  reserve(addr: number, port: number): boolean {
    const r = this.rangeOf(addr, port);
    if (!r || !r.isFree(port)) return false;
    r.take(port);
    return true;
  }

  release(addr: number, port: number): void {
    const r = this.rangeOf(addr, port);
    if (r && !r.isFree(port)) r.release(port);
  }

  /** The address index a host hashing to `hostHash` prefers. */
  preferredAddress(hostHash: number): number {
    return this.addrs.length === 0 ? -1 : (hostHash >>> 0) % this.addrs.length;
  }

  /** Result of `allocate`: the address (port is the return value). */
  allocatedAddr = 0;

  /**
   * Allocates a port for a host preferring address index `pref` and source port `port`.
   * Returns the port (and sets allocatedAddr) or -1 when the pool is exhausted.
   */
  allocate(pref: number, port: number): number {
    const n = this.addrs.length;
    if (n === 0) return -1;
    const parity = port & 1;
    for (let k = 0; k < n; k++) {
      let a = pref + k;
      if (a >= n) a -= n;
      const list = this.byAddr.get(this.addrs[a]!)!;
      if (k === 0) {
        for (const r of list) {
          if (r.has(port) && r.isFree(port)) return this.took(r, port);
        }
      }
      for (const r of list) {
        const p = r.search(parity);
        if (p >= 0) return this.took(r, p);
      }
      for (const r of list) {
        const p = r.search(-1);
        if (p >= 0) return this.took(r, p);
      }
    }
    return -1;
  }

  private took(r: PortRange, port: number): number {
    r.take(port);
    this.allocatedAddr = r.addr;
    return port;
  }

  /** Bytes held by the bitmaps. */
  get byteLength(): number {
    let n = 0;
    for (const r of this.ranges) n += r.bits.byteLength;
    return n;
  }
}
