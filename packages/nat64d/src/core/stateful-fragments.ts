/**
 * Fragments of stateful NAT64 traffic (RFC 6146 §3.4: the NAT64 MUST handle fragments).
 * Only a datagram's first fragment carries its ports, so it goes through the session tables
 * as usual, and the translation it got (the pool4 address for IPv6 -> IPv4, the IPv6 host for
 * IPv4 -> IPv6) is remembered under the fragment identity (source, destination, Identification,
 * protocol) for FRAGMENT_MIN (2 s, RFC 6146 §4). The other fragments carry no ports and are
 * translated with that address alone. A fragment that arrives before its first is held, a
 * copy, until the first one comes (then translated right after it) or the 2 s pass (dropped,
 * counted). No reassembly: fragments leave as they came (split further only to fit the MTU).
 *
 * Memory is fixed at construction, typed arrays only: RECORDS datagrams (4-way set
 * associative) with at most RECORDS_PER_HOST per IPv6 host, and HELD fragment slots of one
 * TUN packet each with at most HELD_PER_HOST per source address. Hosts are counted by a hash
 * bucket, so a host sharing a bucket with another may be refused a little early, never late.
 */
import { rd32, wr32 } from './bytes.js';
import type { Counters } from './counters.js';

/** RFC 6146 §4 FRAGMENT_MIN: how long fragments of one datagram are waited for. */
export const FRAGMENT_TIMEOUT_MS = 2000;
export const RECORDS = 4096;
export const RECORDS_PER_HOST = 64;
export const HELD = 256;
export const HELD_PER_HOST = 16;

const WAYS = 4;
const KEY_LEN = 40; // family, protocol, 2 spare, id (4), source (16), destination (16)
const HOST_BUCKETS = 4096;

/** FNV-1a over key bytes, finished with a multiply for spread. */
function hashBytes(b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i]!, 0x01000193);
  return Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
}

export class StatefulFragments {
  /** The key of the packet being looked at (built by key6 / key4). */
  private readonly key = new Uint8Array(KEY_LEN);
  private readonly keys = new Uint8Array(RECORDS * KEY_LEN);
  private readonly values = new Uint8Array(RECORDS * 16);
  private readonly expires = new Float64Array(RECORDS);
  private readonly recordHost = new Uint16Array(RECORDS);
  private readonly hostRecords = new Uint16Array(HOST_BUCKETS);

  private readonly heldKeys = new Uint8Array(HELD * KEY_LEN);
  private readonly heldData: Uint8Array;
  private readonly heldLen = new Uint32Array(HELD);
  private readonly heldExpires = new Float64Array(HELD);
  private readonly heldHost = new Uint16Array(HELD);
  private readonly hostHeld = new Uint16Array(HOST_BUCKETS);
  private heldCount = 0;
  private readonly addr4 = new Uint8Array(4);

  constructor(
    private readonly slotSize: number,
    private readonly clock: () => number,
    private readonly counters: Counters,
  ) {
    this.heldData = new Uint8Array(HELD * slotSize);
  }

  /** Sets the current key to an IPv6 fragment's identity (addresses from the packet). */
  key6(pkt: Uint8Array, id: number, proto: number): void {
    const k = this.key;
    k[0] = 6;
    k[1] = proto;
    k[4] = id >>> 24;
    k[5] = (id >>> 16) & 0xff;
    k[6] = (id >>> 8) & 0xff;
    k[7] = id & 0xff;
    for (let i = 0; i < 32; i++) k[8 + i] = pkt[8 + i]!;
  }

  /** Sets the current key to an IPv4 fragment's identity. */
  key4(pkt: Uint8Array): void {
    const k = this.key;
    k.fill(0);
    k[0] = 4;
    k[1] = pkt[9]!;
    k[6] = pkt[4]!;
    k[7] = pkt[5]!;
    for (let i = 0; i < 4; i++) {
      k[8 + i] = pkt[12 + i]!;
      k[24 + i] = pkt[16 + i]!;
    }
  }

  private sameKey(store: Uint8Array, slot: number): boolean {
    const k = this.key;
    const o = slot * KEY_LEN;
    for (let i = 0; i < KEY_LEN; i++) if (store[o + i] !== k[i]) return false;
    return true;
  }

  private find(now: number): number {
    const set = (hashBytes(this.key, 0, KEY_LEN) % (RECORDS / WAYS)) * WAYS;
    for (let s = set; s < set + WAYS; s++) {
      if (this.expires[s]! > now && this.sameKey(this.keys, s)) return s;
    }
    return -1;
  }

