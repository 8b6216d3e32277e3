import { isIP } from 'node:net';
import { type LogLevel, LOG_LEVELS, parseLogLevel, redactUrl } from '../obs/log';

/** The observability settings of the self-hosted server (README: Self-hosted server). */
export interface ObsSettings {
  readonly logLevel: LogLevel;
  /** A query log line for every query (tenants with `queryLog` get one anyway). */
  readonly queryLog: boolean;
  /** The query log shows whole client addresses instead of their /24 or /56. */
  readonly queryLogFullIp: boolean;
  /** Where /metrics, /healthz and /readyz listen; null: METRICS_ADDR=off. */
  readonly metrics: { readonly host: string; readonly port: number } | null;
}

export const DEFAULT_METRICS_ADDR = '127.0.0.1:9153';

/**
 * LOG_LEVEL, QUERY_LOG, QUERY_LOG_FULL_IP and METRICS_ADDR, with every problem found (one
 * `VARIABLE: reason` each).
 */
export function parseObsSettings(
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; settings: ObsSettings } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const logLevel = parseLogLevel(env.LOG_LEVEL, 'info');
  if (logLevel === null) {
    problems.push(`LOG_LEVEL: ${env.LOG_LEVEL} is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const flag = (name: string): boolean => {
    const text = env[name];
    const t = text?.trim().toLowerCase() ?? '';
    if (t === '' || t === '0' || t === 'false' || t === 'no' || t === 'off') return false;
    if (t === '1' || t === 'true' || t === 'yes' || t === 'on') return true;
    problems.push(`${name}: ${text} is not true/false (1/0, yes/no, on/off)`);
    return false;
  };
  const queryLog = flag('QUERY_LOG');
  const queryLogFullIp = flag('QUERY_LOG_FULL_IP');
  const metrics = parseMetricsAddr(env.METRICS_ADDR);
  if (typeof metrics === 'string') problems.push(metrics);
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      logLevel: logLevel!,
      queryLog,
      queryLogFullIp,
      metrics: metrics as ObsSettings['metrics'],
    },
  };
}

/** `host:port`, `[v6]:port`, or `off`; a string is the problem. */
function parseMetricsAddr(text: string | undefined): ObsSettings['metrics'] | string {
  const t = text?.trim() || DEFAULT_METRICS_ADDR;
  if (t.toLowerCase() === 'off') return null;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(t);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || isIP(host) === 0 || !/^\d+$/.test(m[3]!) || port < 1 || port > 65535) {
    return `METRICS_ADDR: ${text} is not address:port (127.0.0.1:9153, [::1]:9153) or off`;
  }
  if (m[2] && isIP(host) === 6) {
    return `METRICS_ADDR: ${text}: write an IPv6 address in brackets, [${host}]:${port}`;
  }
  return { host, port };
}

/** What the start line shows: the effective settings, secrets left out. */
export function effectiveSettings(
  env: Readonly<Record<string, string | undefined>>,
  cfg: {
    readonly settings: { readonly upstreams: readonly string[]; readonly deadlineMs: number };
    readonly host: string | null;
    readonly httpPort: number;
    readonly dnsPort: number;
    readonly dotPort: number;
    readonly tls: unknown;
    readonly tenants: Readonly<Record<string, unknown>>;
    readonly dnsTenant: string | null;
    readonly trustProxy: boolean;
    readonly workers: number;
  },
  obs: ObsSettings,
): Record<string, unknown> {
  return {
    host: cfg.host ?? '::',
    port: cfg.httpPort,
    dnsPort: cfg.dnsPort,
    dotPort: cfg.tls ? cfg.dotPort : null,
    // Paths only: the files' contents (the private key) never reach a log.
    tlsCert: cfg.tls ? (env.TLS_CERT?.trim() ?? null) : null,
    tlsKey: cfg.tls ? (env.TLS_KEY?.trim() ?? null) : null,
    upstreams: cfg.settings.upstreams.map(redactUrl),
    dns64Prefix: env.DNS64_PREFIX?.trim() || '64:ff9b::/96',
    upstreamTimeoutMs: cfg.settings.deadlineMs,
    tenantsFile: env.TENANTS_FILE?.trim() || null,
    // Ids only: records hold keys.
    tenants: Object.keys(cfg.tenants),
    dnsTenant: cfg.dnsTenant,
    adminApi: env.ADMIN_TOKEN ? 'on (ADMIN_TOKEN [redacted])' : 'off',
    trustProxy: cfg.trustProxy,
    workers: cfg.workers,
    logLevel: obs.logLevel,
    queryLog: obs.queryLog,
    queryLogFullIp: obs.queryLogFullIp,
    metricsAddr: obs.metrics
      ? `${obs.metrics.host.includes(':') ? `[${obs.metrics.host}]` : obs.metrics.host}:${obs.metrics.port}`
      : 'off',
  };
}
