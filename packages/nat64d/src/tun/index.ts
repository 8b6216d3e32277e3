export { GSO_SLOT, TunDevice, type BatchHandler, type TunOpenOptions } from './tun-device.js';
export { WriteBatch } from './write-batch.js';
export { loadTunAddon, type TunAddon, type TunHandle, type TunStats } from './native.js';
