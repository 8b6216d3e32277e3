export { ConfigError, formatIssue, type ConfigIssue } from './errors.js';
export {
  DEFAULT_METRICS,
  DEFAULT_TUN_MTU,
  parseListenAddress,
  parseTaygaConf,
  readTaygaConf,
  type ParseOptions,
} from './tayga-conf.js';
export { toTranslatorConfig } from './translator-config.js';
export type { Nat64dConfig, StaticMapEntry } from './types.js';
export * from './addr.js';
