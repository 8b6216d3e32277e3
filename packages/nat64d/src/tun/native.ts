/** Typed view of the C addon (native/tun.c), built by node-gyp into build/Release/tun.node. */
import { createRequire } from 'node:module';

declare const handleBrand: unique symbol;
/** An open TUN queue (napi_external). */
export type TunHandle = { readonly [handleBrand]: true };

export interface TunStats {
  readPackets: number;
  readBatches: number;
  readErrors: number;
  writePackets: number;
  writeErrors: number;
  readTruncated: number;
}

export interface TunAddon {
  readonly flags: { readonly MULTI_QUEUE: number; readonly VNET_HDR: number };
  open(name: string, flags: number): TunHandle;
  name(handle: TunHandle): string;
  fd(handle: TunHandle): number;
  setMtu(name: string, mtu: number): void;
  setPersist(handle: TunHandle, persist: boolean): void;
  startReading(
    handle: TunHandle,
    buf: Uint8Array,
    lengths: Uint32Array,
    slot: number,
    onBatch: (count: number) => void,
  ): void;
  stopReading(handle: TunHandle): void;
  writeBatch(handle: TunHandle, buf: Uint8Array, meta: Uint32Array, count: number): number;
  stats(handle: TunHandle): TunStats;
  close(handle: TunHandle): void;
}

let addon: TunAddon | null = null;

/** Loads the addon (src/tun and dist/tun are both two levels below the package). */
export function loadTunAddon(): TunAddon {
  if (!addon) {
    const require = createRequire(import.meta.url);
    addon = require('../../build/Release/tun.node') as TunAddon;
  }
  return addon;
}
