/** State shared by both translation directions: config, mapper, counters, reused buffers. */
import { createCounters, type Counters } from './counters.js';
import { Ipv6Chain } from './ipv6.js';
import { embedIpv4, extractIpv4, isGlobalIpv4, isWellKnownPrefix, matchesPrefix } from 'nat64-addr';
import type { AddressMapper, StatefulMapper, TranslatorConfig } from './types.js';

/** Largest IPv4 packet (65535) grown by IPv6 header (+20) and a Fragment header (+8). */
export const OUT_CAPACITY = 65535 + 28 + 8;
/** ICMPv6 errors never exceed the IPv6 minimum MTU (RFC 4443 §2.4 (c)). */
export const ICMP6_ERROR_MAX = 1280;
/** ICMPv4 errors never exceed 576 bytes (RFC 1812 §4.3.2.3). */
export const ICMP4_ERROR_MAX = 576;

export const ADDR_OK = 0;
export const ADDR_NO_MAPPING = -1;
export const ADDR_NON_GLOBAL = -2;

export class TranslatorContext {
  readonly counters: Counters = createCounters();
  /** Translated packet under construction. */
  readonly out = new Uint8Array(OUT_CAPACITY);
  /** One IPv6 fragment at a time when a translated packet must be split. */
  readonly frag = new Uint8Array(OUT_CAPACITY);
  /** ICMP errors originated by the translator. */
  readonly err = new Uint8Array(ICMP6_ERROR_MAX);
  readonly chain = new Ipv6Chain();
  readonly innerChain = new Ipv6Chain();
  /** Largest IPv6 packet to emit: offlink-mtu, bounded by the TUN MTU, never below 1280. */
  readonly ipv6Mtu: number;
  /** Largest IPv4 packet to emit (the TUN MTU). */
  readonly ipv4Mtu: number;
  /** wkpf-strict in effect: the prefix is 64:ff9b::/96 (RFC 8215 64:ff9b:1::/48 is exempt). */
  readonly wkpfStrict: boolean;
  /** Stateful NAT64: the port (ICMP identifier) the stateful mapper chose for this packet, or -1. */
  statefulPort = -1;
  /** Stateful NAT64: a copy of an IPv4 packet being hairpinned back to IPv6. */
  readonly hairpin: Uint8Array;
  private lastId = 0;

  constructor(
    readonly config: TranslatorConfig,
    readonly mapper: AddressMapper,
    readonly stateful: StatefulMapper | null = null,
  ) {
    this.hairpin = new Uint8Array(stateful ? OUT_CAPACITY : 0);
    this.ipv4Mtu = Math.min(Math.max(config.tunMtu, 68), 65535);
    this.ipv6Mtu = Math.max(Math.min(config.ipv6Mtu, config.tunMtu, 65535), 1280);
    this.wkpfStrict = config.wkpfStrict && isWellKnownPrefix(config.prefix);
  }

  /** RFC 7915 §5.1 "Fragment Identification generator" for IPv4 packets with no Fragment header. */
  nextIpv4Id(): number {
    this.lastId = (this.lastId + 1) & 0xffff;
    return this.lastId;
  }

  /**
   * An IPv4 source (or an address inside an ICMP error) -> IPv6 at out[off..off+16):
   * mapper (static map) first, then the RFC 6052 prefix. ADDR_OK or a negative ADDR_ code.
   */
  map4to6(ipv4: number, out: Uint8Array, off: number): number {
    if (this.mapper.map4to6(ipv4, out, off)) return ADDR_OK;
    if (this.wkpfStrict && !isGlobalIpv4(ipv4)) return ADDR_NON_GLOBAL;
    embedIpv4(this.config.prefix, ipv4, out, off);
    return ADDR_OK;
  }

  /**
   * An IPv6 destination (or an address inside an ICMP error) -> IPv4: inside the prefix by
   * RFC 6052 extraction, otherwise the mapper (never creating a dynamic mapping). An address
   * inside the prefix whose bits 64-71 are not zero embeds no IPv4 address (RFC 6052 §2.2 says
   * they MUST be zero; its "SHOULD ignore" is about the suffix bits): it has no mapping.
   */
  map6to4(addr: Uint8Array, off: number): number {
    const prefix = this.config.prefix;
    if (matchesPrefix(prefix, addr, off)) {
      const v4 = extractIpv4(prefix, addr, off);
      if (v4 < 0) return ADDR_NO_MAPPING;
      if (this.wkpfStrict && !isGlobalIpv4(v4)) return ADDR_NON_GLOBAL;
      return v4;
    }
    const v4 = this.mapper.map6to4(addr, off, false);
    return v4 < 0 ? ADDR_NO_MAPPING : v4;
  }

  /** Counts a failed address translation by its ADDR_ code. */
  countAddressFailure(code: number): void {
    if (code === ADDR_NON_GLOBAL) this.counters.dropWkpfNonGlobal++;
    else this.counters.dropNoMapping++;
  }
}
