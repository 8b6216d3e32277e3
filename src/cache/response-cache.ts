import { type Asker, type CachedAnswer, isFresh, materialize, toCacheEntry } from './entry';
import { Lru } from './lru';

/** A second, shared layer behind the in-isolate LRU: the Workers Cache API on the edge. */
export interface SharedCache {
  get(key: string): Promise<CachedAnswer | null>;
  put(key: string, entry: CachedAnswer): Promise<void>;
}

export interface CacheStats {
  hits: number;
  sharedHits: number;
  misses: number;
  coalesced: number;
}

export interface ResponseCacheOptions {
  readonly maxEntries?: number;
  readonly now?: () => number;
  readonly shared?: SharedCache | null;
}

/**
 * Answers by key: the in-isolate LRU for hot names, then the shared cache, then one computation
 * however many clients ask at once (request coalescing). Only NOERROR/NXDOMAIN answers with a
 * positive lifetime are kept; each client gets its own copy with its ID and TTLs counted down.
 */
export class ResponseCache {
  private readonly lru: Lru<string, CachedAnswer>;
  private readonly inFlight = new Map<string, Promise<CachedAnswer | Uint8Array>>();
  private readonly now: () => number;
  private readonly shared: SharedCache | null;
  readonly stats: CacheStats = { hits: 0, sharedHits: 0, misses: 0, coalesced: 0 };

  constructor(opts: ResponseCacheOptions = {}) {
    this.lru = new Lru(opts.maxEntries ?? 10_000);
    this.now = opts.now ?? Date.now;
    this.shared = opts.shared ?? null;
  }

  /** The fresh in-memory answer for `key`, or null; no upstream, no shared cache. */
  peek(key: string, asker: Asker): Uint8Array | null {
    const now = this.now();
    const hot = this.lru.get(key);
    if (!hot || !isFresh(hot, now)) return null;
    this.stats.hits++;
    return materialize(hot, asker, now);
  }

  /**
   * The answer for `key` when peek() had none: from the shared cache, or the result of `compute`
   * (run once for all concurrent askers of the same key). `defer` keeps a background write to
   * the shared cache alive (waitUntil).
   */
  async fill(
    key: string,
    asker: Asker,
    compute: () => Promise<Uint8Array>,
    defer: (p: Promise<unknown>) => void = () => {},
  ): Promise<Uint8Array> {
    let pending = this.inFlight.get(key);
    if (pending) {
      this.stats.coalesced++;
    } else {
      pending = this.load(key, compute, defer);
      this.inFlight.set(key, pending);
      void pending.finally(() => this.inFlight.delete(key)).catch(() => {});
    }
    const result = await pending;
    if (!(result instanceof Uint8Array)) return materialize(result, asker, this.now());
    const copy = new Uint8Array(result);
    copy[0] = asker.id >> 8;
    copy[1] = asker.id & 0xff;
    return copy;
  }

  private async load(
    key: string,
    compute: () => Promise<Uint8Array>,
    defer: (p: Promise<unknown>) => void,
  ): Promise<CachedAnswer | Uint8Array> {
    const fromShared = this.shared ? await this.shared.get(key).catch(() => null) : null;
    if (fromShared && isFresh(fromShared, this.now())) {
      this.stats.sharedHits++;
      this.lru.set(key, fromShared);
      return fromShared;
    }
    this.stats.misses++;
    const bytes = await compute();
    const entry = toCacheEntry(bytes, this.now());
    if (!entry) return bytes;
    if (entry.lifetime > 0) {
      this.lru.set(key, entry);
      if (this.shared) defer(this.shared.put(key, entry).catch(() => {}));
    }
    return entry;
  }

  /** Answers held in memory. */
  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}
