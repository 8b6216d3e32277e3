import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NodeServer,
  type Running,
  freePort,
  requireCommand,
  startBind,
  waitFor,
  startDnsdist,
  startNodeServer,
} from './servers';

/**
 * The self-hosted server's logs, query log, metrics and health checks, read as an operator's
 * tools read them: every stdout line parsed as JSON, /metrics through a Prometheus text-format
 * parser (parse-prometheus-text-format), with BIND behind dnsdist as the upstream and dig and
 * curl as clients.
 */
const run = promisify(execFile);
const PREFIX = '2001:db8:64::/96';
const ADMIN_TOKEN = 'admin-token-that-must-not-be-logged';
const TENANT_KEY = 'tenant-key-that-must-not-be-logged';
const ACME_KEY = 'acme-key-that-must-not-be-logged';

const dir = mkdtempSync(join(tmpdir(), 'observability-'));
const tenantsFile = join(dir, 'tenants.json');
let bind: Running;
let dnsdist: Running;
let upstream: string;

beforeAll(async () => {
  writeFileSync(
    tenantsFile,
    JSON.stringify({
      keyed: { prefixes: ['2001:db8:ee::/96'], key: TENANT_KEY },
      lan: { prefixes: ['2001:db8:1a::/96'], allowQuery: ['10.0.0.0/8'] },
      logged: { prefixes: ['2001:db8:10::/96'], queryLog: true },
      limited: { prefixes: ['2001:db8:11::/96'], rateLimit: 60 },
    }),
  );
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  upstream = `http://127.0.0.1:${dnsdist.port}/dns-query`;
});

