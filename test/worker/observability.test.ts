import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/doh/app';
import { ResponseCache } from '../../src/cache/response-cache';
import type { Logger } from '../../src/obs/log';
import { ObservedHealth } from '../../src/obs/observed-health';
import { b64url, decode, query, rcode } from '../helpers/dns';
import { fakeUpstream } from '../helpers/fake-upstream';
import { ENV, UP_A, UP_B, ZONE, harness } from './setup';

/**
 * The worker's observability in workerd: the query log through console (Workers Logs), one
 * Analytics Engine data point per query (a fake dataset binding that records writeDataPoint),
 * admin audit lines, upstream failure and health lines.
 */

/** A stand-in for an Analytics Engine dataset binding. */
function fakeDataset() {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p ?? {}) };
}

/** console.log/warn/error lines parsed as JSON, while `fn` runs. */
function captureConsole() {
  const lines: Record<string, unknown>[] = [];
  const keep = (text: unknown) => {
    try {
      lines.push(JSON.parse(String(text)) as Record<string, unknown>);
    } catch {
      // not a log line of ours
    }
  };
  vi.spyOn(console, 'log').mockImplementation(keep);
  vi.spyOn(console, 'warn').mockImplementation(keep);
  vi.spyOn(console, 'error').mockImplementation(keep);
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
});

function withoutTime(l: Record<string, unknown>) {
  const { time, ms, ...rest } = l;
  expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  if (ms !== undefined) expect(typeof ms).toBe('number');
  return rest;
}

describe('Analytics Engine and the query log', () => {
  it('records one data point per query, tenant as index, no names or addresses', async () => {
    const dataset = fakeDataset();
    const { get } = harness(
      {},
      ZONE,
      { ...env, ...ENV, QUERY_ANALYTICS: dataset },
      {
        cache: new ResponseCache(),
      },
    );
    const ask = async (name: string, type: string, path = '/dns-query') => {
      const res = await get(`${path}?dns=${b64url(query(name, type))}`, {
        headers: { 'cf-connecting-ip': '198.51.100.77' },
      });
      return res;
    };
    expect((await ask('a-only.test', 'AAAA')).status).toBe(200);
    expect((await ask('a-only.test', 'AAAA')).status).toBe(200);
    const nx = await ask('missing.test', 'A');
    expect(rcode(decode(await nx.arrayBuffer()))).toBe(3);
    expect((await ask('dual.test', 'AAAA', '/p/2001:db8:99::/96/dns-query')).status).toBe(200);
    expect((await ask('a-only.test', 'AAAA', '/t/nobody/dns-query')).status).toBe(404);

    const ms = dataset.points.map((p) => p.doubles![0]!);
    for (const m of ms) expect(m).toBeGreaterThanOrEqual(0);
    expect(dataset.points.map((p) => ({ ...p, doubles: p.doubles!.slice(1) }))).toEqual([
      {
        indexes: ['(default)'],
        blobs: ['(default)', 'AAAA', 'NOERROR', 'synthesized', 'miss', 'doh'],
        doubles: [1, 0],
      },
      {
        indexes: ['(default)'],
        blobs: ['(default)', 'AAAA', 'NOERROR', 'synthesized', 'hit', 'doh'],
        doubles: [1, 1],
      },
      {
        indexes: ['(default)'],
        blobs: ['(default)', 'A', 'NXDOMAIN', '', 'miss', 'doh'],
        doubles: [0, 0],
      },
      {
        indexes: ['(default)'],
        blobs: ['(default)', 'AAAA', 'NOERROR', '', 'miss', 'doh'],
        doubles: [0, 0],
      },
      {
        indexes: ['nobody'],
        blobs: ['nobody', '', 'unknown-tenant', '', 'miss', 'doh'],
        doubles: [0, 0],
      },
    ]);
    expect(JSON.stringify(dataset.points)).not.toMatch(/a-only|198\.51/);
  });

  it('QUERY_LOG writes one JSON line per query to console, the client shortened', async () => {
    const lines = captureConsole();
    const { get } = harness({}, ZONE, { QUERY_LOG: '1' }, { cache: new ResponseCache() });
    for (const client of ['2001:db8:1:2ff::1', '198.51.100.77']) {
      const res = await get(`/dns-query?dns=${b64url(query('two.test', 'AAAA'))}`, {
        headers: { 'cf-connecting-ip': client },
      });
      expect(res.status).toBe(200);
    }
    const common = {
      level: 'info',
      msg: 'query',
      tenant: null,
      transport: 'doh',
      name: 'two.test.',
      type: 'AAAA',
      rcode: 'NOERROR',
      synthesized: true,
    };
    expect(lines.map(withoutTime)).toEqual([
      { ...common, client: '2001:db8:1:200::/56', cacheHit: false, upstream: UP_A },
      { ...common, client: '198.51.100.0/24', cacheHit: true, upstream: null },
    ]);
  });

  it('QUERY_LOG_FULL_IP keeps whole addresses; no QUERY_LOG, no lines', async () => {
    const lines = captureConsole();
    const full = harness({}, ZONE, { QUERY_LOG: 'true', QUERY_LOG_FULL_IP: '1' });
    await full.get(`/dns-query?dns=${b64url(query('a-only.test', 'A'))}`, {
      headers: { 'cf-connecting-ip': '2001:db8:1:2ff::1' },
    });
    const quiet = harness();
    await quiet.get(`/dns-query?dns=${b64url(query('a-only.test', 'A'))}`);
    expect(lines.map((l) => l.client)).toEqual(['2001:db8:1:2ff::1']);
  });
});

