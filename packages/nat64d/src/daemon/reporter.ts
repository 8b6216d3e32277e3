/**
 * Tells the DNS64 resolver that this gateway is alive (issue 15): a `PUT` of a small JSON body
 * to `report-url` every 20 s with `Authorization: Bearer <report-key>`, and a `DELETE` at an
 * orderly stop so the resolver drops the gateway's prefix at once.
 *
 * It runs off the packet path: timers and Node's global fetch, each request bounded by an
 * AbortSignal timeout; the packet loop never waits for it. The body is read from counters the
 * translator keeps anyway. Failures (network errors, time-outs, non-2xx answers, redirects)
 * back off: 20 s, 40 s, 80 s, 160 s, then every 5 min, and are logged once per change of state
 * (failing, accepted again with the number of failed attempts), never once per failure.
 */
import type { DynamicPool } from '../mapping/index.js';
import type { StatefulNat } from '../stateful/index.js';
import type { Logger } from './log.js';

/** Seconds between reports while they succeed. */
export const REPORT_INTERVAL_MS = 20_000;
/** Longest wait between attempts while they fail. */
export const REPORT_MAX_BACKOFF_MS = 300_000;
/** Deadline of one PUT. */
export const REPORT_TIMEOUT_MS = 10_000;
/** Deadline of the DELETE at shutdown: a stop never waits longer for the resolver. */
export const WITHDRAW_TIMEOUT_MS = 2_000;

/** The JSON body of a report; every field is optional (what the mode has). */
export interface GatewayReport {
  version?: string;
  /** Seconds since the daemon started. */
  uptime?: number;
  /** Stateful: sessions now, all protocols. */
  sessions?: number;
  /** Stateful: free pool4 transport addresses, summed over tcp, udp and icmp. */
  pool4PortsFree?: number;
  /** Stateless with a dynamic-pool: addresses not mapped to any IPv6 host. */
  dynamicPoolFree?: number;
}

export interface GatewayState {
  readonly version: string | null;
  /** Unix seconds. */
  readonly startedAt: number;
  readonly now: number;
  readonly nat: StatefulNat | null;
  readonly dynamic: DynamicPool | null;
}

/** The report body from the daemon's state. */
export function gatewayReport(s: GatewayState): GatewayReport {
  const report: GatewayReport = {};
  if (s.version !== null) report.version = s.version;
  report.uptime = Math.max(0, Math.floor(s.now - s.startedAt));
  if (s.nat) {
    const stats = s.nat.stats();
    report.sessions = stats.tcp.sessions + stats.udp.sessions + stats.icmp.sessions;
    report.pool4PortsFree =
      stats.tcp.poolPortsFree + stats.udp.poolPortsFree + stats.icmp.poolPortsFree;
  }
  if (s.dynamic) report.dynamicPoolFree = s.dynamic.usable - s.dynamic.size;
  return report;
}

/** Delay before the next attempt after `failures` failed attempts in a row (0: all well). */
export function reportDelay(failures: number): number {
  if (failures <= 0) return REPORT_INTERVAL_MS;
  return Math.min(REPORT_INTERVAL_MS * 2 ** Math.min(failures - 1, 16), REPORT_MAX_BACKOFF_MS);
}

