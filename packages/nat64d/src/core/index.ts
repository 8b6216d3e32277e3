export { Translator } from './translator.js';
export { COUNTER_NAMES, createCounters, type CounterName, type Counters } from './counters.js';
export {
  embedIpv4,
  extractIpv4,
  isGlobalIpv4,
  isWellKnownPrefix,
  makeNat64Prefix,
  matchesPrefix,
  PREFIX_LENGTHS,
  WELL_KNOWN_PREFIX,
} from './rfc6052.js';
export type {
  AddressMapper,
  StatefulMapper,
  Emit,
  Nat64Prefix,
  TranslatorConfig,
  UdpChecksumMode,
} from './types.js';
