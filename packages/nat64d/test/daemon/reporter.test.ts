/**
 * The reporter (issue 15) against an in-process HTTP server on 127.0.0.1 that records every
 * request: method, path, headers, JSON body; the DELETE at stop; the back-off schedule seen
 * through an injected scheduler (the delays asked for, not real time); the log lines.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTaygaConf } from '../../src/config/index.js';
import type { Logger } from '../../src/daemon/log.js';
import {
  REPORT_INTERVAL_MS,
  Reporter,
  gatewayReport,
  reportDelay,
  type GatewayReport,
  type Scheduler,
} from '../../src/daemon/reporter.js';
import { NAT64D_VERSION } from '../../src/daemon/version.js';
import { TaygaAddressMapper } from '../../src/mapping/index.js';
import { ip6 } from '../core/helpers.js';
import { ACK, SYN, T0, harness, out6 } from '../stateful/helpers.js';

const KEY = 'gw-key_0123456789abcdef';
const PATH = '/t/acme/gateways/ams-1';

interface Captured {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** What the server does with the next request: answer with a status, or never answer. */
type Action = number | 'hang';

class CaptureServer {
  readonly requests: Captured[] = [];
  /** Answers for the coming requests, in order; 204 once empty. */
  readonly script: Action[] = [];
  private readonly hanging: ServerResponse[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const action = this.script.shift() ?? 204;
        if (action === 'hang') this.hanging.push(res);
        else if (action >= 300 && action <= 399) {
          res.writeHead(action, { location: 'http://127.0.0.1:9/elsewhere' }).end();
        } else res.writeHead(action).end(action === 204 ? undefined : 'nope\n');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}${PATH}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/** Records each delay asked for; fire() runs the pending callback at once. */
class FakeScheduler implements Scheduler {
  readonly delays: number[] = [];
  private pending: (() => void) | null = null;
  cleared = 0;
  set(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    this.pending = fn;
    return this.delays.length;
  }
  clear(): void {
    this.pending = null;
    this.cleared++;
  }
  fire(): void {
    const fn = this.pending;
    if (!fn) throw new Error('nothing scheduled');
    this.pending = null;
    fn();
  }
  get scheduled(): boolean {
    return this.pending !== null;
  }
}

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    error: (m) => lines.push(`error: ${m}`),
    debug: () => undefined,
  };
}

const BODY: GatewayReport = { version: '9.9.9', uptime: 42, sessions: 3, pool4PortsFree: 13605 };

describe('gateway report body', () => {
  it('stateful: sessions now and free pool4 ports summed over tcp, udp and icmp', () => {
    const { nat } = harness(['pool4 198.51.100.1 61000-65535']);
    // Host A: one UDP binding with sessions to two servers; host B: one UDP binding;
    // host A: one TCP binding (SYN opens a session). 4 sessions on 3 bindings.
    expect(out6(nat, 17, '2001:db8:1::2', 5000, '203.0.113.7', 53)).not.toBeNull();
    expect(out6(nat, 17, '2001:db8:1::2', 5000, '203.0.113.8', 53)).not.toBeNull();
    expect(out6(nat, 17, '2001:db8:1::3', 6000, '203.0.113.7', 53)).not.toBeNull();
    expect(out6(nat, 6, '2001:db8:1::2', 40000, '203.0.113.7', 80, SYN)).not.toBeNull();
    // An ACK without a session creates nothing (RFC 6146: only SYN opens TCP sessions).
    expect(out6(nat, 6, '2001:db8:1::3', 40001, '203.0.113.7', 80, ACK)).toBeNull();
    const ports = 65535 - 61000 + 1; // per protocol
    expect(
      gatewayReport({ version: '0.1.0', startedAt: T0, now: T0 + 125.7, nat, dynamic: null }),
    ).toEqual({ version: '0.1.0', uptime: 125, sessions: 4, pool4PortsFree: 3 * ports - 3 });
  });

  it('stateless: free addresses of the dynamic pool', () => {
    const c = parseTaygaConf(
      'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\ndynamic-pool 198.18.0.0/29\n',
      '/t.conf',
    );
    const mapper = new TaygaAddressMapper(c);
    const dynamic = mapper.dynamic!;
    // 8 addresses, the lowest reserved: 7 usable; two hosts take two.
    dynamic.allocate(ip6('2001:db8:1::2'), 0, T0);
    dynamic.allocate(ip6('2001:db8:1::3'), 0, T0);
    expect(gatewayReport({ version: null, startedAt: T0, now: T0, nat: null, dynamic })).toEqual({
      uptime: 0,
      dynamicPoolFree: 5,
    });
  });

  it('the version is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(NAT64D_VERSION).toBe(pkg.version);
  });
});

