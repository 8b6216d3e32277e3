/**
 * (c) CPU per query inside workerd: the worker's app in the Workers runtime itself (vitest's
 * workers pool), with an in-process upstream that answers at once, so the time measured is the
 * worker's own work — routing, parsing, cache, synthesis, encoding — and not a network's.
 * Run: `npm run bench:cpu`. The clock advances during synchronous work in local workerd (it is
 * frozen only on Cloudflare's edge), so wall time per request approximates CPU time per request
 * on an otherwise idle core; medians of several batches. The measured loops use the runtime's
 * own setTimeout, not the test pool's wrapper of it (see nativeTimers).
 */
import { describe, it } from 'vitest';
import { ResponseCache } from '../src/cache/response-cache';
import { createApp } from '../src/doh/app';
import { UpstreamHealth } from '../src/upstream/health';
import { b64url, query } from '../test/helpers/dns';
import { type FakeName, fakeUpstream } from '../test/helpers/fake-upstream';

const ENV = { UPSTREAMS: 'https://up.test/dns-query', DNS64_PREFIX: '2001:db8:64::/96' };
const HITS = 10_000;
const MISSES = 2_000;
const BATCHES = 5;

/** Lets the runtime serve its own I/O (the test runner's connection) between runs of work. */
const breathe = () => new Promise((r) => setTimeout(r, 0));

/**
 * vitest-pool-workers replaces the global setTimeout with a wrapper that captures a stack trace
 * on every call (to spot vitest's own timers); deployed workers have the runtime's setTimeout,
 * which is still on the global scope's prototype. The measured loops use that one.
 */
function nativeTimers(): () => void {
  const scope = globalThis as unknown as { setTimeout: typeof setTimeout };
  const patched = scope.setTimeout;
  const native = (Object.getPrototypeOf(globalThis) as typeof scope).setTimeout;
  scope.setTimeout = native.bind(globalThis) as typeof setTimeout;
  return () => {
    scope.setTimeout = patched;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('CPU per query in workerd', () => {
  it('cache hit and cache miss (AAAA synthesis)', async () => {
    const zone: Record<string, FakeName> = { 'hot.bench.test': { A: ['198.18.0.1'], ttl: 3600 } };
    for (let i = 0; i < MISSES * BATCHES; i++)
      zone[`m${i}.bench.test`] = { A: ['198.18.1.1'], ttl: 3600 };
    const upstream = fakeUpstream(zone, {}, 0);
    const app = createApp({
      fetch: upstream.fetch,
      health: new UpstreamHealth(),
      cache: new ResponseCache({ maxEntries: 100_000 }),
    });
    const hot = `/dns-query?dns=${b64url(query('hot.bench.test', 'AAAA'))}`;
    await app.request(`https://doh.test${hot}`, {}, ENV);

    const restoreTimers = nativeTimers();
    // The runtime builds the Request before the worker runs (and the client encodes the query),
    // so both happen before the clock starts; the worker's fetch handler is what is timed.
    const requests = (paths: readonly string[]) =>
      paths.map((p) => new Request(`https://doh.test${p}`));
    const hit: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const batch = requests(Array.from({ length: HITS }, () => hot));
      await breathe();
      const t0 = performance.now();
      for (const req of batch) await app.fetch(req, ENV);
      hit.push(((performance.now() - t0) * 1000) / HITS);
      await breathe();
    }
    // The fake upstream's own cost (decode, encode with dns-packet), to subtract from a miss.
    const q = query('m0.bench.test', 'A');
    const up: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const t0 = performance.now();
      for (let i = 0; i < MISSES; i++) {
        await (
          await upstream.fetch('https://up.test/dns-query', { method: 'POST', body: q })
        ).arrayBuffer();
      }
      up.push(((performance.now() - t0) * 1000) / MISSES);
      await breathe();
    }
    const miss: number[] = [];
    let n = 0;
    for (let b = 0; b < BATCHES; b++) {
      const batch = requests(
        Array.from(
          { length: MISSES },
          () => `/dns-query?dns=${b64url(query(`m${n++}.bench.test`, 'AAAA'))}`,
        ),
      );
      await breathe();
      const t0 = performance.now();
      for (const req of batch) await app.fetch(req, ENV);
      miss.push(((performance.now() - t0) * 1000) / MISSES);
      await breathe();
    }
    restoreTimers();
    const upstreamPerMiss = 2 * median(up); // a miss asks A and AAAA
    console.log(
      [
        'WORKERD-CPU',
        `hit_us=${median(hit).toFixed(1)}`,
        `miss_us=${median(miss).toFixed(1)}`,
        `miss_minus_fake_upstream_us=${(median(miss) - upstreamPerMiss).toFixed(1)}`,
        `fake_upstream_per_question_us=${median(up).toFixed(1)}`,
      ].join(' '),
    );
  }, 600_000);
});
