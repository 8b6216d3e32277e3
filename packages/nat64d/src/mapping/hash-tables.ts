/**
 * Open-addressing hash tables (linear probing, backward-shift deletion) keyed by raw address
 * bytes, so that lookups on the packet path read typed arrays and allocate nothing. Values
 * are non-negative int32 (an index into the caller's arrays); -1 means "absent".
 */

const EMPTY = -1;
const MIN_CAPACITY = 16;

function capacityFor(entries: number): number {
  let cap = MIN_CAPACITY;
  while (cap < entries * 2) cap *= 2;
  return cap;
}

/** Reads four bytes as a big-endian int32 without allocating. */
function word(a: Uint8Array, o: number): number {
  return ((a[o] ?? 0) << 24) | ((a[o + 1] ?? 0) << 16) | ((a[o + 2] ?? 0) << 8) | (a[o + 3] ?? 0);
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return h ^ (h >>> 16);
}

/** IPv6 address (16 bytes at an offset) -> int32. */
export class Ipv6Table {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private used = 0;

  constructor(expected = 0) {
    const cap = capacityFor(expected);
    this.keys = new Int32Array(cap * 4);
    this.values = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.used;
  }

  private hash(w0: number, w1: number, w2: number, w3: number): number {
    return mix(
      Math.imul(mix(w0 ^ Math.imul(w1, 0x9e3779b1)), 31) ^ mix(w2 ^ Math.imul(w3, 0x85ebca6b)),
    );
  }

  private find(a: Uint8Array, o: number): number {
    const w0 = word(a, o);
    const w1 = word(a, o + 4);
    const w2 = word(a, o + 8);
    const w3 = word(a, o + 12);
    let i = this.hash(w0, w1, w2, w3) & this.mask;
    const keys = this.keys;
    for (;;) {
      if (this.values[i] === EMPTY) return ~i;
      const k = i * 4;
      if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3)
        return i;
      i = (i + 1) & this.mask;
    }
  }

  get(a: Uint8Array, o: number): number {
    const i = this.find(a, o);
    return i < 0 ? EMPTY : (this.values[i] ?? EMPTY);
  }

  set(a: Uint8Array, o: number, value: number): void {
    let i = this.find(a, o);
    if (i >= 0) {
      this.values[i] = value;
      return;
    }
    if ((this.used + 1) * 2 > this.values.length) {
      this.grow();
      i = this.find(a, o);
    }
    i = ~i;
    const k = i * 4;
    this.keys[k] = word(a, o);
    this.keys[k + 1] = word(a, o + 4);
    this.keys[k + 2] = word(a, o + 8);
    this.keys[k + 3] = word(a, o + 12);
    this.values[i] = value;
    this.used++;
  }

  delete(a: Uint8Array, o: number): boolean {
    let i = this.find(a, o);
    if (i < 0) return false;
    this.values[i] = EMPTY;
    this.used--;
    // Backward-shift: move later entries of the probe run into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      if (this.values[j] === EMPTY) return true;
      const k = j * 4;
      const kw = this.keys;
      const home =
        this.hash(kw[k] ?? 0, kw[k + 1] ?? 0, kw[k + 2] ?? 0, kw[k + 3] ?? 0) & this.mask;
      // Is `home` cyclically outside (i, j]? Then the entry may move to i.
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        kw.copyWithin(i * 4, k, k + 4);
        this.values[i] = this.values[j] ?? EMPTY;
        this.values[j] = EMPTY;
        i = j;
      }
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldValues.length * 2;
    this.keys = new Int32Array(cap * 4);
    this.values = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.used = 0;
    const tmp = new Uint8Array(16);
    const view = new DataView(tmp.buffer);
    for (let i = 0; i < oldValues.length; i++) {
      const v = oldValues[i] ?? EMPTY;
      if (v === EMPTY) continue;
      for (let w = 0; w < 4; w++) view.setInt32(w * 4, oldKeys[i * 4 + w] ?? 0);
      this.set(tmp, 0, v);
    }
  }
}

/** IPv4 address (unsigned 32-bit) -> int32. */
export class Ipv4Table {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private used = 0;

  constructor(expected = 0) {
    const cap = capacityFor(expected);
    this.keys = new Int32Array(cap);
    this.values = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.used;
  }

  private find(addr: number): number {
    const key = addr | 0;
    let i = mix(key) & this.mask;
    for (;;) {
      if (this.values[i] === EMPTY) return ~i;
      if (this.keys[i] === key) return i;
      i = (i + 1) & this.mask;
    }
  }

  get(addr: number): number {
    const i = this.find(addr);
    return i < 0 ? EMPTY : (this.values[i] ?? EMPTY);
  }

  set(addr: number, value: number): void {
    let i = this.find(addr);
    if (i >= 0) {
      this.values[i] = value;
      return;
    }
    if ((this.used + 1) * 2 > this.values.length) {
      this.grow();
      i = this.find(addr);
    }
    i = ~i;
    this.keys[i] = addr | 0;
    this.values[i] = value;
    this.used++;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldValues.length * 2;
    this.keys = new Int32Array(cap);
    this.values = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.used = 0;
    for (let i = 0; i < oldValues.length; i++) {
      const v = oldValues[i] ?? EMPTY;
      if (v !== EMPTY) this.set(oldKeys[i] ?? 0, v);
    }
  }
}
