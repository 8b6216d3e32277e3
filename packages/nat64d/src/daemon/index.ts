export { Daemon, type DaemonOptions } from './daemon.js';
export { interfaceCommands, ipv4Routes, ipv6Routes, mapRouteChanges } from './interface-setup.js';
export { stderrLogger, type Logger } from './log.js';
export {
  renderJson,
  renderPrometheus,
  snakeCase,
  startMetricsServer,
  type Metric,
} from './metrics.js';
export { PacketLoop, type LoopCounters, type PacketTranslator } from './packet-loop.js';
export { fetchStats, formatSummary } from './stats-client.js';
