/**
 * Logging shared by the Node server (pino) and the worker (console, read by Workers Logs): one
 * JSON object per line with a level, a time and a message. The interface is pino's, so either
 * logger can be handed to code that runs on both.
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type LogFn = (fields: object, msg: string) => void;

/** What the resolver's code logs through (pino's Logger satisfies it). */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** A LOG_LEVEL value, or null when it is not one of LOG_LEVELS. */
export function parseLogLevel(text: string | undefined, fallback: LogLevel): LogLevel | null {
  const t = text?.trim().toLowerCase();
  if (!t) return fallback;
  return (LOG_LEVELS as readonly string[]).includes(t) ? (t as LogLevel) : null;
}

/**
 * The worker's logger: `console.log` of one JSON object, which Workers Logs index field by field
 * (`[observability] enabled = true` in wrangler.toml). `level` is read per line: the worker's
 * LOG_LEVEL comes with each request's env.
 */
export function consoleLogger(level: () => LogLevel): Logger {
  const at = (name: LogLevel): LogFn => {
    const rank = LOG_LEVELS.indexOf(name);
    return (fields, msg) => {
      if (rank < LOG_LEVELS.indexOf(level())) return;
      const line = { level: name, time: new Date().toISOString(), msg, ...fields };
      const text = safeJson(line);
      if (rank >= 4) console.error(text);
      else if (rank === 3) console.warn(text);
      else console.log(text);
    };
  };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify({ msg: String((value as { msg?: unknown }).msg) });
  }
}

/** A logger that drops everything (tests, and code given no logger). */
export const silentLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
};

/**
 * At most one line per key per interval: the first is written at once; later ones are counted,
 * and the next line written for that key says how many were left out (`suppressed`).
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
    /** Keys remembered at most (a flood of distinct keys cannot grow the map without bound). */
    private readonly maxKeys = 10_000,
  ) {}

  /** Calls `write(suppressed)` when a line for `key` may be written now. */
  maybe(key: string, write: (suppressed: number) => void): void {
    const t = this.now();
    const s = this.seen.get(key);
    if (s && t < s.until) {
      s.suppressed++;
      return;
    }
    const suppressed = s?.suppressed ?? 0;
    if (!s && this.seen.size >= this.maxKeys) this.seen.clear();
    this.seen.set(key, { until: t + this.intervalMs, suppressed: 0 });
    write(suppressed);
  }
}

/** A URL as logs and metric labels show it: user name and password replaced. */
export function redactUrl(url: string): string {
  return url.includes('@')
    ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1[redacted]@')
    : url;
}