describe('back-off schedule', () => {
  it('20 s while it works; 20, 40, 80, 160 s, then 5 min after failures in a row', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(reportDelay)).toEqual([
      20_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000,
    ]);
  });
});

describe('Reporter against an HTTP server on 127.0.0.1', () => {
  let server: CaptureServer;
  let reporter: Reporter | null = null;

  beforeEach(async () => {
    server = new CaptureServer();
    await server.start();
  });
  afterEach(async () => {
    await reporter?.stop();
    reporter = null;
    await server.close();
  });

  function make(options: { scheduler?: FakeScheduler; log?: Logger; url?: string } = {}) {
    const scheduler = options.scheduler ?? new FakeScheduler();
    const log = options.log ?? memoryLog();
    let clock = T0;
    reporter = new Reporter({
      url: options.url ?? server.url,
      key: KEY,
      report: () => BODY,
      log,
      scheduler,
      clock: () => clock++,
      withdrawTimeoutMs: 200,
    });
    return { reporter, scheduler };
  }

  it('a PUT at start with the key and the JSON body, then one every 20 s', async () => {
    const log = memoryLog();
    const { reporter, scheduler } = make({ log });
    reporter.start();
    await reporter.settled();
    expect(server.requests).toEqual([
      {
        method: 'PUT',
        url: PATH,
        authorization: `Bearer ${KEY}`,
        contentType: 'application/json',
        body: JSON.stringify(BODY),
      },
    ]);
    expect(JSON.parse(server.requests[0]!.body)).toEqual({
      version: '9.9.9',
      uptime: 42,
      sessions: 3,
      pool4PortsFree: 13605,
    });
    scheduler.fire();
    await reporter.settled();
    expect(server.requests.map((r) => r.method)).toEqual(['PUT', 'PUT']);
    expect(scheduler.delays).toEqual([REPORT_INTERVAL_MS, REPORT_INTERVAL_MS]);
    expect(reporter.counters).toEqual({ sent: 2, failed: 0, lastSuccess: T0 + 1 });
    expect(log.lines).toEqual([
      `reporting to ${server.url} every 20 s`,
      `report accepted by ${server.url} (HTTP 204)`,
    ]);
  });

  it('DELETE with the key at stop; nothing scheduled afterwards', async () => {
    const log = memoryLog();
    const { reporter, scheduler } = make({ log });
    reporter.start();
    await reporter.settled();
    await reporter.stop();
    expect(server.requests.map((r) => [r.method, r.url, r.authorization])).toEqual([
      ['PUT', PATH, `Bearer ${KEY}`],
      ['DELETE', PATH, `Bearer ${KEY}`],
    ]);
    expect(server.requests[1]!.body).toBe('');
    expect(scheduler.scheduled).toBe(false);
    expect(scheduler.cleared).toBe(1);
    expect(log.lines.at(-1)).toBe(`withdrawn from ${server.url} (HTTP 204)`);
    await reporter.stop(); // idempotent: no second DELETE
    expect(server.requests).toHaveLength(2);
  });

  it('failures back off 20, 40, 80, 160 s, then 5 min; two log lines for six failures', async () => {
    const log = memoryLog();
    const { reporter, scheduler } = make({ log });
    server.script.push(503, 503, 503, 503, 503, 503);
    reporter.start();
    await reporter.settled();
    for (let i = 0; i < 6; i++) {
      scheduler.fire();
      await reporter.settled();
    }
    expect(server.requests).toHaveLength(7);
    expect(scheduler.delays).toEqual([20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 20_000]);
    expect(reporter.counters).toEqual({ sent: 7, failed: 6, lastSuccess: T0 + 6 });
    expect(log.lines).toEqual([
      `reporting to ${server.url} every 20 s`,
      `error: report to ${server.url} failed: HTTP 503; retrying after 20 s, backing off to 300 s ` +
        '(failures are counted in nat64d_reports_failed_total, not logged one by one)',
      `report to ${server.url} accepted again (HTTP 204) after 6 failed attempt(s) since ` +
        `${new Date(T0 * 1000).toISOString()}`,
    ]);
  });

  it('a failure after success is one state change; a wrong key says so', async () => {
    const log = memoryLog();
    const { reporter, scheduler } = make({ log });
    server.script.push(204, 401, 401);
    reporter.start();
    await reporter.settled();
    scheduler.fire();
    await reporter.settled();
    scheduler.fire();
    await reporter.settled();
    expect(scheduler.delays).toEqual([20_000, 20_000, 40_000]);
    expect(log.lines.slice(1)).toEqual([
      `report accepted by ${server.url} (HTTP 204)`,
      `error: report to ${server.url} failed: HTTP 401 (wrong report-key?); retrying after 20 s, ` +
        'backing off to 300 s (failures are counted in nat64d_reports_failed_total, not logged one by one)',
    ]);
    expect(log.lines.join('\n')).not.toContain(KEY);
  });

  it('404: the tenant or gateway in the URL is unknown to the resolver', async () => {
    const log = memoryLog();
    const { reporter } = make({ log });
    server.script.push(404);
    reporter.start();
    await reporter.settled();
    expect(log.lines[1]).toBe(
      `error: report to ${server.url} failed: HTTP 404 (unknown tenant or gateway in report-url?); ` +
        'retrying after 20 s, backing off to 300 s (failures are counted in ' +
        'nat64d_reports_failed_total, not logged one by one)',
    );
  });

  it('a redirect is a failure and is not followed', async () => {
    const log = memoryLog();
    const { reporter } = make({ log });
    server.script.push(308);
    reporter.start();
    await reporter.settled();
    expect(server.requests).toHaveLength(1);
    expect(reporter.counters.failed).toBe(1);
    expect(log.lines[1]).toContain(
      'failed: HTTP 308 (redirects are not followed: set report-url to the final URL)',
    );
  });

  it('nothing listening: ECONNREFUSED, counted, and the DELETE at stop fails without hanging', async () => {
    const log = memoryLog();
    const closed = server.url;
    await server.close();
    const { reporter, scheduler } = make({ log, url: closed });
    reporter.start();
    await reporter.settled();
    expect(reporter.counters).toEqual({ sent: 1, failed: 1, lastSuccess: 0 });
    expect(scheduler.delays).toEqual([20_000]);
    await reporter.stop();
    expect(log.lines).toEqual([
      `reporting to ${closed} every 20 s`,
      `error: report to ${closed} failed: ECONNREFUSED; retrying after 20 s, backing off to 300 s ` +
        '(failures are counted in nat64d_reports_failed_total, not logged one by one)',
      `error: withdrawing from ${closed} failed: ECONNREFUSED`,
    ]);
  });

  it('a resolver that never answers the DELETE does not hold up the stop', async () => {
    const log = memoryLog();
    const { reporter } = make({ log });
    reporter.start();
    await reporter.settled();
    server.script.push('hang');
    await reporter.stop(); // bounded by withdrawTimeoutMs (200 ms here, 2 s by default)
    expect(server.requests.map((r) => r.method)).toEqual(['PUT', 'DELETE']);
    expect(log.lines.at(-1)).toBe(
      `error: withdrawing from ${server.url} failed: no answer within 0.2 s`,
    );
  });

  it('stop during a PUT that hangs: the PUT is abandoned, not counted as failed; then DELETE', async () => {
    const log = memoryLog();
    const { reporter, scheduler } = make({ log });
    server.script.push('hang');
    reporter.start();
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await reporter.stop();
    expect(server.requests.map((r) => r.method)).toEqual(['PUT', 'DELETE']);
    expect(reporter.counters).toEqual({ sent: 1, failed: 0, lastSuccess: 0 });
    expect(scheduler.delays).toEqual([]);
    expect(log.lines.at(-1)).toBe(`withdrawn from ${server.url} (HTTP 204)`);
  });

  it('never started: stop sends nothing', async () => {
    const { reporter } = make();
    await reporter.stop();
    expect(server.requests).toEqual([]);
  });
});
