export { Translator } from './translator.js';
export { COUNTER_NAMES, createCounters, type CounterName, type Counters } from './counters.js';
// RFC 6052 and the special-purpose registry live in the shared nat64-addr package.
export {
  embedIpv4,
  extractIpv4,
  isGlobalIpv4,
  isWellKnownPrefix,
  matchesPrefix,
  RFC6052_PREFIX_LENGTHS as PREFIX_LENGTHS,
  WELL_KNOWN_PREFIX,
} from 'nat64-addr';
export type {
  AddressMapper,
  StatefulMapper,
  Emit,
  Nat64Prefix,
  TranslatorConfig,
  UdpChecksumMode,
} from './types.js';
