import { createApp } from '../../src/doh/app';
import { UpstreamHealth } from '../../src/upstream/health';
import type { ResponseCache } from '../../src/cache/response-cache';
import { type Fault, type FakeName, fakeUpstream } from '../helpers/fake-upstream';
import { b64url, decode, query, type QueryOptions } from '../helpers/dns';

export const UP_A = 'https://upstream-a.test/dns-query';
export const UP_B = 'https://upstream-b.test/dns-query';

/** The zone every worker test resolves against (documentation addresses only). */
export const ZONE: Record<string, FakeName> = {
  'a-only.test': { A: ['203.0.113.10'], ttl: 1000 },
  'short.test': { A: ['198.51.100.7'], ttl: 120 },
  'two.test': { A: ['192.0.2.1', '192.0.2.2'], ttl: 1000 },
  'dual.test': { A: ['192.0.2.5'], AAAA: ['2001:db8:1::5'] },
  'mapped.test': { A: ['192.0.2.6'], AAAA: ['::ffff:192.0.2.6'] },
  'mixed.test': { A: ['192.0.2.7'], AAAA: ['::ffff:192.0.2.7', '2001:db8:1::7'] },
  'www.chain.test': { CNAME: 'mid.chain.test', ttl: 900 },
  'mid.chain.test': { CNAME: 'a-only.test', ttl: 800 },
  'public.test': { A: ['9.9.9.9'], ttl: 1000 },
  'v6fail.test': { A: ['192.0.2.8'], rcode: { AAAA: 'SERVFAIL' } },
  'v6slow.test': { A: ['192.0.2.9'], ttl: 5000, fault: { AAAA: 'hang' } },
  'signed.test': { A: ['192.0.2.10'], ad: true },
  'noaddr.test': { PTR: 'x.test' },
  'extra.test': {
    A: ['192.0.2.11'],
    additional: [{ type: 'TXT', name: 'extra.test', ttl: 60, class: 'IN', data: 'hello' }],
  },
  '10.113.0.203.in-addr.arpa': { PTR: 'a-only.test', ttl: 700 },
};

export const ENV = {
  UPSTREAMS: `${UP_A},${UP_B}`,
  DNS64_PREFIX: '2001:db8:64::/96',
  UPSTREAM_TIMEOUT_MS: '300',
};

export function harness(
  faults: Record<string, Fault> = {},
  zone = ZONE,
  extraEnv: Record<string, unknown> = {},
  options: { cache?: ResponseCache } = {},
) {
  const upstream = fakeUpstream(zone, faults);
  // No cache unless a test asks for one: most tests watch what reaches the upstream.
  const app = createApp({
    fetch: upstream.fetch,
    health: new UpstreamHealth(),
    cache: options.cache ?? null,
  });
  const get = (path: string, init?: RequestInit) =>
    app.request(`https://doh.test${path}`, init, { ...ENV, ...extraEnv });
  /** Asks over GET and decodes the DNS answer (asserting HTTP 200). */
  const ask = async (name: string, type: string, opts: QueryOptions = {}, base = '/dns-query') => {
    const res = await get(`${base}?dns=${b64url(query(name, type, opts))}`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    return decode(await res.arrayBuffer());
  };
  return { app, upstream, get, ask };
}
