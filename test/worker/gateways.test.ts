import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../src/cache/response-cache';
import { createApp } from '../../src/doh/app';
import { TenantStore, memoryBackend } from '../../src/tenant/store';
import { UpstreamHealth } from '../../src/upstream/health';
import { fakeUpstream } from '../helpers/fake-upstream';
import { b64url, decode, query, rows } from '../helpers/dns';
import { ENV, ZONE } from './setup';

const KEY = 'gateway-key-0123456789';
const RECORD = {
  prefixes: [
    { prefix: '2001:db8:a::/96', gateway: 'ams-1' },
    { prefix: '2001:db8:b::/96', gateway: 'fra-1' },
    '2001:db8:c::/96',
  ],
  gatewayKey: KEY,
  gatewayTimeout: 30,
};
// a-only.test is 203.0.113.10 (cb00:710a), TTL 1000, AAAA NODATA with negative TTL 300.
const A = (p: string) => `2001:db8:${p}::cb00:710a`;

/** A tenant with three prefixes, two behind gateways, on an app whose clock the test moves. */
function site(record: unknown = RECORD, cache: ResponseCache | null = null) {
  const clock = { now: 1_700_000_000_000 };
  const logged: [string, object, string][] = [];
  const at = (level: string) => (fields: object, msg: string) => logged.push([level, fields, msg]);
  const log = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
  const store = new TenantStore(memoryBackend({ acme: record }), () => clock.now);
  const upstream = fakeUpstream(ZONE);
  const app = createApp({
    fetch: upstream.fetch,
    health: new UpstreamHealth(),
    cache,
    store: () => store,
    now: () => clock.now,
    log,
  });
  const req = (path: string, init?: RequestInit) =>
    app.request(`https://doh.test${path}`, init, { ...ENV, ADMIN_TOKEN: 'admin-token-for-tests' });
  const report = (gw: string, body: unknown = {}, key = KEY, method = 'PUT') =>
    req(`/t/acme/gateways/${gw}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: method === 'PUT' ? JSON.stringify(body) : undefined,
    });
  const answer = async (name: string, type: string) => {
    const res = await req(`/t/acme/dns-query?dns=${b64url(query(name, type, { id: 7 }))}`);
    expect(res.status).toBe(200);
    return rows(decode(await res.arrayBuffer()).answers);
  };
  const aaaa = async () => (await answer('a-only.test', 'AAAA')).map((r) => [r[3], r[2]]);
  const gatewayLines = () =>
    logged
      .filter(([, f]) => (f as { event?: string }).event === 'gateway')
      .map((l) => [l[0], l[2]]);
  return { clock, store, report, answer, aaaa, req, gatewayLines };
}

describe('synthesis follows the gateways (issue 15)', () => {
  it('uses every prefix while no gateway has reported (a dead control plane never blacks out DNS)', async () => {
    const { aaaa } = site();
    expect(await aaaa()).toEqual([
      [A('a'), 60],
      [A('b'), 60],
      [A('c'), 60],
    ]);
  });

  it('keeps only live gateways, ordered by free capacity, and the prefix without one', async () => {
    const { report, aaaa } = site();
    expect((await report('ams-1', { pool4PortsFree: 100 })).status).toBe(204);
    expect(await aaaa()).toEqual([
      [A('a'), 60],
      [A('c'), 60],
    ]);
    expect((await report('fra-1', { pool4PortsFree: 4000, version: '0.2.0' })).status).toBe(204);
    expect(await aaaa()).toEqual([
      [A('b'), 60],
      [A('a'), 60],
      [A('c'), 60],
    ]);
  });

  it('drops a gateway silent for gatewayTimeout, at once even from a cache; DELETE at once', async () => {
    const { report, aaaa, clock, gatewayLines } = site(
      RECORD,
      new ResponseCache({ now: () => clock.now }),
    );
    await report('ams-1');
    await report('fra-1');
    expect((await aaaa()).map((r) => r[0])).toEqual([A('a'), A('b'), A('c')]);
    clock.now += 20_000;
    await report('fra-1');
    clock.now += 11_000; // ams-1 silent for 31 s > 30 s
    expect((await aaaa()).map((r) => r[0])).toEqual([A('b'), A('c')]);
    expect((await report('ams-1')).status).toBe(204); // back
    expect((await aaaa()).map((r) => r[0])).toEqual([A('a'), A('b'), A('c')]);
    expect((await report('fra-1', {}, KEY, 'DELETE')).status).toBe(204); // orderly stop
    expect((await aaaa()).map((r) => r[0])).toEqual([A('a'), A('c')]);
    // Every change is logged once, as queries see it.
    expect(gatewayLines()).toEqual([
      ['warn', 'gateway ams-1 of acme is up'],
      ['warn', 'gateway fra-1 of acme is up'],
      ['warn', 'gateway ams-1 of acme is down'],
      ['warn', 'gateway ams-1 of acme is up'],
      ['warn', 'gateway fra-1 of acme is stopped'],
    ]);
  });

  it('synthesizes PTR and answers ipv4only.arpa only under live prefixes, TTL capped', async () => {
    const { report, answer } = site();
    await report('fra-1');
    const arpa = (prefix: string) =>
      `a.0.1.7.0.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.${prefix}.8.b.d.0.1.0.0.2.ip6.arpa`;
    expect(await answer(arpa('b.0.0.0'), 'PTR')).toEqual([
      [arpa('b.0.0.0'), 'CNAME', 60, '10.113.0.203.in-addr.arpa'],
      ['10.113.0.203.in-addr.arpa', 'PTR', 700, 'a-only.test'],
    ]);
    // ams-1's prefix is not in use: its PTR name is not ours to synthesize.
    expect((await answer(arpa('a.0.0.0'), 'PTR')).map((r) => r[1])).not.toContain('CNAME');
    expect((await answer('ipv4only.arpa', 'AAAA')).map((r) => [r[3], r[2]])).toEqual([
      ['2001:db8:b::c000:aa', 60],
      ['2001:db8:b::c000:ab', 60],
      ['2001:db8:c::c000:aa', 60],
      ['2001:db8:c::c000:ab', 60],
    ]);
  });
});

describe('the setup page', () => {
  it('lists each gateway with its state and last report, and the prefixes in use', async () => {
    const { report, req, clock } = site();
    await report('ams-1');
    const at = new Date(clock.now).toISOString();
    const html = await (await req('/t/acme/')).text();
    expect(html).toContain(
      `<li><code>ams-1</code> (<code>2001:db8:a::/96</code>): <span class="gw-up">up</span>, last report ${at}</li>`,
    );
    expect(html).toContain(
      '<li><code>fra-1</code> (<code>2001:db8:b::/96</code>): <span class="gw-unknown">unknown</span>, no report yet</li>',
    );
    // Only the prefixes in use are listed as such.
    expect(html).toContain('<li><code>2001:db8:a::/96</code></li>');
    expect(html).not.toContain('<li><code>2001:db8:b::/96</code></li>');
  });
});

describe('PUT and DELETE /t/{id}/gateways/{gateway}', () => {
  it('shows each gateway state and last report in the admin API', async () => {
    const { report, req, clock } = site();
    await report('ams-1', { version: '0.2.0', sessions: 12, pool4PortsFree: 4000 });
    const at = new Date(clock.now).toISOString();
    await report('fra-1', {}, KEY, 'DELETE');
    clock.now += 5_000;
    const res = await req('/admin/tenants/acme/gateways', {
      headers: { authorization: 'Bearer admin-token-for-tests' },
    });
    expect(await res.json()).toEqual({
      gatewayTimeout: 30,
      gateways: {
        'ams-1': {
          state: 'up',
          lastReport: at,
          report: { version: '0.2.0', sessions: 12, pool4PortsFree: 4000 },
          prefixes: ['2001:db8:a::/96'],
        },
        'fra-1': { state: 'stopped', lastReport: at, report: {}, prefixes: ['2001:db8:b::/96'] },
      },
    });
  });

  it('answers 401 for a missing or wrong key, 404 for an unknown tenant or gateway', async () => {
    const { report, req } = site();
    for (const key of ['', 'wrong-key-0123456789']) {
      const res = await report('ams-1', {}, key);
      expect([res.status, await res.text()]).toEqual([
        401,
        'gateway reports for tenant acme need Authorization: Bearer <gatewayKey>\n',
      ]);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gateways"');
    }
    const unknown = await report('lis-1');
    expect([unknown.status, await unknown.text()]).toEqual([
      404,
      'tenant acme has no gateway lis-1\n',
    ]);
    const nobody = await req('/t/nobody/gateways/ams-1', { method: 'PUT' });
    expect([nobody.status, await nobody.text()]).toEqual([404, 'unknown tenant nobody\n']);
    const get = await req('/t/acme/gateways/ams-1');
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'PUT, DELETE']);
  });

  it('refuses a report naming every bad field with 400, and keeps none of it', async () => {
    const { report, aaaa } = site();
    const res = await report('ams-1', { sessions: -1, pool4PortsFree: 'many', extra: true });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(
      'invalid gateway report: sessions: Too small: expected number to be >=0; pool4PortsFree: Invalid input: expected number, received string; (report): Unrecognized key: "extra"\n',
    );
    expect((await aaaa()).map((r) => r[0])).toEqual([A('a'), A('b'), A('c')]);
  });

  it('refuses a gatewayTimeout shorter than 30 s: nat64d reports every 20 s', async () => {
    const { req } = site({ ...RECORD, gatewayTimeout: 20 });
    const res = await req('/t/acme/dns-query?dns=' + b64url(query('a-only.test', 'AAAA')));
    expect([res.status, await res.text()]).toEqual([
      500,
      'tenant acme has an invalid record: gatewayTimeout: must be at least 30 (nat64d reports every 20 s; a report may take 10 s)\n',
    ]);
  });

  it('requires a gatewayKey when a prefix names a gateway (tenant record check)', async () => {
    const { req } = site({ prefixes: [{ prefix: '2001:db8:a::/96', gateway: 'ams-1' }] });
    const res = await req('/t/acme/dns-query?dns=' + b64url(query('a-only.test', 'AAAA')));
    expect([res.status, await res.text()]).toEqual([
      500,
      'tenant acme has an invalid record: gatewayKey: is required when a prefix names a gateway (the gateways report with it)\n',
    ]);
  });
});
