/** The RFC 7915 stateless IP/ICMP translator: one packet from the TUN device in, packets out. */
import { TranslatorContext } from './context.js';
import type { Counters } from './counters.js';
import { rd32 } from './bytes.js';
import { GSO_SIZE_MASK, GSO_UDP, segmentTcp4, segmentUdp4, segmentUdp6 } from './gso-segment.js';
import { CHAIN_OK } from './ipv6.js';
import { local4, local6 } from './local.js';
import type { AddressMapper, Emit, StatefulMapper, TranslatorConfig } from './types.js';
import { translate4to6 } from './xlate4to6.js';
import { translate6to4, udpGsoWhole } from './xlate6to4.js';

export class Translator {
  private readonly ctx: TranslatorContext;
  /** Live counters (mutated in place; read them, do not replace them). */
  readonly counters: Counters;
  /** Stateful mode: the caller's emit while an IPv6 packet is translated (for hairpinning). */
  private downstream: Emit = () => undefined;
  private readonly hairpinEmit: Emit;
  /** Translates one segment of a hairpinned GSO packet back to IPv6. */
  private readonly hairpinSegment: Emit;

  /**
   * Stateless (RFC 7915 with the AddressMapper) or, with `stateful`, stateful NAT64 (RFC 6146):
   * IPv6 sources the mapper does not know and IPv4 destinations in pool4 go through the
   * session tables, which also rewrite ports and ICMP identifiers.
   */
  constructor(config: TranslatorConfig, mapper: AddressMapper, stateful?: StatefulMapper) {
    this.ctx = new TranslatorContext(config, mapper, stateful ?? null);
    this.counters = this.ctx.counters;
    this.hairpinEmit = (p) => this.hairpin(p);
    this.hairpinSegment = (p) => translate4to6(this.ctx, p, this.downstream);
  }

  /**
   * The gso entry (gso_size | ECN bit) of the next packets, set by the packet loop around a
   * TCP/IPv6 GSO super-packet read with TUN offload (its TCP checksum is partial), else 0.
   */
  set gso(value: number) {
    this.ctx.gso = value;
  }

  get gso(): number {
    return this.ctx.gso;
  }

  /**
   * RFC 6146 §3.8 hairpinning: an IPv6 packet whose translation is addressed to a pool4
   * address goes back through the IPv4 -> IPv6 path instead of out of the device.
   */
  private hairpin(p: Uint8Array): void {
    const st = this.ctx.stateful;
    if (st !== null && p.length >= 20 && p[0]! >>> 4 === 4 && st.isPoolAddress(rd32(p, 16))) {
      const copy = this.ctx.hairpin;
      copy.set(p);
      this.counters.hairpinned++;
      const gso = this.ctx.gso;
      if (gso !== 0) {
        // A GSO super-packet cannot turn back into IPv6 as one packet (the 4 -> 6 path would
        // fragment it or answer Fragmentation Needed): it is segmented as the kernel would,
        // and each segment, with a full checksum, goes back like an ordinary packet.
        this.ctx.gso = 0;
        try {
          const pkt = copy.subarray(0, p.length);
          const split =
            (gso & GSO_UDP) !== 0
              ? segmentUdp4(pkt, gso & GSO_SIZE_MASK, this.ctx.segment, this.hairpinSegment)
              : segmentTcp4(pkt, gso & GSO_SIZE_MASK, this.ctx.segment, this.hairpinSegment);
          if (!split) translate4to6(this.ctx, pkt, this.downstream);
        } finally {
          this.ctx.gso = gso;
        }
        return;
      }
      translate4to6(this.ctx, copy.subarray(0, p.length), this.downstream);
      return;
    }
    this.downstream(p);
  }

  /**
   * A UDP GSO packet read with TUN UDP offload (`gso` = gso_size | GSO_UDP): true when it can be
   * translated whole (set `gso` to it and call translate: one UDP/IPv4 GSO packet comes out,
   * to be written with the same gso entry), false when it must go through
   * translateUdpSegments. See udpGsoWhole (xlate6to4.ts).
   */
  udpGsoWhole(packet: Uint8Array, gso: number): boolean {
    return udpGsoWhole(this.ctx, packet, gso);
  }

  /**
   * A UDP GSO packet (IPv4 or IPv6) that is not translated whole: split into its datagrams in
   * software, as the kernel would, each with a full checksum, and each translated as an
   * ordinary packet (its own counters, ICMP errors, fragments, hairpin). `gso` must be 0 while
   * this runs (the outputs are ordinary packets).
   */
  translateUdpSegments(packet: Uint8Array, gso: number, emit: Emit): void {
    const size = gso & GSO_SIZE_MASK;
    const each = (segment: Uint8Array): void => this.translate(segment, emit);
    const scratch = this.ctx.udpSegmentScratch;
    let ok = false;
    try {
      const version = packet.length > 0 ? packet[0]! >>> 4 : 0;
      if (version === 4) ok = segmentUdp4(packet, size, scratch, each);
      else if (version === 6 && packet.length >= 48) {
        let l4 = 40;
        if (packet[6] !== 17) {
          // Extension headers before the UDP header (GRO keeps them): find it.
          const chain = this.ctx.chain;
          chain.walk(packet, 0, Math.min(40 + (packet[4]! << 8) + packet[5]!, packet.length));
          l4 =
            chain.status === CHAIN_OK && chain.upper === 17 && !chain.hasFragment
              ? chain.l4Offset
              : -1;
        }
        ok = l4 >= 40 && segmentUdp6(packet, l4, size, scratch, each);
      }
    } catch {
      this.counters.dropInternalError++;
      return;
    }
    // Not a UDP GSO packet as the kernel makes them: its checksum is partial, so it cannot
    // go on as it is.
    if (!ok) this.counters.dropMalformed++;
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
      if (version === 4) {
        if (!local4(this.ctx, packet, emit)) translate4to6(this.ctx, packet, emit);
      } else if (version === 6) {
        if (local6(this.ctx, packet, emit)) return;
        if (this.ctx.stateful === null) translate6to4(this.ctx, packet, emit);
        else {
          this.downstream = emit;
          translate6to4(this.ctx, packet, this.hairpinEmit);
        }
      } else this.counters.dropMalformed++;
    } catch {
      this.counters.dropInternalError++;
    }
  }
}
