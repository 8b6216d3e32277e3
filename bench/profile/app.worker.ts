/**
 * The worker that `npm run bench:profile` runs in `wrangler dev`: GET /?mode=miss&n=3000 answers
 * n never-seen names (or, with mode=hit, n hits on one name) through the resolver's app with the
 * in-process fake upstream, and returns microseconds per query. The Requests are built before the
 * clock starts, as in bench/workerd-cpu.bench.ts.
 */
import { ResponseCache } from '../../src/cache/response-cache';
import { createApp } from '../../src/doh/app';
import { UpstreamHealth } from '../../src/upstream/health';
import { b64url, query } from '../../test/helpers/dns';
import { type FakeName, fakeUpstream } from '../../test/helpers/fake-upstream';

const ENV = { UPSTREAMS: 'https://up.test/dns-query', DNS64_PREFIX: '2001:db8:64::/96' };
const NAMES = 200_000;
const zone: Record<string, FakeName> = { 'hot.bench.test': { A: ['198.18.0.1'], ttl: 3600 } };
for (let i = 0; i < NAMES; i++) zone[`m${i}.bench.test`] = { A: ['198.18.1.1'], ttl: 3600 };
const upstream = fakeUpstream(zone, {}, 0);
const app = createApp({
  fetch: upstream.fetch,
  health: new UpstreamHealth(),
  cache: new ResponseCache({ maxEntries: NAMES + 10 }),
});
let next = 0;

export default {
  async fetch(req: Request): Promise<Response> {
    const params = new URL(req.url).searchParams;
    const n = Math.min(Number(params.get('n') ?? '2000') || 2000, 20_000);
    const hit = params.get('mode') === 'hit';
    if (!hit && next + n > NAMES) return new Response('out of names\n', { status: 503 });
    const name = () => (hit ? 'hot.bench.test' : `m${next++}.bench.test`);
    const batch = Array.from(
      { length: n },
      () => new Request(`https://doh.test/dns-query?dns=${b64url(query(name(), 'AAAA'))}`),
    );
    const t0 = performance.now();
    for (const r of batch) await app.fetch(r, ENV);
    return new Response(`${(((performance.now() - t0) * 1000) / n).toFixed(1)}\n`);
  },
};
