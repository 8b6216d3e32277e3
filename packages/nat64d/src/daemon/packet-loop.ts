/**
 * The packet path: one TUN read batch -> Translator.translate for each packet -> emitted
 * packets collected in a WriteBatch -> one TUN write batch. Nothing thrown escapes a packet.
 * A TCP/IPv6 GSO super-packet (IFF_VNET_HDR with TCP offload) is translated like any packet;
 * what it emits is tagged with its gso entry so that the addon writes it as TCP/IPv4 GSO.
 */
import type { Emit } from '../core/types.js';
import type { TunDevice } from '../tun/tun-device.js';
import { GSO_UDP } from '../core/gso-segment.js';
import { WriteBatch } from '../tun/write-batch.js';

export interface PacketTranslator {
  translate(packet: Uint8Array, emit: Emit): void;
  /** Set to the gso entry around a TCP/IPv6 GSO super-packet (TUN offload), else 0. */
  gso?: number;
  /** A UDP GSO packet (gso entry with GSO_UDP) that can be translated whole; see Translator. */
  udpGsoWhole?(packet: Uint8Array, gso: number): boolean;
  /** A UDP GSO packet that cannot: segmented in software, each datagram translated. */
  translateUdpSegments?(packet: Uint8Array, gso: number, emit: Emit): void;
}

export interface LoopCounters {
  /** Read batches handled. */
  batches: number;
  /** Packets read from the TUN device. */
  packetsIn: number;
  /** Packets handed to the TUN device. */
  packetsOut: number;
  /** Exceptions caught around translate() (should stay 0: the core catches its own). */
  errors: number;
  /** TCP/IPv6 GSO super-packets read (IFF_VNET_HDR with TCP offload). */
  gsoIn: number;
}

export class PacketLoop {
  readonly counters: LoopCounters = {
    batches: 0,
    packetsIn: 0,
    packetsOut: 0,
    errors: 0,
    gsoIn: 0,
  };
  private readonly writer: WriteBatch;

  constructor(
    private readonly tun: TunDevice,
    private translator: PacketTranslator,
    private readonly slot: number,
  ) {
    this.writer = new WriteBatch((buf, meta, count, gso) => {
      this.counters.packetsOut += count;
      try {
        this.tun.writeBatch(buf, meta, count, gso);
      } catch {
        this.counters.errors++;
      }
    });
  }

  start(): void {
    this.tun.startReading(this.slot, (buf, lengths, count, slot, gso) =>
      this.onBatch(buf, lengths, count, slot, gso),
    );
  }

  stop(): void {
    this.tun.stopReading();
  }

  /** Swaps the translator (SIGHUP keeps the mapper; kept for tests and future reloads). */
  setTranslator(translator: PacketTranslator): void {
    this.translator = translator;
  }

  onBatch(
    buf: Uint8Array,
    lengths: Uint32Array,
    count: number,
    slot: number,
    gso: Uint32Array | null = null,
  ): void {
    this.counters.batches++;
    this.counters.packetsIn += count;
    const writer = this.writer;
    const emit = writer.push;
    for (let i = 0; i < count; i++) {
      const start = i * slot;
      const g = gso === null ? 0 : (gso[i] ?? 0);
      const packet = buf.subarray(start, start + (lengths[i] ?? 0));
      const t = this.translator;
      if (g !== 0) this.counters.gsoIn++;
      if ((g & GSO_UDP) !== 0 && !(t.udpGsoWhole?.(packet, g) ?? false)) {
        // A UDP GSO packet the fast path cannot take: its datagrams go out as plain packets.
        writer.currentGso = 0;
        if (t.gso) t.gso = 0;
        try {
          if (t.translateUdpSegments) t.translateUdpSegments(packet, g, emit);
          else this.counters.errors++;
        } catch {
          this.counters.errors++;
        }
        continue;
      }
      writer.currentGso = g;
      if (g !== 0 || t.gso) t.gso = g;
      try {
        t.translate(packet, emit);
      } catch {
        this.counters.errors++;
      }
    }
    writer.currentGso = 0;
    if (this.translator.gso) this.translator.gso = 0;
    writer.flush();
  }
}
