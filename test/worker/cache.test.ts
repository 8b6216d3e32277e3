import { describe, expect, it } from 'vitest';
import { edgeCache } from '../../src/cache/edge-cache';
import { Lru } from '../../src/cache/lru';
import { ResponseCache } from '../../src/cache/response-cache';
import { b64url, decode, query, rcode, rows } from '../helpers/dns';
import { harness } from './setup';

/** A harness with a cache on a clock the test moves. */
function cached(shared: ReturnType<typeof edgeCache> | null = null) {
  const clock = { now: 1_700_000_000_000 };
  const cache = new ResponseCache({ now: () => clock.now, shared });
  const h = harness({}, undefined, {}, { cache });
  return { ...h, cache, clock };
}

describe('answer cache', () => {
  it('serves a repeat from the cache with TTLs counted down, its own ID and letter case', async () => {
    const { get, upstream, clock, cache } = cached();
    const first = await get(`/dns-query?dns=${b64url(query('a-only.test', 'AAAA', { id: 1 }))}`);
    expect(first.headers.get('cache-control')).toBe('max-age=300');
    expect(upstream.log).toHaveLength(2);
    clock.now += 100_500;
    const res = await get(`/dns-query?dns=${b64url(query('A-Only.TEST', 'AAAA', { id: 2 }))}`);
    const again = decode(await res.arrayBuffer());
    expect(again.id).toBe(2);
    expect(again.questions).toEqual([{ name: 'A-Only.TEST', type: 'AAAA', class: 'IN' }]);
    // The owner is compressed to a pointer at the question (RFC 1035 sec. 4.1.4), so it reads in
    // the asking client's letter case, as BIND and Unbound answer.
    expect(rows(again.answers)).toEqual([['A-Only.TEST', 'AAAA', 200, '2001:db8:64::cb00:710a']]);
    expect(res.headers.get('cache-control')).toBe('max-age=200');
    expect(upstream.log).toHaveLength(2);
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1 });
  });

  it('asks upstream again once the answer has expired', async () => {
    const { ask, upstream, clock } = cached();
    await ask('a-only.test', 'AAAA');
    clock.now += 300_000;
    const res = await ask('a-only.test', 'AAAA');
    expect(rows(res.answers)[0]?.[2]).toBe(300);
    expect(upstream.log).toHaveLength(4);
  });

  it('caches NXDOMAIN for the SOA negative TTL (RFC 2308), counting the SOA TTL down', async () => {
    const { ask, upstream, clock } = cached();
    await ask('missing.test', 'A');
    clock.now += 60_000;
    const res = await ask('missing.test', 'A');
    expect(rcode(res)).toBe(3);
    expect(rows(res.authorities)[0]?.slice(0, 3)).toEqual(['test', 'SOA', 3540]);
    expect(upstream.log).toHaveLength(1);
    clock.now += 240_000;
    await ask('missing.test', 'A');
    expect(upstream.log).toHaveLength(2);
  });

  it('never caches SERVFAIL', async () => {
    const clock = { now: 1_700_000_000_000 };
    const cache = new ResponseCache({ now: () => clock.now });
    const { ask, upstream } = harness(
      {
        'https://upstream-a.test/dns-query': 'http502',
        'https://upstream-b.test/dns-query': 'http502',
      },
      undefined,
      {},
      { cache },
    );
    expect(rcode(await ask('dual.test', 'A'))).toBe(2);
    expect(rcode(await ask('dual.test', 'A'))).toBe(2);
    expect(upstream.log).toHaveLength(4);
  });

  it('coalesces concurrent misses for one question into one upstream query each', async () => {
    const { get, upstream, cache } = cached();
    const ids = Array.from({ length: 10 }, (_, i) => 100 + i);
    const answers = await Promise.all(
      ids.map(async (id) => {
        const res = await get(`/dns-query?dns=${b64url(query('two.test', 'AAAA', { id }))}`);
        return decode(await res.arrayBuffer());
      }),
    );
    expect(upstream.log.map((l) => l.type).sort()).toEqual(['A', 'AAAA']);
    expect(answers.map((a) => a.id)).toEqual(ids);
    for (const a of answers) expect(rows(a.answers)).toHaveLength(2);
    expect(cache.stats).toMatchObject({ misses: 1, coalesced: 9 });
  });

  it('keeps tenants, prefixes and DNSSEC wishes apart', async () => {
    const { ask, upstream } = cached();
    const one = await ask('a-only.test', 'AAAA', {}, '/p/2001:db8:1::/96/dns-query');
    const two = await ask('a-only.test', 'AAAA', {}, '/p/2001:db8:2::/96/dns-query');
    expect(rows(one.answers)[0]?.[3]).toBe('2001:db8:1::cb00:710a');
    expect(rows(two.answers)[0]?.[3]).toBe('2001:db8:2::cb00:710a');
    const validating = await ask(
      'a-only.test',
      'AAAA',
      { dnssecOk: true, cd: true },
      '/p/2001:db8:1::/96/dns-query',
    );
    expect(validating.answers).toEqual([]);
    // A+AAAA for each prefix, then the AAAA alone for the validating client (no synthesis)
    expect(upstream.log.map((l) => l.type)).toEqual(['AAAA', 'A', 'AAAA', 'A', 'AAAA']);
  });

  it('fills an empty isolate from the Workers Cache API (a POST is cached too)', async () => {
    const edge = edgeCache(await caches.open(`test-${Date.now()}`));
    const writes: Promise<void>[] = [];
    const shared = {
      get: edge.get,
      put: (key: string, entry: Parameters<typeof edge.put>[1]) => {
        const p = edge.put(key, entry);
        writes.push(p);
        return p;
      },
    };
    const first = cached(shared);
    const post = await first.get('/dns-query', {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: query('short.test', 'AAAA', { id: 5 }),
    });
    expect(rows(decode(await post.arrayBuffer()).answers)).toEqual([
      ['short.test', 'AAAA', 120, '2001:db8:64::c633:6407'],
    ]);
    // the shared write happens in the background: wait for it, not for a guessed time
    expect(writes).toHaveLength(1);
    await Promise.all(writes);
    const second = cached(shared);
    second.clock.now = first.clock.now + 20_000;
    const res = await second.ask('short.test', 'AAAA');
    expect(rows(res.answers)).toEqual([['short.test', 'AAAA', 100, '2001:db8:64::c633:6407']]);
    expect(second.upstream.log).toEqual([]);
    expect(second.cache.stats).toMatchObject({ sharedHits: 1, misses: 0 });
  });
});

