/**
 * Session counts per IPv6 host (for `max-sessions-per-host`), shared by the three protocol
 * tables. Struct-of-arrays with a free list; an entry is dropped when its count reaches 0.
 */
import { SlotIndex, hashStep, type IndexKeys } from './slot-index.js';

function word(a: Uint8Array, o: number): number {
  return (a[o]! << 24) | (a[o + 1]! << 16) | (a[o + 2]! << 8) | a[o + 3]!;
}

export function hashIpv6(a: Uint8Array, o: number): number {
  return hashStep(
    hashStep(hashStep(hashStep(0x6a09e667, word(a, o)), word(a, o + 4)), word(a, o + 8)),
    word(a, o + 12),
  );
}

export class HostTable {
  private addr = new Int32Array(0);
  private count = new Int32Array(0);
  private capacity = 0;
  private freeHead = -1;
  private live = 0;
  private readonly index: SlotIndex;
  private q0 = 0;
  private q1 = 0;
  private q2 = 0;
  private q3 = 0;

  constructor() {
    const keys: IndexKeys = {
      hashOf: (e) => this.hashEntry(e),
      matches: (e) => {
        const k = e * 4;
        const a = this.addr;
        return (
          a[k] === this.q0 && a[k + 1] === this.q1 && a[k + 2] === this.q2 && a[k + 3] === this.q3
        );
      },
    };
    this.index = new SlotIndex(keys);
    this.grow();
  }

  get size(): number {
    return this.live;
  }

  get byteLength(): number {
    return this.addr.byteLength + this.count.byteLength + this.index.byteLength;
  }

  private hashEntry(e: number): number {
    const a = this.addr;
    const k = e * 4;
    return hashStep(
      hashStep(hashStep(hashStep(0x6a09e667, a[k]!), a[k + 1]!), a[k + 2]!),
      a[k + 3]!,
    );
  }

  /** The host entry of src[off..off+16), or -1 when it has no session. */
  find(src: Uint8Array, off: number): number {
    this.q0 = word(src, off);
    this.q1 = word(src, off + 4);
    this.q2 = word(src, off + 8);
    this.q3 = word(src, off + 12);
    return this.index.find(hashIpv6(src, off));
  }

  /** Sessions of host entry `h` (0 for -1). */
  sessions(h: number): number {
    return h < 0 ? 0 : this.count[h]!;
  }

  /** The entry of src (created with count 0 when absent). */
  acquire(src: Uint8Array, off: number): number {
    const found = this.find(src, off);
    if (found >= 0) return found;
    if (this.freeHead < 0) this.grow();
    const h = this.freeHead;
    this.freeHead = this.count[h]!;
    const k = h * 4;
    this.addr[k] = this.q0;
    this.addr[k + 1] = this.q1;
    this.addr[k + 2] = this.q2;
    this.addr[k + 3] = this.q3;
    this.count[h] = 0;
    this.index.insert(hashIpv6(src, off), h);
    this.live++;
    return h;
  }

  increment(h: number): void {
    this.count[h]!++;
  }

  /** One session fewer; the entry is freed at zero. */
  decrement(h: number): void {
    const n = this.count[h]! - 1;
    this.count[h] = n;
    if (n > 0) return;
    this.index.remove(this.hashEntry(h), h);
    this.count[h] = this.freeHead;
    this.freeHead = h;
    this.live--;
  }

  private grow(): void {
    const old = this.capacity;
    const cap = old === 0 ? 256 : old * 2;
    const addr = new Int32Array(cap * 4);
    addr.set(this.addr);
    const count = new Int32Array(cap);
    count.set(this.count);
    for (let i = cap - 1; i >= old; i--) {
      count[i] = this.freeHead;
      this.freeHead = i;
    }
    this.addr = addr;
    this.count = count;
    this.capacity = cap;
  }
}
