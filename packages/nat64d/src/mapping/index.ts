export {
  TaygaAddressMapper,
  type MapperCounters,
  type MapperOptions,
  type RejectedMapping,
} from './address-mapper.js';
export {
  DEFAULT_LEASE_SECONDS,
  DynamicPool,
  type DynamicMapping,
  type DynamicPoolCounters,
} from './dynamic-pool.js';
export { Ipv4Table, Ipv6Table } from './hash-tables.js';
export {
  DYNAMIC_MAP_FILE,
  dynamicMapPath,
  loadMappings,
  parseMappings,
  saveMappings,
  saveRejected,
  type SetAside,
  serializeMappings,
} from './persistence.js';
export { StaticMapTable } from './static-maps.js';
