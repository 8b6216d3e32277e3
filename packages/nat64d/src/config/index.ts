export { ConfigError, formatIssue, type ConfigIssue } from './errors.js';
export {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_HOST,
  DEFAULT_METRICS,
  DEFAULT_TUN_MTU,
  DEFAULT_TUN_QUEUE_LEN,
  parseListenAddress,
  parseTaygaConf,
  readTaygaConf,
  type ParseOptions,
} from './tayga-conf.js';
export {
  REPORT_KEY_ENV,
  REPORT_URL_ENV,
  reportKeyProblem,
  reportUrlProblem,
  type ReportSettings,
} from './report.js';
export { toTranslatorConfig } from './translator-config.js';
export {
  NAT_PROTOCOLS,
  type Nat64dConfig,
  type NatProtocol,
  type Pool4Entry,
  type StatefulSettings,
  type StaticBibEntry,
  type StaticMapEntry,
} from './types.js';
export * from './addr.js';
