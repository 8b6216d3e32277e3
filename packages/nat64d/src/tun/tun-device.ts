/**
 * A TUN device (IFF_TUN | IFF_NO_PI): packets are read in batches (the addon drains the fd
 * until EAGAIN on each uv_poll readiness) and written in batches.
 */
import { loadTunAddon, type TunAddon, type TunHandle, type TunStats } from './native.js';

export interface TunOpenOptions {
  /** Reserved for several queues (IFF_MULTI_QUEUE); one queue for now. */
  readonly multiQueue?: boolean;
  /** Reserved for GSO/checksum offload (IFF_VNET_HDR); not used yet. */
  readonly vnetHdr?: boolean;
  /** Packets per read batch. */
  readonly batchSize?: number;
}

/** Receives a batch: packet i is `buf.subarray(i * slot, i * slot + lengths[i])`, valid during the call. */
export type BatchHandler = (
  buf: Uint8Array,
  lengths: Uint32Array,
  count: number,
  slot: number,
) => void;

export class TunDevice {
  readonly name: string;
  readonly batchSize: number;
  private readonly addon: TunAddon;
  private readonly handle: TunHandle;
  private closed = false;

  private constructor(addon: TunAddon, handle: TunHandle, batchSize: number) {
    this.addon = addon;
    this.handle = handle;
    this.name = addon.name(handle);
    this.batchSize = batchSize;
  }

  static open(name: string, options: TunOpenOptions = {}): TunDevice {
    const addon = loadTunAddon();
    let flags = 0;
    if (options.multiQueue) flags |= addon.flags.MULTI_QUEUE;
    if (options.vnetHdr) flags |= addon.flags.VNET_HDR;
    return new TunDevice(addon, addon.open(name, flags), options.batchSize ?? 64);
  }

  setMtu(mtu: number): void {
    this.addon.setMtu(this.name, mtu);
  }

  /** TUNSETPERSIST: the device outlives the process (Tayga's --mktun) or not (--rmtun). */
  setPersist(persist: boolean): void {
    this.addon.setPersist(this.handle, persist);
  }

  /** Starts delivering batches; `slot` must exceed the largest packet (MTU). */
  startReading(slot: number, onBatch: BatchHandler): void {
    const buf = new Uint8Array(slot * this.batchSize);
    const lengths = new Uint32Array(this.batchSize);
    this.addon.startReading(this.handle, buf, lengths, slot, (count) =>
      onBatch(buf, lengths, count, slot),
    );
  }

  stopReading(): void {
    if (!this.closed) this.addon.stopReading(this.handle);
  }

  /** Writes `count` packets; meta holds (offset, length) pairs. Returns how many were written. */
  writeBatch(buf: Uint8Array, meta: Uint32Array, count: number): number {
    if (this.closed || count === 0) return 0;
    return this.addon.writeBatch(this.handle, buf, meta, count);
  }

  stats(): TunStats {
    return this.addon.stats(this.handle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.handle);
  }
}
