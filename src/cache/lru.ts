/**
 * A least-recently-used map of at most `max` entries. A Map keeps insertion order, so its first
 * key is the oldest. Moving an entry to the end on every hit (delete, then set) costs more than
 * the lookup itself, so a hit moves it only when it has left the newest half of the order: each
 * entry remembers the move count when it was last put at the end, and the order changes by one
 * per move. An entry used within the last max/2 moves is therefore never the one evicted, and
 * a cache whose hot set fits in it answers hits with one Map lookup.
 */
interface Slot<V> {
  value: V;
  /** `moves` when this entry was last put at the end of the order. */
  at: number;
}

export class Lru<K, V> {
  private readonly map = new Map<K, Slot<V>>();
  private moves = 0;
  private readonly fresh: number;

  constructor(private readonly max: number) {
    this.fresh = Math.max(1, Math.floor(max / 2));
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (this.moves - slot.at >= this.fresh) {
      this.map.delete(key);
      slot.at = ++this.moves;
      this.map.set(key, slot);
    }
    return slot.value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, at: ++this.moves });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
