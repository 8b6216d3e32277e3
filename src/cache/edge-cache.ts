import { entryFrom } from './entry';
import type { SharedCache } from './response-cache';

/** Synthetic URLs for the Cache API: GET keys, so POST queries are cached too. */
const ORIGIN = 'https://dns64-cache.invalid/';
const STORED_AT = 'x-dns64-stored-at';

/**
 * The Workers Cache API (`caches.default`) as the shared layer: the data center's cache, shared
 * by every isolate there. It works only on a custom domain (and in `wrangler dev`).
 */
export function edgeCache(cache: Cache): SharedCache {
  return {
    async get(key) {
      const res = await cache.match(new Request(ORIGIN + encodeURIComponent(key)));
      if (!res) return null;
      const storedAt = Number(res.headers.get(STORED_AT));
      const lifetime = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]);
      if (!Number.isFinite(storedAt) || !Number.isFinite(lifetime)) return null;
      return entryFrom(new Uint8Array(await res.arrayBuffer()), storedAt, lifetime);
    },
    async put(key, entry) {
      await cache.put(
        new Request(ORIGIN + encodeURIComponent(key)),
        new Response(entry.bytes, {
          headers: {
            'content-type': 'application/dns-message',
            'cache-control': `max-age=${entry.lifetime}`,
            [STORED_AT]: String(entry.storedAt),
          },
        }),
      );
    },
  };
}

/** `caches.default` where the runtime has it (Workers, workerd), else null (Node). */
export function defaultEdgeCache(): SharedCache | null {
  const storage = (globalThis as { caches?: CacheStorage & { default?: Cache } }).caches;
  return storage?.default ? edgeCache(storage.default) : null;
}
