/** The RFC 7915 stateless IP/ICMP translator: one packet from the TUN device in, packets out. */
import { TranslatorContext } from './context.js';
import type { Counters } from './counters.js';
import type { AddressMapper, Emit, TranslatorConfig } from './types.js';
import { translate4to6 } from './xlate4to6.js';
import { translate6to4 } from './xlate6to4.js';

export class Translator {
  private readonly ctx: TranslatorContext;
  /** Live counters (mutated in place; read them, do not replace them). */
  readonly counters: Counters;

  constructor(config: TranslatorConfig, mapper: AddressMapper) {
    this.ctx = new TranslatorContext(config, mapper);
    this.counters = this.ctx.counters;
  }

  /**
   * Translates one IPv4 or IPv6 packet (chosen by the version nibble). Emits the translation,
   * its fragments or an ICMP error toward the sender. Never throws: bad input is counted and
   * dropped; an exception (from a bug or from `emit`) is counted as dropInternalError.
   */
  translate(packet: Uint8Array, emit: Emit): void {
    try {
      if (packet.length === 0) {
        this.counters.dropTruncated++;
        return;
      }
      const version = packet[0]! >>> 4;
      if (version === 4) translate4to6(this.ctx, packet, emit);
      else if (version === 6) translate6to4(this.ctx, packet, emit);
      else this.counters.dropMalformed++;
    } catch {
      this.counters.dropInternalError++;
    }
  }
}
