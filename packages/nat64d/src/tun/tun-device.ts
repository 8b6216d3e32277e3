/**
 * A TUN device (IFF_TUN | IFF_NO_PI): packets are read in batches (the addon drains the fd
 * until EAGAIN on each uv_poll readiness) and written in batches.
 */
import { loadTunAddon, type TunAddon, type TunHandle, type TunStats } from './native.js';

export interface TunOpenOptions {
  /** Reserved for several queues (IFF_MULTI_QUEUE); one queue for now. */
  readonly multiQueue?: boolean;
  /**
   * IFF_VNET_HDR: every packet carries a virtio_net_hdr, handled in the addon. Alone it only
   * lets the kernel hand over packets with partial checksums (completed in C); with
   * `enableTcp6Offload()` TCP/IPv6 arrives as GSO super-packets (see BatchHandler's `gso`).
   */
  readonly vnetHdr?: boolean;
  /** Packets per read batch. */
  readonly batchSize?: number;
}

/**
 * Receives a batch: packet i is `buf.subarray(i * slot, i * slot + lengths[i])`, valid during
 * the call. With IFF_VNET_HDR, `gso[i]` is the gso_size (| GSO_ECN) of a TCP/IPv6 GSO
 * super-packet (its TCP checksum field holds the complemented pseudo-header sum), or the
 * gso_size | GSO_UDP of a UDP GSO packet (the same for its UDP checksum field), else 0.
 */
export type BatchHandler = (
  buf: Uint8Array,
  lengths: Uint32Array,
  count: number,
  slot: number,
  gso: Uint32Array | null,
) => void;

/** Largest packet read from a device with TCP/IPv6 offload: a 64 KB GSO packet plus headers. */
export const GSO_SLOT = 65536 + 128;

export class TunDevice {
  readonly name: string;
  readonly batchSize: number;
  readonly vnetHdr: boolean;
  private readonly addon: TunAddon;
  private readonly handle: TunHandle;
  private closed = false;

  private constructor(addon: TunAddon, handle: TunHandle, batchSize: number, vnetHdr: boolean) {
    this.addon = addon;
    this.handle = handle;
    this.name = addon.name(handle);
    this.batchSize = batchSize;
    this.vnetHdr = vnetHdr;
  }

  static open(name: string, options: TunOpenOptions = {}): TunDevice {
    const addon = loadTunAddon();
    let flags = 0;
    if (options.multiQueue) flags |= addon.flags.MULTI_QUEUE;
    if (options.vnetHdr) flags |= addon.flags.VNET_HDR;
    return new TunDevice(
      addon,
      addon.open(name, flags),
      options.batchSize ?? 64,
      options.vnetHdr ?? false,
    );
  }

  /**
   * TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO6) on an IFF_VNET_HDR device: TCP over IPv6 is handed
   * over unsegmented (up to 64 KB, read slots must be GSO_SLOT). IPv4 TSO is not enabled: the
   * translator fragments IPv4 packets larger than the IPv6 MTU, which a GSO packet must not be.
   */
  enableTcp6Offload(): void {
    if (!this.vnetHdr) throw new Error('TCP offload needs an IFF_VNET_HDR device');
    this.addon.setOffload(this.handle, this.addon.flags.TUN_F_CSUM | this.addon.flags.TUN_F_TSO6);
  }

  /**
   * TCP/IPv6 offload as enableTcp6Offload, plus UDP GSO (TUN_F_USO4 | TUN_F_USO6, Linux >= 6.2)
   * when the kernel takes it: a run of same-flow UDP datagrams that the kernel kept together
   * (UDP GRO forwarding on the ingress device, or a sender's UDP_SEGMENT) is read at once, with
   * gso entries carrying GSO_UDP. Returns whether UDP GSO is on; an older kernel answers
   * EINVAL and gets TCP/IPv6 offload alone.
   */
  enableOffload(): boolean {
    if (!this.vnetHdr) throw new Error('TCP offload needs an IFF_VNET_HDR device');
    const f = this.addon.flags;
    try {
      this.addon.setOffload(this.handle, f.TUN_F_CSUM | f.TUN_F_TSO6 | f.TUN_F_USO4 | f.TUN_F_USO6);
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EINVAL') throw err;
    }
    this.enableTcp6Offload();
    return false;
  }

  /** The gso entry bit for UDP GSO (see BatchHandler). */
  get gsoUdpBit(): number {
    return this.addon.flags.GSO_UDP;
  }

  /**
   * Writes runs of same-flow IPv4 UDP datagrams of equal size (from one write batch) as one
   * VIRTIO_NET_HDR_GSO_UDP_L4 packet: the kernel forwards the run once and splits it back into
   * the same datagrams. Only datagrams with a valid checksum are coalesced.
   */
  setUdpCoalesce(on: boolean): void {
    this.addon.setUdpCoalesce(this.handle, on);
  }

  /** The gso entry bit for TCP ECN (see BatchHandler). */
  get gsoEcnBit(): number {
    return this.addon.flags.GSO_ECN;
  }

  setMtu(mtu: number): void {
    this.addon.setMtu(this.name, mtu);
  }

  /**
   * The device's transmit queue length: for a TUN device, how many packets the kernel holds
   * for the reader (the kernel's default is 500) before it drops them (TX dropped).
   */
  setTxQueueLen(len: number): void {
    this.addon.setTxQueueLen(this.name, len);
  }

  /** TUNSETPERSIST: the device outlives the process (Tayga's --mktun) or not (--rmtun). */
  setPersist(persist: boolean): void {
    this.addon.setPersist(this.handle, persist);
  }

  /** Starts delivering batches; `slot` must exceed the largest packet (MTU). */
  startReading(slot: number, onBatch: BatchHandler): void {
    const buf = new Uint8Array(slot * this.batchSize);
    const lengths = new Uint32Array(this.batchSize);
    const gso = this.vnetHdr ? new Uint32Array(this.batchSize) : null;
    this.addon.startReading(
      this.handle,
      buf,
      lengths,
      slot,
      (count) => onBatch(buf, lengths, count, slot, gso),
      gso ?? undefined,
    );
  }

  stopReading(): void {
    if (!this.closed) this.addon.stopReading(this.handle);
  }

  /**
   * Writes `count` packets; meta holds (offset, length) pairs; with IFF_VNET_HDR, gso[i] is the
   * gso entry of the GSO packet that packet i translates (else 0). Returns how many were written.
   */
  writeBatch(buf: Uint8Array, meta: Uint32Array, count: number, gso?: Uint32Array): number {
    if (this.closed || count === 0) return 0;
    return this.addon.writeBatch(this.handle, buf, meta, count, gso);
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
