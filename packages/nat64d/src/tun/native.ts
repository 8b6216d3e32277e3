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
  /** IFF_VNET_HDR: TCP/IPv6 GSO super-packets read, TCP/IPv4 GSO packets written. */
  gsoIn: number;
  gsoOut: number;
  /** IFF_VNET_HDR: partial checksums completed in C before a packet reached JS. */
  csumCompleted: number;
  /** IFF_VNET_HDR: packets read with a GSO type nat64d did not ask for (dropped). */
  vnetDropped: number;
  /** IFF_VNET_HDR: coalesced UDP/IPv4 writes (GSO_UDP_L4) and the datagrams they carried. */
  usoWrites: number;
  usoDatagrams: number;
  /** IFF_VNET_HDR with TUN_F_USO4/USO6: UDP GSO packets read, translated UDP GSO packets written. */
  usoIn: number;
  usoOut: number;
}

export interface TunAddon {
  readonly flags: {
    readonly MULTI_QUEUE: number;
    readonly VNET_HDR: number;
    readonly TUN_F_CSUM: number;
    readonly TUN_F_TSO6: number;
    /** In a gso entry: the GSO packet carried TCP ECN. */
    readonly GSO_ECN: number;
    /** In a gso entry: a UDP GSO packet (GSO_UDP_L4); core/gso-segment.ts GSO_UDP. */
    readonly GSO_UDP: number;
    /** TUNSETOFFLOAD: UDP GSO packets handed over (Linux >= 6.2; both or neither). */
    readonly TUN_F_USO4: number;
    readonly TUN_F_USO6: number;
  };
  open(name: string, flags: number): TunHandle;
  name(handle: TunHandle): string;
  fd(handle: TunHandle): number;
  setMtu(name: string, mtu: number): void;
  /** SIOCSIFTXQLEN: packets the kernel queues for the reader before it drops. */
  setTxQueueLen(name: string, len: number): void;
  setPersist(handle: TunHandle, persist: boolean): void;
  /** TUNSETOFFLOAD (IFF_VNET_HDR devices only). */
  setOffload(handle: TunHandle, tunFlags: number): void;
  /** Coalesce runs of same-flow UDP/IPv4 datagrams into GSO_UDP_L4 writes (vnet only). */
  setUdpCoalesce(handle: TunHandle, on: boolean): void;
  startReading(
    handle: TunHandle,
    buf: Uint8Array,
    lengths: Uint32Array,
    slot: number,
    onBatch: (count: number) => void,
    /** IFF_VNET_HDR: per packet gso_size (| GSO_ECN, | GSO_UDP) of a GSO packet, else 0. */
    gso?: Uint32Array,
  ): void;
  stopReading(handle: TunHandle): void;
  writeBatch(
    handle: TunHandle,
    buf: Uint8Array,
    meta: Uint32Array,
    count: number,
    /** IFF_VNET_HDR: per packet, the gso entry of the GSO packet it translates, else 0. */
    gso?: Uint32Array,
  ): number;
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
