import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { b64url, decode, edes, query, rcode, rows, type QueryOptions } from '../helpers/dns';
import { ENV, harness, UP_B } from './setup';

const TOKEN = 'admin-secret-token-for-tests';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A harness with KV, the rate-limit bindings and an admin token, plus tenant helpers. */
function tenants(extra: Record<string, unknown> = {}) {
  // Bindings (KV, rate limits) from wrangler.toml; variables from the test ENV.
  const h = harness({}, undefined, { ...env, ...ENV, ADMIN_TOKEN: TOKEN, ...extra });
  const put = (id: string, record: unknown) =>
    h.get(`/admin/tenants/${id}`, {
      method: 'PUT',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(record),
    });
  const ask = async (
    path: string,
    name: string,
    type: string,
    opts: QueryOptions = {},
    client = '2001:db8:1::1',
  ) => {
    const res = await h.get(`${path}?dns=${b64url(query(name, type, opts))}`, {
      headers: { 'cf-connecting-ip': client },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    return decode(await res.arrayBuffer());
  };
  const aaaa = async (id: string, name: string, opts: QueryOptions = {}, client?: string) =>
    rows((await ask(`/t/${id}/dns-query`, name, 'AAAA', opts, client)).answers).map((r) => r[3]);
  return { ...h, put, ask, aaaa };
}

describe('admin API', () => {
  it('does not exist without ADMIN_TOKEN', async () => {
    const { get } = tenants({ ADMIN_TOKEN: undefined });
    const res = await get('/admin/tenants', { headers: AUTH });
    expect([res.status, await res.text()]).toEqual([
      404,
      'not found: DoH is served at /dns-query\n',
    ]);
  });

  it('refuses a missing or wrong bearer token with 401', async () => {
    const { get } = tenants();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer nope' },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const res = await get('/admin/tenants', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="admin"');
      expect(await res.text()).toBe('admin API needs Authorization: Bearer <ADMIN_TOKEN>\n');
    }
  });

  it('creates, replaces, reads, lists and deletes a tenant', async () => {
    const { get, put } = tenants();
    const rec = { name: 'CRUD ISP', prefixes: ['2001:db8:aa::/96'] };
    expect((await put('crud', rec)).status).toBe(201);
    const replaced = await put('crud', { ...rec, prefixes: ['2001:db8:bb::/96'] });
    expect(replaced.status).toBe(200);
    const read = await get('/admin/tenants/crud', { headers: AUTH });
    expect(await read.json()).toEqual({ name: 'CRUD ISP', prefixes: ['2001:db8:bb::/96'] });
    const list = (await (await get('/admin/tenants', { headers: AUTH })).json()) as {
      tenants: string[];
    };
    expect(list.tenants).toContain('crud');
    expect((await get('/admin/tenants/crud', { method: 'DELETE', headers: AUTH })).status).toBe(
      204,
    );
    const gone = await get('/admin/tenants/crud', { headers: AUTH });
    expect([gone.status, await gone.text()]).toEqual([404, 'unknown tenant crud\n']);
    const again = await get('/admin/tenants/crud', { method: 'DELETE', headers: AUTH });
    expect(again.status).toBe(404);
  });

  it('refuses a bad record with 400 naming every bad field and why', async () => {
    const { put } = tenants();
    const res = await put('bad', {
      prefixes: ['2001:db8::/33', { prefix: '2001:db8:1::/96', mapped: ['2001:db8::/32'] }],
      exclude: ['192.0.2.0/24'],
      rateLimit: 100,
      key: 'short',
      clients: ['not-an-address'],
      upstreams: ['ftp://x.test'],
      bogus: 1,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(
      'invalid tenant record: ' +
        [
          'prefixes.0: 2001:db8::/33: RFC 6052 allows only /32, /40, /48, /56, /64 or /96',
          'prefixes.1.mapped.0: must be an IPv4 range',
          'exclude.0: must be an IPv6 range',
          'clients.0: not-an-address: not an IP address or range',
          'upstreams.0: ftp://x.test must be an https:// or http:// DoH URL, or udp://, tcp:// or tls:// host[:port]',
          'key: must be 16 to 128 characters of A-Z a-z 0-9 _ -',
          'rateLimit: must be one of 60, 300, 600, 1200, 3000, 6000 (queries per minute per client)',
          '(record): Unrecognized key: "bogus"',
        ].join('; ') +
        '\n',
    );
  });

  it('refuses a bad id and a body that is not JSON', async () => {
    const { get } = tenants();
    const badId = await get('/admin/tenants/Bad_Id', { method: 'PUT', headers: AUTH, body: '{}' });
    expect([badId.status, await badId.text()]).toEqual([
      400,
      'tenant id Bad_Id must be 1 to 63 of a-z 0-9 - (not starting or ending with -)\n',
    ]);
    const notJson = await get('/admin/tenants/ok', { method: 'PUT', headers: AUTH, body: '{' });
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).toMatch(/^body is not JSON: /);
  });
});

describe('tenant URLs', () => {
  it('answers 404 for an unknown tenant', async () => {
    const { get } = tenants();
    const res = await get(`/t/nobody/dns-query?dns=${b64url(query('dual.test', 'A'))}`);
    expect([res.status, await res.text()]).toEqual([404, 'unknown tenant nobody\n']);
  });

  it('answers 403 without the key or with a wrong one, and 200 with it', async () => {
    const { get, put, ask } = tenants();
    const key = 'k3y-for-the-tenant-0123456789';
    await put('keyed', { prefixes: ['2001:db8:cc::/96'], key });
    const q = `?dns=${b64url(query('a-only.test', 'AAAA'))}`;
    const none = await get(`/t/keyed/dns-query${q}`);
    expect([none.status, await none.text()]).toEqual([
      403,
      'tenant keyed needs its key: /t/keyed/{key}/dns-query\n',
    ]);
    const wrong = await get(`/t/keyed/wrong-key-0123456789abc/dns-query${q}`);
    expect([wrong.status, await wrong.text()]).toEqual([403, 'wrong key for tenant keyed\n']);
    const res = await ask(`/t/keyed/${key}/dns-query`, 'a-only.test', 'AAAA');
    expect(rows(res.answers)).toEqual([['a-only.test', 'AAAA', 300, '2001:db8:cc::cb00:710a']]);
    await put('open', { prefixes: ['2001:db8:cd::/96'] });
    const extra = await get(`/t/open/some-key-0123456789abcd/dns-query${q}`);
    expect([extra.status, await extra.text()]).toEqual([
      403,
      'tenant open takes no key in its URL\n',
    ]);
  });

  it('gives two tenants with different prefixes different answers at the same moment', async () => {
    const { put, aaaa } = tenants();
    await put('isp-one', { prefixes: ['2001:db8:1:64::/96'] });
    await put('isp-two', { prefixes: ['2001:db8:2:64::/64'] });
    const [one, two] = await Promise.all([
      aaaa('isp-one', 'a-only.test'),
      aaaa('isp-two', 'a-only.test'),
    ]);
    expect(one).toEqual(['2001:db8:1:64::cb00:710a']);
    expect(two).toEqual(['2001:db8:2:64:cb:71:a00:0']);
  });

  it('shows a change to queries at once on the same isolate', async () => {
    const { put, aaaa } = tenants();
    await put('moving', { prefixes: ['2001:db8:10::/96'] });
    expect(await aaaa('moving', 'a-only.test')).toEqual(['2001:db8:10::cb00:710a']);
    await put('moving', { prefixes: ['2001:db8:11::/96'] });
    expect(await aaaa('moving', 'a-only.test')).toEqual(['2001:db8:11::cb00:710a']);
  });

  it('answers 429 with Retry-After over the rate limit', async () => {
    const { get, put } = tenants();
    await put('limited', { prefixes: ['2001:db8:12::/96'], rateLimit: 60 });
    const url = `/t/limited/dns-query?dns=${b64url(query('ipv4only.arpa', 'A'))}`;
    const headers = { 'cf-connecting-ip': '2001:db8:99::1' };
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await get(url, { headers })).status);
    expect(statuses.slice(0, 60).every((s) => s === 200)).toBe(true);
    const over = await get(url, { headers });
    expect([over.status, over.headers.get('retry-after'), await over.text()]).toEqual([
      429,
      '60',
      'rate limit of 60 queries per minute exceeded\n',
    ]);
    // another client address has its own budget
    expect((await get(url, { headers: { 'cf-connecting-ip': '2001:db8:99::2' } })).status).toBe(
      200,
    );
  });
});