  /**
   * Remembers `value[off..off+len)` (a pool4 address or an IPv6 host) for the current key,
   * owned by the IPv6 host at host[hostOff..+16). False when the table or the host's share is
   * full (the datagram's other fragments will then be dropped).
   */
  record(value: Uint8Array, off: number, len: number, host: Uint8Array, hostOff: number): boolean {
    const now = this.clock();
    let slot = this.find(now);
    if (slot < 0) {
      const bucket = hashBytes(host, hostOff, 16) % HOST_BUCKETS;
      if (this.hostRecords[bucket]! >= RECORDS_PER_HOST) {
        // The count may include records that expired since: reclaim them, at most every
        // 100 ms (a host at its limit cannot make every packet scan the table).
        if (now - this.lastSweep < 100) return false;
        this.sweep(now);
        if (this.hostRecords[bucket]! >= RECORDS_PER_HOST) return false;
      }
      const set = (hashBytes(this.key, 0, KEY_LEN) % (RECORDS / WAYS)) * WAYS;
      for (let s = set; s < set + WAYS && slot < 0; s++) if (this.expires[s]! <= now) slot = s;
      if (slot < 0) return false;
      if (this.expires[slot]! !== 0) this.hostRecords[this.recordHost[slot]!]!--;
      this.keys.set(this.key, slot * KEY_LEN);
      this.recordHost[slot] = bucket;
      this.hostRecords[bucket]!++;
    }
    for (let i = 0; i < len; i++) this.values[slot * 16 + i] = value[off + i]!;
    this.expires[slot] = now + FRAGMENT_TIMEOUT_MS;
    return true;
  }

  private lastSweep = -Infinity;

  /** Frees every expired record and its host's count. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (let s = 0; s < RECORDS; s++) {
      const e = this.expires[s]!;
      if (e !== 0 && e <= now) {
        this.hostRecords[this.recordHost[s]!]!--;
        this.expires[s] = 0;
      }
    }
  }

  /** record() of a pool4 address for the current key (IPv6 -> IPv4). */
  recordAddr4(addr4: number, host: Uint8Array, hostOff: number): boolean {
    wr32(this.addr4, 0, addr4);
    return this.record(this.addr4, 0, 4, host, hostOff);
  }

  /** The IPv4 address remembered for the current key, or -1. */
  lookupAddr4(): number {
    const slot = this.find(this.clock());
    return slot < 0 ? -1 : rd32(this.values, slot * 16);
  }

  /** Writes the IPv6 host remembered for the current key at out[off..off+16); false if none. */
  lookupHost6(out: Uint8Array, off: number): boolean {
    const slot = this.find(this.clock());
    if (slot < 0) return false;
    for (let i = 0; i < 16; i++) out[off + i] = this.values[slot * 16 + i]!;
    return true;
  }

  /**
   * Holds a copy of a fragment that came before its first (current key, source address at
   * pkt[srcOff..srcOff+srcLen)). False when it cannot be held: no free slot, the source's share
   * used up, or larger than a slot.
   */
  hold(pkt: Uint8Array, srcOff: number, srcLen: number): boolean {
    if (pkt.length > this.slotSize) return false;
    const now = this.clock();
    const bucket = hashBytes(pkt, srcOff, srcLen) % HOST_BUCKETS;
    let free = -1;
    for (let s = 0; s < HELD; s++) {
      if (this.heldLen[s] !== 0 && this.heldExpires[s]! <= now) this.release(s, true);
      if (free < 0 && this.heldLen[s] === 0) free = s;
    }
    if (free < 0 || this.hostHeld[bucket]! >= HELD_PER_HOST) return false;
    this.heldKeys.set(this.key, free * KEY_LEN);
    this.heldData.set(pkt, free * this.slotSize);
    this.heldLen[free] = pkt.length;
    this.heldExpires[free] = now + FRAGMENT_TIMEOUT_MS;
    this.heldHost[free] = bucket;
    this.hostHeld[bucket]!++;
    this.heldCount++;
    return true;
  }

  private release(s: number, expired: boolean): void {
    this.heldLen[s] = 0;
    this.hostHeld[this.heldHost[s]!]!--;
    this.heldCount--;
    if (expired) this.counters.dropStatefulFragmentTimeout++;
  }

  /**
   * Calls `each` with every held fragment of the current key (a view valid during the call),
   * in arrival order of their slots, and frees them. The key is kept across the calls.
   */
  releaseHeld(each: (pkt: Uint8Array) => void): void {
    if (this.heldCount === 0) return;
    const now = this.clock();
    const saved = this.heldKeysScratch;
    saved.set(this.key);
    for (let s = 0; s < HELD; s++) {
      if (this.heldLen[s] === 0) continue;
      if (this.heldExpires[s]! <= now) {
        this.release(s, true);
        continue;
      }
      this.key.set(saved);
      if (!this.sameKey(this.heldKeys, s)) continue;
      const at = s * this.slotSize;
      const view = this.heldData.subarray(at, at + this.heldLen[s]!);
      this.release(s, false);
      each(view);
    }
    this.key.set(saved);
  }

  private readonly heldKeysScratch = new Uint8Array(KEY_LEN);

  /** Fragments held now (for tests and metrics). */
  get held(): number {
    return this.heldCount;
  }
}