/** Timers, injectable so tests can see every delay without waiting for it. */
export interface Scheduler {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realScheduler: Scheduler = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ReporterOptions {
  readonly url: string;
  readonly key: string;
  /** Called for each PUT; must be cheap and must not throw. */
  readonly report: () => GatewayReport;
  readonly log: Logger;
  readonly scheduler?: Scheduler;
  /** Unix seconds, for the last-success gauge. */
  readonly clock?: () => number;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly withdrawTimeoutMs?: number;
}

export interface ReporterCounters {
  /** PUT requests made. */
  sent: number;
  /** PUT requests that failed (network error, time-out, non-2xx answer). */
  failed: number;
  /** Unix seconds of the last PUT answered 2xx; 0 before the first. */
  lastSuccess: number;
}

const seconds = (ms: number) => `${ms / 1000} s`;

/** A one-line reason for a failed fetch. */
function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${seconds(timeoutMs)}`;
  const cause = e.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return e.message ?? String(err);
}

function statusProblem(status: number): string | null {
  if (status >= 200 && status <= 299) return null;
  if (status === 401) return 'HTTP 401 (wrong report-key?)';
  if (status === 404) return 'HTTP 404 (unknown tenant or gateway in report-url?)';
  if (status >= 300 && status <= 399) {
    return `HTTP ${status} (redirects are not followed: set report-url to the final URL)`;
  }
  return `HTTP ${status}`;
}

export class Reporter {
  readonly counters: ReporterCounters = { sent: 0, failed: 0, lastSuccess: 0 };
  private readonly options: ReporterOptions;
  private readonly scheduler: Scheduler;
  private readonly fetch: typeof fetch;
  private readonly clock: () => number;
  private timer: unknown = null;
  private cycle: Promise<void> = Promise.resolve();
  private inflight: AbortController | null = null;
  private state: 'new' | 'ok' | 'failing' = 'new';
  /** Failed attempts in a row, and the time (unix seconds) of the first of them. */
  private failures = 0;
  private failingSince = 0;
  private started = false;
  private stopped = false;

  constructor(options: ReporterOptions) {
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.clock = options.clock ?? (() => Date.now() / 1000);
  }

  get url(): string {
    return this.options.url;
  }

  /** Sends the first report now and keeps reporting until stop(). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.log.info(`reporting to ${this.options.url} every ${seconds(REPORT_INTERVAL_MS)}`);
    this.run();
  }

  /** Resolves when the attempt under way (if any) is over and the next one is scheduled. */
  settled(): Promise<void> {
    return this.cycle;
  }

  /** Stops reporting and withdraws the gateway with a DELETE, bounded by its deadline. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) this.scheduler.clear(this.timer);
    this.timer = null;
    this.inflight?.abort();
    await this.cycle;
    if (!this.started) return;
    const timeoutMs = this.options.withdrawTimeoutMs ?? WITHDRAW_TIMEOUT_MS;
    const { url, log } = this.options;
    try {
      const res = await this.fetch(url, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${this.options.key}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      const problem = statusProblem(res.status);
      if (problem) log.error(`withdrawing from ${url} failed: ${problem}`);
      else log.info(`withdrawn from ${url} (HTTP ${res.status})`);
    } catch (err) {
      log.error(`withdrawing from ${url} failed: ${describe(err, timeoutMs)}`);
    }
  }

  private run(): void {
    this.timer = null;
    if (this.stopped) return;
    this.cycle = this.attempt().then(() => {
      if (!this.stopped) {
        this.timer = this.scheduler.set(() => this.run(), reportDelay(this.failures));
      }
    });
  }

  private async attempt(): Promise<void> {
    const { url, log } = this.options;
    const timeoutMs = this.options.timeoutMs ?? REPORT_TIMEOUT_MS;
    const abort = new AbortController();
    this.inflight = abort;
    this.counters.sent++;
    let problem: string | null;
    let status = 0;
    try {
      const res = await this.fetch(url, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${this.options.key}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(this.options.report()),
        redirect: 'manual',
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      problem = statusProblem(status);
    } catch (err) {
      problem = describe(err, timeoutMs);
    } finally {
      this.inflight = null;
    }
    if (this.stopped) return; // aborted by stop(): not a failure of the resolver
    const now = this.clock();
    if (problem === null) {
      this.counters.lastSuccess = now;
      if (this.state === 'failing') {
        log.info(
          `report to ${url} accepted again (HTTP ${status}) after ${this.failures} failed ` +
            `attempt(s) since ${new Date(this.failingSince * 1000).toISOString()}`,
        );
      } else if (this.state === 'new') {
        log.info(`report accepted by ${url} (HTTP ${status})`);
      }
      this.state = 'ok';
      this.failures = 0;
      return;
    }
    this.counters.failed++;
    this.failures++;
    if (this.state !== 'failing') {
      this.state = 'failing';
      this.failingSince = now;
      log.error(
        `report to ${url} failed: ${problem}; retrying after ${seconds(reportDelay(1))}, ` +
          `backing off to ${seconds(REPORT_MAX_BACKOFF_MS)} (failures are counted in ` +
          `nat64d_reports_failed_total, not logged one by one)`,
      );
    }
  }
}