describe('tenant options change real answers', () => {
  it('clients get synthesis, others plain answers; allowQuery refuses the rest (EDE 18)', async () => {
    const { put, ask } = tenants();
    await put('acl', {
      prefixes: ['2001:db8:20::/96'],
      clients: ['2001:db8:1::/48'],
      allowQuery: ['2001:db8::/32', '192.0.2.0/24'],
    });
    const path = '/t/acl/dns-query';
    const inside = await ask(path, 'a-only.test', 'AAAA', {}, '2001:db8:1::5');
    expect(rows(inside.answers)).toEqual([['a-only.test', 'AAAA', 300, '2001:db8:20::cb00:710a']]);
    const plain = await ask(path, 'a-only.test', 'AAAA', {}, '2001:db8:2::5');
    expect([rcode(plain), plain.answers]).toEqual([0, []]);
    const v4 = await ask(path, 'a-only.test', 'AAAA', {}, '192.0.2.44');
    expect(v4.answers).toEqual([]);
    const refused = await ask(path, 'a-only.test', 'AAAA', { edns: true }, '2001:dbb::1');
    expect(rcode(refused)).toBe(5);
    expect(edes(refused)).toEqual([{ code: 18, text: 'client not allowed by tenant acl' }]);
  });

  it('mapped: separate IPv4 ranges map to separate prefixes (RFC 6147 sec. 5.2)', async () => {
    const { put, aaaa } = tenants();
    await put('mapped', {
      prefixes: [
        { prefix: '2001:db8:30::/96', mapped: ['192.0.2.0/24'] },
        { prefix: '2001:db8:31::/96', mapped: ['203.0.113.0/24'] },
        '2001:db8:32::/96',
      ],
    });
    expect(await aaaa('mapped', 'two.test')).toEqual([
      '2001:db8:30::c000:201',
      '2001:db8:30::c000:202',
      '2001:db8:32::c000:201',
      '2001:db8:32::c000:202',
    ]);
    expect(await aaaa('mapped', 'a-only.test')).toEqual([
      '2001:db8:31::cb00:710a',
      '2001:db8:32::cb00:710a',
    ]);
  });

  it('exclude, synthAll and ignoreAaaa make real AAAA records give way to synthesis', async () => {
    const { put, aaaa } = tenants();
    await put('excl', { prefixes: ['2001:db8:40::/96'], exclude: ['2001:db8:1::/48'] });
    expect(await aaaa('excl', 'dual.test')).toEqual(['2001:db8:40::c000:205']);
    await put('all', { prefixes: ['2001:db8:41::/96'], synthAll: true });
    expect(await aaaa('all', 'dual.test')).toEqual(['2001:db8:41::c000:205']);
    await put('ign', { prefixes: ['2001:db8:42::/96'], ignoreAaaa: ['test'] });
    expect(await aaaa('ign', 'dual.test')).toEqual(['2001:db8:42::c000:205']);
    await put('plain', { prefixes: ['2001:db8:43::/96'] });
    expect(await aaaa('plain', 'dual.test')).toEqual(['2001:db8:1::5']);
  });

  it('suffix fills the bits after the IPv4 address', async () => {
    const { put, aaaa } = tenants();
    await put('suffix', { prefixes: ['2001:db8:122:344::/64'], suffix: '::ab' });
    expect(await aaaa('suffix', 'a-only.test')).toEqual(['2001:db8:122:344:cb:71:a00:ab']);
    const bad = await put('suffix2', { prefixes: ['2001:db8:50::/96'], suffix: '::1' });
    expect(await bad.text()).toBe(
      'invalid tenant record: suffix: overlaps the prefix, the IPv4 address or the u-octet of 2001:db8:50::/96\n',
    );
  });

  it('breakDnssec synthesizes even for DO=1 CD=1; recursiveOnly only for RD=1', async () => {
    const { put, aaaa } = tenants();
    await put('strict', { prefixes: ['2001:db8:60::/96'] });
    expect(await aaaa('strict', 'a-only.test', { dnssecOk: true, cd: true })).toEqual([]);
    await put('broken', { prefixes: ['2001:db8:61::/96'], breakDnssec: true });
    expect(await aaaa('broken', 'a-only.test', { dnssecOk: true, cd: true })).toEqual([
      '2001:db8:61::cb00:710a',
    ]);
    await put('recursive', { prefixes: ['2001:db8:62::/96'], recursiveOnly: true });
    expect(await aaaa('recursive', 'a-only.test', { rd: false })).toEqual([]);
    expect(await aaaa('recursive', 'a-only.test')).toEqual(['2001:db8:62::cb00:710a']);
  });

  it('upstreams overrides the deployment upstreams', async () => {
    const { put, aaaa, upstream } = tenants();
    await put('own-upstream', { prefixes: ['2001:db8:70::/96'], upstreams: [UP_B] });
    await aaaa('own-upstream', 'a-only.test');
    expect(new Set(upstream.log.map((l) => l.url))).toEqual(new Set([UP_B]));
  });
});