afterAll(async () => {
  await dnsdist?.stop();
  await bind?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function dig(...args: string[]): Promise<string> {
  return (await run('dig', ['+time=5', '+tries=1', ...args])).stdout;
}

async function curl(...args: string[]): Promise<string> {
  return (await run('curl', ['-sS', '--max-time', '10', ...args])).stdout;
}

/** Every line the server wrote, parsed (each must be one JSON object). */
function lines(server: NodeServer): Record<string, unknown>[] {
  return server
    .log()
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits until the server's output (read through a pipe) holds `count` lines of `event`. */
async function loggedEvents(server: NodeServer, event: string, count: number) {
  const key = event === 'query' ? 'msg' : 'event';
  await waitFor(
    `${count} ${event} lines`,
    async () => {
      return lines(server).filter((l) => l[key] === event).length >= count;
    },
    10_000,
  );
}

/** Every JSON line with `event` equal to `event`, without time, pid and host name. */
function events(server: NodeServer, event: string): Record<string, unknown>[] {
  return lines(server)
    .filter((l) => l.event === event)
    .map(({ time: _t, pid: _p, hostname: _h, ...rest }) => rest);
}

/** Query log lines without their time and milliseconds (checked for form here). */
function queryLines(server: NodeServer): Record<string, unknown>[] {
  return lines(server)
    .filter((l) => l.msg === 'query')
    .map(({ time, ms, ...rest }) => {
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(typeof ms).toBe('number');
      expect(ms as number).toBeGreaterThanOrEqual(0);
      return rest;
    });
}

async function http(url: string, init?: RequestInit): Promise<[number, string]> {
  const res = await fetch(url, init);
  return [res.status, await res.text()];
}

async function scrape(server: NodeServer): Promise<PromFamily[]> {
  const res = await fetch(`http://${server.metricsAddr}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusTextFormat(await res.text());
}

/** The value of one series (labels matched exactly), or undefined when it has no sample. */
function value(families: PromFamily[], name: string, labels: Record<string, string> = {}) {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find(
    (m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels),
  );
  return sample?.value === undefined ? undefined : Number(sample.value);
}

/** Every series of a family as `{labels} value`, sorted. */
function series(families: PromFamily[], name: string): string[] {
  const family = families.find((f) => f.name === name);
  return (family?.metrics ?? []).map((m) => `${JSON.stringify(m.labels ?? {})} ${m.value}`).sort();
}

describe('one server: start line, query log, metrics, health, audit', () => {
  let server: NodeServer;
  const base = () => `http://127.0.0.1:${server.port}`;

  beforeAll(async () => {
    server = await startNodeServer({
      UPSTREAMS: upstream,
      DNS64_PREFIX: PREFIX,
      TENANTS_FILE: tenantsFile,
      ADMIN_TOKEN,
      QUERY_LOG: '1',
    });
  });
  afterAll(() => server?.stop());

  it('starts with one JSON line of its effective settings, secrets left out', () => {
    const start = lines(server).find((l) => l.event === 'start')!;
    expect(start.level).toBe('info');
    expect(start.msg).toMatch(/^start: dns64-edge on Node v\d+/);
    expect(start.settings).toEqual({
      host: '::',
      port: server.port,
      dnsPort: server.dnsPort,
      dotPort: null,
      tlsCert: null,
      tlsKey: null,
      upstreams: [upstream],
      dns64Prefix: PREFIX,
      upstreamTimeoutMs: 2000,
      tenantsFile,
      tenants: ['keyed', 'lan', 'logged', 'limited'],
      dnsTenant: null,
      adminApi: 'on (ADMIN_TOKEN [redacted])',
      trustProxy: false,
      workers: 1,
      logLevel: 'info',
      queryLog: true,
      queryLogFullIp: false,
      metricsAddr: server.metricsAddr,
    });
    const ready = lines(server).find((l) => l.event === 'ready')!;
    expect(ready.msg).toBe(
      `ready: DoH http://[::]:${server.port}/dns-query (HTTP/1.1, h2c); ` +
        `DNS udp+tcp [::]:${server.dnsPort}; metrics http://${server.metricsAddr}/metrics`,
    );
    expect(server.log()).not.toContain(ADMIN_TOKEN);
    expect(server.log()).not.toContain(TENANT_KEY);
  });

  it('is alive at /healthz and not ready at /readyz before an upstream has answered', async () => {
    const m = `http://${server.metricsAddr}`;
    expect(await http(`${m}/healthz`)).toEqual([200, 'ok\n']);
    expect(await http(`${m}/readyz`)).toEqual([503, 'not ready: no upstream has answered yet\n']);
    expect(await http(`${m}/nothing`)).toEqual([
      404,
      'not found: /metrics, /healthz and /readyz are served here\n',
    ]);
    expect(await http(`${m}/metrics`, { method: 'POST' })).toEqual([
      405,
      'method POST not allowed\n',
    ]);
  });

  it('counts known queries exactly, per transport and RCODE, and logs each one', async () => {
    const port = String(server.dnsPort);
    for (let i = 0; i < 3; i++) {
      const out = await dig('+short', '-p', port, '@127.0.0.1', 'a-only.dns64.test', 'AAAA');
      expect(out.trim()).toBe('2001:db8:64::cb00:710a');
    }
    for (let i = 0; i < 2; i++) {
      const out = await curl(
        `${base()}/dns-query?name=dual.dns64.test&type=AAAA&ct=application/dns-json`,
      );
      expect(JSON.parse(out).Answer[0].data).toBe('2001:db8:1::5');
    }
    const nx = await dig('+tcp', '-p', port, '@::1', 'nothing.dns64.test', 'A');
    expect(nx).toContain('status: NXDOMAIN');
    const refused = await curl(
      `${base()}/t/lan/dns-query?name=a-only.dns64.test&type=AAAA&ct=application/dns-json`,
    );
    expect(JSON.parse(refused).Status).toBe(5);
    const keyless = `${base()}/t/keyed/dns-query?name=a-only.dns64.test&type=A&ct=application/dns-json`;
    expect(await http(keyless)).toEqual([
      403,
      'tenant keyed needs its key: /t/keyed/{key}/dns-query\n',
    ]);

    const f = await scrape(server);
    expect(series(f, 'dns64_queries_total')).toEqual([
      '{"transport":"doh","rcode":"NOERROR"} 2',
      '{"transport":"doh","rcode":"REFUSED"} 1',
      '{"transport":"tcp","rcode":"NXDOMAIN"} 1',
      '{"transport":"udp","rcode":"NOERROR"} 3',
    ]);
    expect(series(f, 'dns64_synthesized_total')).toEqual(['{"transport":"udp"} 3']);
    expect(value(f, 'dns64_cache_hits_total')).toBe(3);
    expect(value(f, 'dns64_cache_misses_total')).toBe(3);
    expect(value(f, 'dns64_cache_entries')).toBe(3);
    expect(series(f, 'dns64_refused_total')).toEqual([
      '{"transport":"doh","reason":"allow-query"} 1',
      '{"transport":"doh","reason":"forbidden"} 1',
    ]);
    expect(series(f, 'dns64_rate_limited_total')).toEqual([]);
    // A and AAAA for each of the two AAAA misses, A for the NXDOMAIN: one upstream, no hedge.
    expect(value(f, 'dns64_upstream_requests_total', { upstream })).toBe(5);
    expect(series(f, 'dns64_upstream_failures_total')).toEqual([]);
    const latency = f.find((x) => x.name === 'dns64_upstream_duration_seconds')!;
    expect(latency.type).toBe('HISTOGRAM');
    // The parser folds a labelled histogram's series into one set of buckets (there is one
    // upstream here); the +Inf bucket is the count of answered requests.
    expect(latency.metrics[0]!.buckets!['+Inf']).toBe('5');
    expect(value(f, 'dns64_upstream_requests_total', { upstream })).toBe(5);
    expect(value(f, 'dns64_queries_in_flight')).toBe(0);
    expect(value(f, 'dns64_upstream_last_answer_timestamp_seconds')).toBeGreaterThan(1.7e9);
    // prom-client's process metrics, and a help text for every metric of ours.
    expect(value(f, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(f, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
    for (const family of f.filter((x) => x.name.startsWith('dns64_'))) {
      expect(family.help.length, family.name).toBeGreaterThan(20);
    }

    await loggedEvents(server, 'query', 8);
    await loggedEvents(server, 'refused', 2);
    const common = { level: 'info', msg: 'query', tenant: null, verdict: undefined };
    const aOnly = { name: 'a-only.dns64.test.', type: 'AAAA', rcode: 'NOERROR' };
    const dual = { name: 'dual.dns64.test.', type: 'AAAA', rcode: 'NOERROR' };
    const v4 = { transport: 'udp', client: '127.0.0.0/24' };
    const doh = { transport: 'doh', client: '127.0.0.0/24' };
    const expected = [
      { ...v4, ...aOnly, synthesized: true, cacheHit: false, upstream },
      { ...v4, ...aOnly, synthesized: true, cacheHit: true, upstream: null },
      { ...v4, ...aOnly, synthesized: true, cacheHit: true, upstream: null },
      { ...doh, ...dual, synthesized: false, cacheHit: false, upstream },
      { ...doh, ...dual, synthesized: false, cacheHit: true, upstream: null },
      {
        transport: 'tcp',
        client: '::/56',
        name: 'nothing.dns64.test.',
        type: 'A',
        rcode: 'NXDOMAIN',
        synthesized: false,
        cacheHit: false,
        upstream,
      },
      {
        ...doh,
        ...aOnly,
        rcode: 'REFUSED',
        tenant: 'lan',
        synthesized: false,
        cacheHit: false,
        upstream: null,
      },
      {
        ...doh,
        tenant: 'keyed',
        name: null,
        type: null,
        rcode: null,
        verdict: 'forbidden',
        synthesized: false,
        cacheHit: false,
        upstream: null,
      },
    ].map((e) => ({ ...common, ...e }));
    expect(queryLines(server)).toEqual(expected.map((e) => JSON.parse(JSON.stringify(e))));

    expect(events(server, 'refused')).toEqual([
      {
        level: 'info',
        event: 'refused',
        reason: 'allow-query',
        tenant: 'lan',
        client: '127.0.0.1',
        transport: 'doh',
        suppressed: 0,
        msg: 'refused 127.0.0.1: allow-query (tenant lan)',
      },
      {
        level: 'info',
        event: 'refused',
        reason: 'forbidden',
        tenant: 'keyed',
        client: '127.0.0.1',
        transport: 'doh',
        suppressed: 0,
        msg: 'refused 127.0.0.1: forbidden (tenant keyed)',
      },
    ]);
  });

  it('is ready at /readyz once an upstream has answered', async () => {
    const [status, text] = await http(`http://${server.metricsAddr}/readyz`);
    expect(status).toBe(200);
    expect(text).toMatch(/^ready: an upstream answered \d+ s ago\n$/);
  });

  it('writes an audit line for each admin change: tenant, fields changed, client', async () => {
    const admin = (method: string, body?: unknown) =>
      http(`${base()}/admin/tenants/acme`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const record = { prefixes: ['2001:db8:ac::/96'], key: ACME_KEY };
    expect((await admin('PUT', record))[0]).toBe(201);
    expect((await admin('PUT', { ...record, name: 'Acme ISP' }))[0]).toBe(200);
    expect((await admin('DELETE'))[0]).toBe(204);
    await loggedEvents(server, 'admin', 3);
    const audit = events(server, 'admin');
    const line = { level: 'info', event: 'admin', tenant: 'acme', client: '127.0.0.1' };
    expect(audit).toEqual([
      {
        ...line,
        action: 'create',
        fields: ['key', 'prefixes'],
        msg: 'admin: tenant acme created by 127.0.0.1 (key, prefixes)',
      },
      {
        ...line,
        action: 'replace',
        fields: ['name'],
        msg: 'admin: tenant acme replaced by 127.0.0.1 (name)',
      },
      {
        ...line,
        action: 'delete',
        fields: ['key', 'name', 'prefixes'],
        msg: 'admin: tenant acme deleted by 127.0.0.1 (key, name, prefixes)',
      },
    ]);
    expect(server.log()).not.toContain(ACME_KEY);
    expect(server.log()).not.toContain(ADMIN_TOKEN);
  });

  it('counts queries over a tenant rate limit, and logs the client once', async () => {
    const url = `${base()}/t/limited/dns-query?name=a-only.dns64.test&type=A&ct=application/dns-json`;
    const statuses: number[] = [];
    // The limit is 60 a minute per client (a fixed window): ask until it bites.
    for (let i = 0; i < 200 && !statuses.includes(429); i++) {
      const res = await fetch(url);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);
    const limited = statuses.filter((st) => st === 429).length;
    expect(limited).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((st) => st !== 429 && st !== 200)).toEqual([]);
    const f = await scrape(server);
    expect(series(f, 'dns64_rate_limited_total')).toEqual([
      `{"transport":"doh","limiter":"tenant"} ${limited}`,
    ]);
    await loggedEvents(server, 'refused', 3);
    const lines = events(server, 'refused').filter((l) => l.reason === 'rate-limited');
    expect(lines).toEqual([
      {
        level: 'info',
        event: 'refused',
        reason: 'rate-limited',
        tenant: 'limited',
        client: '127.0.0.1',
        transport: 'doh',
        suppressed: 0,
        msg: 'refused 127.0.0.1: rate-limited (tenant limited)',
      },
    ]);
  });
});

describe('LOG_LEVEL and the per-tenant query log', () => {
  it('LOG_LEVEL=warn keeps warnings and the lifecycle lines; a queryLog tenant is still logged', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/dns-query`;
    const server = await startNodeServer({
      UPSTREAMS: `${dead},${upstream}`,
      DNS64_PREFIX: PREFIX,
      TENANTS_FILE: tenantsFile,
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      QUERY_LOG_FULL_IP: '1',
    });
    try {
      const port = String(server.dnsPort);
      // The dead upstream is first in the operator's order: A and AAAA both fail there first.
      const out = await dig('+short', '-p', port, '@127.0.0.1', 'a-only.dns64.test', 'AAAA');
      expect(out.trim()).toBe('2001:db8:64::cb00:710a');
      const logged = await curl(
        `http://127.0.0.1:${server.port}/t/logged/dns-query?name=two.dns64.test&type=AAAA&ct=application/dns-json`,
      );
      expect(JSON.parse(logged).Answer).toHaveLength(2);
      const put = await http(`http://127.0.0.1:${server.port}/admin/tenants/other`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prefixes: ['2001:db8:ac::/96'] }),
      });
      expect(put[0]).toBe(201);

      await loggedEvents(server, 'query', 1);
      await loggedEvents(server, 'upstream-down', 1);
      const all = lines(server);
      // Below warn: only the lifecycle lines (start, ready) and the query log.
      const info = all.filter((l) => l.level === 'info' || l.level === 'debug');
      expect(info.map((l) => (l.msg === 'query' ? 'query' : l.event))).toEqual([
        'start',
        'ready',
        'query',
      ]);
      expect(queryLines(server)).toEqual([
        {
          level: 'info',
          msg: 'query',
          tenant: 'logged',
          transport: 'doh',
          client: '127.0.0.1',
          name: 'two.dns64.test.',
          type: 'AAAA',
          rcode: 'NOERROR',
          synthesized: true,
          cacheHit: false,
          upstream,
        },
      ]);
      // Four failures at the dead upstream within 30 s (A and AAAA of two queries): one line,
      // and one when the third in a row sends it to the back of the order.
      const failures = all.filter((l) => l.event === 'upstream-failure');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({
        level: 'warn',
        upstream: dead,
        kind: 'network',
        suppressed: 0,
      });
      expect(failures[0]!.detail).toMatch(/ECONNREFUSED/);
      const f = await scrape(server);
      expect(series(f, 'dns64_upstream_failures_total')).toEqual([
        `{"upstream":"${dead}","kind":"network"} 4`,
      ]);
      expect(value(f, 'dns64_upstream_up', { upstream: dead })).toBe(0);
      expect(value(f, 'dns64_upstream_up', { upstream })).toBe(1);
      const down = all.filter((l) => l.event === 'upstream-down');
      expect(down.map((l) => [l.level, l.upstream, l.msg])).toEqual([
        ['warn', dead, 'upstream down: 3 failures in a row, asked only after the others for 30 s'],
      ]);
    } finally {
      await server.stop();
    }
  });

  it('refuses a bad LOG_LEVEL, QUERY_LOG or METRICS_ADDR, naming each', async () => {
    const { nodeServerRefuses } = await import('./servers');
    const r = nodeServerRefuses({
      UPSTREAMS: upstream,
      LOG_LEVEL: 'loud',
      QUERY_LOG: 'maybe',
      METRICS_ADDR: '::1:9153',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'LOG_LEVEL: loud is not one of trace, debug, info, warn, error, fatal\n' +
        'QUERY_LOG: maybe is not true/false (1/0, yes/no, on/off)\n' +
        'METRICS_ADDR: ::1:9153 is not address:port (127.0.0.1:9153, [::1]:9153) or off\n',
    );
  });

  it('METRICS_ADDR=off opens no metrics listener', async () => {
    const server = await startNodeServer({ UPSTREAMS: upstream, METRICS_ADDR: 'off' });
    try {
      const ready = lines(server).find((l) => l.event === 'ready')!;
      expect(ready.msg).not.toContain('metrics');
      expect(lines(server).find((l) => l.event === 'start')!.settings).toMatchObject({
        metricsAddr: 'off',
      });
    } finally {
      await server.stop();
    }
  });
});

describe('with TLS', () => {
  it('logs the key file by path, never its contents; counts and logs DoT queries as tls', async () => {
    requireCommand('kdig', 'knot-dnsutils');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' }); // prettier-ignore
    const server = await startNodeServer({
      UPSTREAMS: upstream,
      DNS64_PREFIX: PREFIX,
      TLS_CERT: cert,
      TLS_KEY: key,
      QUERY_LOG: 'on',
    });
    try {
      const start = lines(server).find((l) => l.event === 'start')!;
      expect(start.settings).toMatchObject({ tlsCert: cert, tlsKey: key, dotPort: server.dotPort });
      const pem = readFileSync(key, 'utf8');
      const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'))[0]!;
      expect(server.log()).not.toContain('PRIVATE KEY');
      expect(server.log()).not.toContain(body);
      const out = await run('kdig', [
        '+time=5', '+retry=0', '+tls', '+short', '-p', String(server.dotPort),
        '@127.0.0.1', 'a-only.dns64.test', 'AAAA',
      ]); // prettier-ignore
      expect(out.stdout.trim()).toBe('2001:db8:64::cb00:710a');
      await loggedEvents(server, 'query', 1);
      expect(queryLines(server)).toEqual([
        {
          level: 'info',
          msg: 'query',
          tenant: null,
          transport: 'tls',
          client: '127.0.0.0/24',
          name: 'a-only.dns64.test.',
          type: 'AAAA',
          rcode: 'NOERROR',
          synthesized: true,
          cacheHit: false,
          upstream,
        },
      ]);
      const f = await scrape(server);
      expect(series(f, 'dns64_queries_total')).toEqual(['{"transport":"tls","rcode":"NOERROR"} 1']);
    } finally {
      await server.stop();
    }
  });
});

describe('WORKERS=2', () => {
  it('serves the figures of all workers, summed, and readiness for the cluster', async () => {
    const server = await startNodeServer({
      UPSTREAMS: upstream,
      DNS64_PREFIX: PREFIX,
      WORKERS: '2',
    });
    try {
      const m = `http://${server.metricsAddr}`;
      expect(await http(`${m}/readyz`)).toEqual([503, 'not ready: no upstream has answered yet\n']);
      const port = String(server.dnsPort);
      for (let i = 0; i < 4; i++) {
        const udp = await dig('+short', '-p', port, '@127.0.0.1', 'a-only.dns64.test', 'AAAA');
        const tcp = await dig(
          '+short',
          '+tcp',
          '-p',
          port,
          '@127.0.0.1',
          'a-only.dns64.test',
          'AAAA',
        );
        expect([udp.trim(), tcp.trim()]).toEqual([
          '2001:db8:64::cb00:710a',
          '2001:db8:64::cb00:710a',
        ]);
      }
      const f = await scrape(server);
      expect(series(f, 'dns64_queries_total')).toEqual([
        '{"transport":"tcp","rcode":"NOERROR"} 4',
        '{"transport":"udp","rcode":"NOERROR"} 4',
      ]);
      // The primary hands TCP connections out round-robin, so each worker answered some; each
      // has its own cache and asked upstream once.
      expect(value(f, 'dns64_cache_misses_total')).toBe(2);
      expect(value(f, 'dns64_cache_hits_total')).toBe(6);
      expect(value(f, 'dns64_cache_entries')).toBe(2);
      expect(value(f, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      const [status, text] = await http(`${m}/readyz`);
      expect([status, text]).toEqual([
        200,
        expect.stringMatching(/^ready: an upstream answered \d+ s ago\n$/),
      ]);
      expect(lines(server).find((l) => l.event === 'ready')!.msg).toContain(
        `metrics http://${server.metricsAddr}/metrics`,
      );
    } finally {
      await server.stop();
    }
  });
});
