export {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_HOST,
  DEFAULT_TIMEOUTS,
  StatefulNat,
  poolSpecs,
  type BibView,
  type ProtocolStats,
  type ReconfigureResult,
  type SessionView,
  type StatefulNatOptions,
} from './nat.js';
export { HostTable } from './host-table.js';
export { PortPool, type PortRangeSpec } from './port-pool.js';
export {
  END_REASON_NAMES,
  EndReason,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  Refusal,
  SessionTable,
  TCP_FIN,
  TCP_RST,
  TCP_STATE_NAMES,
  TCP_SYN,
  TcpState,
  type NatShared,
  type TableCounters,
  type Timeouts,
} from './session-table.js';
export { SlotIndex, hashStep, mix32, type IndexKeys } from './slot-index.js';