describe('worker logs', () => {
  const TOKEN = 'worker-admin-token-never-logged';
  const KEY = 'worker-tenant-key-never-logged';

  it('writes an admin audit line: tenant, fields changed, client; a queryLog tenant is logged', async () => {
    const lines = captureConsole();
    const { get } = harness({}, ZONE, { ...env, ...ENV, ADMIN_TOKEN: TOKEN });
    const put = (record: unknown) =>
      get('/admin/tenants/audited', {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          'cf-connecting-ip': '203.0.113.5',
        },
        body: JSON.stringify(record),
      });
    expect((await put({ prefixes: ['2001:db8:ad::/96'], key: KEY })).status).toBe(201);
    expect((await put({ prefixes: ['2001:db8:ad::/96'], key: KEY, queryLog: true })).status).toBe(
      200,
    );
    const res = await get(`/t/audited/${KEY}/dns-query?dns=${b64url(query('a-only.test', 'A'))}`, {
      headers: { 'cf-connecting-ip': '203.0.113.5' },
    });
    expect(res.status).toBe(200);
    expect(lines.map(withoutTime)).toEqual([
      {
        level: 'info',
        event: 'admin',
        action: 'create',
        tenant: 'audited',
        fields: ['key', 'prefixes'],
        client: '203.0.113.5',
        msg: 'admin: tenant audited created by 203.0.113.5 (key, prefixes)',
      },
      {
        level: 'info',
        event: 'admin',
        action: 'replace',
        tenant: 'audited',
        fields: ['queryLog'],
        client: '203.0.113.5',
        msg: 'admin: tenant audited replaced by 203.0.113.5 (queryLog)',
      },
      {
        level: 'info',
        msg: 'query',
        tenant: 'audited',
        transport: 'doh',
        client: '203.0.113.0/24',
        name: 'a-only.test.',
        type: 'A',
        rcode: 'NOERROR',
        synthesized: false,
        cacheHit: false,
        upstream: UP_A,
      },
    ]);
    expect(JSON.stringify(lines)).not.toContain(KEY);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });

  it('LOG_LEVEL=warn drops the audit line; a bad LOG_LEVEL is named once', async () => {
    const lines = captureConsole();
    const { get } = harness({}, ZONE, { ...env, ...ENV, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn' });
    const put = () =>
      get('/admin/tenants/quiet', {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prefixes: ['2001:db8:ad::/96'] }),
      });
    expect((await put()).status).toBe(201);
    expect(lines).toEqual([]);
    const loud = harness({}, ZONE, { ...env, ...ENV, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'loud' });
    await loud.get('/dns-query?dns=' + b64url(query('a-only.test', 'A')));
    await loud.get('/dns-query?dns=' + b64url(query('a-only.test', 'A')));
    expect(lines.map(withoutTime)).toEqual([
      {
        level: 'warn',
        event: 'setting',
        variable: 'LOG_LEVEL',
        msg: 'LOG_LEVEL: loud is not one of trace, debug, info, warn, error, fatal; using info',
      },
    ]);
  });

  it('logs upstream failures at most once per upstream per 30 s, and health changes', async () => {
    const logged: [string, Record<string, unknown>, string][] = [];
    const rec =
      (level: string) =>
      (fields: object, msg: string): void =>
        void logged.push([level, fields as Record<string, unknown>, msg]);
    const log: Logger = {
      trace: rec('trace'),
      debug: rec('debug'),
      info: rec('info'),
      warn: rec('warn'),
      error: rec('error'),
      fatal: rec('fatal'),
    };
    let now = 1_000_000;
    const health = new ObservedHealth(
      () => log,
      {},
      () => now,
    );
    const upstream = fakeUpstream(ZONE);
    let broken = true;
    const fetchVia: typeof fetch = (input, init) =>
      broken && String(input) === UP_A
        ? Promise.resolve(new Response('bad gateway', { status: 502 }))
        : upstream.fetch(input, init);
    const app = createApp({ fetch: fetchVia, health, cache: null });
    const ask = async (name: string) => {
      const res = await app.request(
        `https://doh.test/dns-query?dns=${b64url(query(name, 'A'))}`,
        undefined,
        ENV,
      );
      expect(rcode(decode(await res.arrayBuffer()))).toBe(0);
    };
    const failure = (suppressed: number) => [
      'warn',
      { event: 'upstream-failure', upstream: UP_A, kind: 'http', detail: 'HTTP 502', suppressed },
      `upstream failed: ${UP_A}: HTTP 502`,
    ];
    const down = [
      'warn',
      { event: 'upstream-down', upstream: UP_A, failures: 3 },
      'upstream down: 3 failures in a row, asked only after the others for 30 s',
    ];
    // UP_A is asked first and fails three times (UP_B answers), then goes to the back of the
    // order: the fourth query is UP_B's alone.
    for (const name of ['a-only.test', 'two.test', 'dual.test', 'public.test']) await ask(name);
    expect(logged).toEqual([failure(0), down]);
    expect(upstream.log.map((l) => l.url)).toEqual([UP_B, UP_B, UP_B, UP_B]);
    // After its cool-down UP_A is first again and fails: one line, with the two left out.
    now += 30_001;
    await ask('short.test');
    expect(logged).toEqual([failure(0), down, failure(2)]);
    // It recovers: asked first once more after another cool-down, it answers.
    broken = false;
    now += 30_001;
    await ask('mapped.test');
    expect(logged.at(-1)).toEqual([
      'info',
      { event: 'upstream-up', upstream: UP_A },
      'upstream up: answered again',
    ]);
    expect(health.answeredWithin(30_000)).toBe(true);
  });
});
