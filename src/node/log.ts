/**
 * The self-hosted server's logs: pino, one JSON object per line on standard output, with the
 * level as its name (`"level":"info"`) and an ISO time. `log` is the process's logger; its
 * level is LOG_LEVEL once the settings are read. The query log (`queryLog`) is a logger of its
 * own, always at info, so LOG_LEVEL=warn does not silence a QUERY_LOG the operator asked for.
 */
import { pino } from 'pino';
import type { LogLevel } from '../obs/log';

/** Fields pino replaces by `[redacted]` wherever a line carries them. */
const REDACT = [
  'adminToken',
  'ADMIN_TOKEN',
  '*.adminToken',
  '*.ADMIN_TOKEN',
  'key',
  '*.key',
  '*.*.key',
  'authorization',
  '*.authorization',
];

function create(level: string): pino.Logger {
  return pino({
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}

/** The server's logger at LOG_LEVEL (upstream health, refused clients, admin changes, ...). */
export const log: pino.Logger = create('info');

/**
 * The lines of the server's life (start with its settings, ready, draining, reloads, a worker
 * that died): written whatever LOG_LEVEL says, one line each per event, so an operator always
 * sees what the process is doing and tests can wait for `ready:`.
 */
export const lifecycleLog: pino.Logger = create('info');

/**
 * The query log: one line per query (QUERY_LOG=1 or a tenant's queryLog), its fields from
 * queryLogRecord (src/obs/query-event.ts), `time` included, and `"msg":"query"`.
 */
export const queryLog: pino.Logger = pino({
  level: 'info',
  base: null,
  timestamp: false,
  formatters: { level: (label) => ({ level: label }) },
});

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