describe('setup page and Apple profile per tenant', () => {
  it('serves the page and profile beside each tenant URL, 404/403 like the DoH URL', async () => {
    const { get, put } = tenants();
    await put('page', { name: 'Page ISP', prefixes: ['2001:db8:80::/96', '2001:db8:81::/64'] });
    for (const path of ['/t/page/', '/t/page']) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await res.text();
      expect(html).toContain('https://doh.test/t/page/dns-query');
      expect(html).toContain('2001:db8:80::/96');
      expect(html).toContain('2001:db8:81::/64');
      expect(html).toContain('Page ISP');
    }
    const profile = await get('/t/page/apple.mobileconfig');
    expect(profile.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    const xml = await profile.text();
    expect(xml).toContain('<string>https://doh.test/t/page/dns-query</string>');
    expect(xml).toContain('<string>com.apple.dnsSettings.managed</string>');

    const missing = await get('/t/nobody/');
    expect([missing.status, await missing.text()]).toEqual([404, 'unknown tenant nobody\n']);
    const key = 'page-key-0123456789abcdef';
    await put('keyed-page', { prefixes: ['2001:db8:82::/96'], key });
    expect((await get('/t/keyed-page/')).status).toBe(403);
    const keyed = await get(`/t/keyed-page/${key}/`);
    expect(await keyed.text()).toContain(`https://doh.test/t/keyed-page/${key}/dns-query`);
  });

  it('serves the default tenant page at /', async () => {
    const { get } = tenants();
    const html = await (await get('/')).text();
    expect(html).toContain('https://doh.test/dns-query');
    expect(html).toContain('2001:db8:64::/96');
  });
});
