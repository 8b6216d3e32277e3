/**
 * The packet path: one TUN read batch -> Translator.translate for each packet -> emitted
 * packets collected in a WriteBatch -> one TUN write batch. Nothing thrown escapes a packet.
 */
import type { Emit } from '../core/types.js';
import type { TunDevice } from '../tun/tun-device.js';
import { WriteBatch } from '../tun/write-batch.js';

export interface PacketTranslator {
  translate(packet: Uint8Array, emit: Emit): void;
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
}

export class PacketLoop {
  readonly counters: LoopCounters = { batches: 0, packetsIn: 0, packetsOut: 0, errors: 0 };
  private readonly writer: WriteBatch;

  constructor(
    private readonly tun: TunDevice,
    private translator: PacketTranslator,
    private readonly slot: number,
  ) {
    this.writer = new WriteBatch((buf, meta, count) => {
      this.counters.packetsOut += count;
      try {
        this.tun.writeBatch(buf, meta, count);
      } catch {
        this.counters.errors++;
      }
    });
  }

  start(): void {
    this.tun.startReading(this.slot, (buf, lengths, count, slot) =>
      this.onBatch(buf, lengths, count, slot),
    );
  }

  stop(): void {
    this.tun.stopReading();
  }

  /** Swaps the translator (SIGHUP keeps the mapper; kept for tests and future reloads). */
  setTranslator(translator: PacketTranslator): void {
    this.translator = translator;
  }

  onBatch(buf: Uint8Array, lengths: Uint32Array, count: number, slot: number): void {
    this.counters.batches++;
    this.counters.packetsIn += count;
    const emit = this.writer.push;
    for (let i = 0; i < count; i++) {
      const start = i * slot;
      try {
        this.translator.translate(buf.subarray(start, start + (lengths[i] ?? 0)), emit);
      } catch {
        this.counters.errors++;
      }
    }
    this.writer.flush();
  }
}