describe('LRU (src/cache/lru.ts)', () => {
  it('evicts the least recently used entry, keeping one used within the last max/2 moves', () => {
    const lru = new Lru<string, number>(4);
    for (const k of ['a', 'b', 'c', 'd']) lru.set(k, k.charCodeAt(0));
    // 'a' is the oldest (moved 4 moves ago, >= max/2): a hit moves it to the end.
    expect(lru.get('a')).toBe(97);
    lru.set('e', 101);
    expect(lru.get('b')).toBeUndefined();
    expect([lru.get('a'), lru.get('c'), lru.get('d'), lru.get('e')]).toEqual([97, 99, 100, 101]);
    expect(lru.size).toBe(4);
  });

  it('never holds more than max entries, whatever the order of hits and sets', () => {
    const lru = new Lru<number, number>(100);
    const used: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const k = (i * 7919) % 333;
      if (lru.get(k) === undefined) lru.set(k, k);
      used.push(k);
      expect(lru.size).toBeLessThanOrEqual(100);
      // Every key used in the last 50 moves (max/2) is still there.
      if (i % 97 === 0) {
        for (const recent of used.slice(-25)) expect(lru.get(recent)).toBe(recent);
      }
    }
  });

  it('a set replaces the value and counts as a use', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('a', 3);
    lru.set('c', 4);
    expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual([3, undefined, 4]);
  });
});
