/**
 * An open-addressing hash index (linear probing, backward-shift deletion) whose slots hold
 * only entry numbers: the keys stay in the owner's struct-of-arrays, so an index costs 4 bytes
 * per slot (load factor at most 1/2). The owner supplies the hash of a stored entry and the
 * comparison of a stored entry with the current query (set up by the owner before `find`).
 * Duplicate keys are allowed (`insert` never checks), which the address-dependent filtering
 * index uses: `find` then returns one of them.
 */

const EMPTY = -1;
const MIN_SLOTS = 64;

export interface IndexKeys {
  /** Hash (any int32) of the key of stored entry `entry`. */
  hashOf(entry: number): number;
  /** True when stored entry `entry` has the key of the current query. */
  matches(entry: number): boolean;
}

/** Finalizer of murmur3: spreads an int32. */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Combines a running hash with one more int32 word. */
export function hashStep(h: number, w: number): number {
  return Math.imul(h ^ mix32(w), 0x9e3779b1) + 0x7f4a7c15;
}

export class SlotIndex {
  private slots: Int32Array;
  private mask: number;
  private used = 0;

  constructor(
    private readonly keys: IndexKeys,
    expected = 0,
  ) {
    let n = MIN_SLOTS;
    while (n < expected * 2) n *= 2;
    this.slots = new Int32Array(n).fill(EMPTY);
    this.mask = n - 1;
  }

  get size(): number {
    return this.used;
  }

  /** Bytes held by the slot array. */
  get byteLength(): number {
    return this.slots.byteLength;
  }

  /** An entry matching the current query (hash `hash`), or -1. */
  find(hash: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const e = slots[i]!;
      if (e === EMPTY) return EMPTY;
      if (this.keys.matches(e)) return e;
      i = (i + 1) & mask;
    }
  }

  insert(hash: number, entry: number): void {
    if ((this.used + 1) * 2 > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let i = hash & mask;
    while (slots[i] !== EMPTY) i = (i + 1) & mask;
    slots[i] = entry;
    this.used++;
  }

  /** Removes `entry` (stored under `hash`); false when it is not there. */
  remove(hash: number, entry: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const e = slots[i]!;
      if (e === EMPTY) return false;
      if (e === entry) break;
      i = (i + 1) & mask;
    }
    slots[i] = EMPTY;
    this.used--;
    // Backward shift: pull later members of the probe run into the hole when their home
    // slot is not cyclically inside (hole, j].
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = slots[j]!;
      if (e === EMPTY) return true;
      const home = this.keys.hashOf(e) & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        slots[i] = e;
        slots[j] = EMPTY;
        i = j;
      }
    }
  }

  clear(): void {
    this.slots.fill(EMPTY);
    this.used = 0;
  }

  private grow(): void {
    const old = this.slots;
    const n = old.length * 2;
    const slots = new Int32Array(n).fill(EMPTY);
    const mask = n - 1;
    for (let k = 0; k < old.length; k++) {
      const e = old[k]!;
      if (e === EMPTY) continue;
      let i = this.keys.hashOf(e) & mask;
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = e;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
