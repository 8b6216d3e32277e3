import type { EngineEnv } from '../resolver/engine';
import { type Logger, RateLimitedLog, parseLogLevel } from './log';
import { type QueryEvent, queryLogRecord, rcodeName, shortClient, typeName } from './query-event';
import { formatAddress } from '../acl/address';

/** At most one line per reason, tenant and client network per minute for refused queries. */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * Logs refused and rate-limited queries (allowQuery, a wrong or missing tenant key, a tenant's
 * rate limit), rate-limited per reason, tenant and client /24 or /56 so a flood is one line a
 * minute with a count of those left out.
 */
export function refusalLogger(log: () => Logger, now: () => number = Date.now) {
  const limiter = new RateLimitedLog(REFUSAL_LOG_INTERVAL_MS, now);
  return (e: QueryEvent): void => {
    const reason = e.refused
      ? 'allow-query'
      : e.verdict === 'forbidden' || e.verdict === 'rate-limited'
        ? e.verdict
        : null;
    if (!reason) return;
    const net = shortClient(e.client, false);
    const tenant = e.tenant;
    limiter.maybe(`${reason}|${tenant ?? ''}|${net ?? ''}`, (suppressed) => {
      const client = e.client ? formatAddress(e.client) : null;
      log().info(
        { event: 'refused', reason, tenant, client, transport: e.transport, suppressed },
        `refused ${client ?? 'an unknown client'}: ${reason} (tenant ${tenant ?? DEFAULT_TENANT_LABEL})`,
      );
    });
  };
}

/** The worker's variables and bindings for logs, the query log and Analytics Engine. */
export interface ObsEnv {
  LOG_LEVEL?: string;
  QUERY_LOG?: string;
  QUERY_LOG_FULL_IP?: string;
  /** A Workers Analytics Engine dataset: one data point per query. */
  QUERY_ANALYTICS?: AnalyticsEngineDataset;
}

export function isOn(text: string | undefined): boolean {
  const t = text?.trim().toLowerCase() ?? '';
  return t === '1' || t === 'true' || t === 'yes' || t === 'on';
}

/** The tenant label of logs' and analytics' indexes for the deployment's own settings. */
export const DEFAULT_TENANT_LABEL = '(default)';

/**
 * One Analytics Engine data point: index = tenant; blobs = tenant, type, rcode (or the verdict,
 * e.g. `forbidden`), `synthesized` or '', `hit` or `miss`, transport; doubles = milliseconds,
 * synthesized (1/0), cache hit (1/0). No names and no addresses.
 */
export function analyticsPoint(e: QueryEvent): AnalyticsEngineDataPoint {
  const tenant = e.tenant ?? DEFAULT_TENANT_LABEL;
  return {
    indexes: [tenant],
    blobs: [
      tenant,
      e.qtype === null ? '' : typeName(e.qtype),
      e.rcode !== null ? rcodeName(e.rcode) : (e.verdict ?? ''),
      e.synthesized ? 'synthesized' : '',
      e.cacheHit ? 'hit' : 'miss',
      e.transport,
    ],
    doubles: [e.ms, e.synthesized ? 1 : 0, e.cacheHit ? 1 : 0],
  };
}

/**
 * The worker's observer: the query log through console (Workers Logs) when QUERY_LOG is set or
 * the tenant asks for it, a data point when QUERY_ANALYTICS is bound, refused clients logged.
 */
export function workerObserver(log: () => Logger) {
  const refusals = refusalLogger(log);
  return (e: QueryEvent, env: EngineEnv): void => {
    const o = env as ObsEnv;
    if (e.queryLog || isOn(o.QUERY_LOG)) {
      const rec = queryLogRecord(e, isOn(o.QUERY_LOG_FULL_IP));
      console.log(JSON.stringify({ level: 'info', ...rec, msg: 'query' }));
    }
    refusals(e);
    // A binding only (a plain variable of that name has no writeDataPoint): never the query's
    // problem if it is not one.
    if (typeof o.QUERY_ANALYTICS?.writeDataPoint === 'function') {
      o.QUERY_ANALYTICS.writeDataPoint(analyticsPoint(e));
    }
  };
}

/** The worker's log level, read from each request's env (a bad value: info, and one warning). */
export class WorkerLogLevel {
  level: ReturnType<typeof parseLogLevel> & string = 'info';
  private warned: string | null = null;

  update(env: ObsEnv | undefined, log: Logger): void {
    const parsed = parseLogLevel(env?.LOG_LEVEL, 'info');
    this.level = parsed ?? 'info';
    if (parsed === null && this.warned !== env?.LOG_LEVEL) {
      this.warned = env?.LOG_LEVEL ?? null;
      log.warn(
        { event: 'setting', variable: 'LOG_LEVEL' },
        `LOG_LEVEL: ${env?.LOG_LEVEL} is not one of trace, debug, info, warn, error, fatal; using info`,
      );
    }
  }
}
