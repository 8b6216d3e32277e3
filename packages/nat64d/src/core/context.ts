/** State shared by both translation directions: config, mapper, counters, reused buffers. */
import { createCounters, type Counters } from './counters.js';
import { Ipv6Chain } from './ipv6.js';
import { embedIpv4, extractIpv4, isGlobalIpv4, isWellKnownPrefix, matchesPrefix } from 'nat64-addr';
import { StatefulFragments } from './stateful-fragments.js';
import type { AddressMapper, StatefulMapper, TranslatorConfig } from './types.js';

/** Largest IPv4 packet (65535) grown by IPv6 header (+20) and a Fragment header (+8). */
export const OUT_CAPACITY = 65535 + 28 + 8;
/** ICMPv6 errors never exceed the IPv6 minimum MTU (RFC 4443 §2.4 (c)). */
export const ICMP6_ERROR_MAX = 1280;
/** ICMPv4 errors never exceed 576 bytes (RFC 1812 §4.3.2.3). */
export const ICMP4_ERROR_MAX = 576;

/** ICMP errors the translator may originate per second (and at once), per address family. */
export const DEFAULT_ICMP_ERROR_RATE = 100;

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
  /**
   * RFC 7915 §4.1 "lowest-ipv6-mtu" (offlink-mtu, bounded by the TUN MTU, never below 1280):
   * DF-clear IPv4 packets whose translation is larger are fragmented to it.
   */
  readonly lowestIpv6Mtu: number;
  /** MTU of the IPv6 next hop (the TUN device): DF-set packets only have to fit it. */
  readonly ipv6NextHopMtu: number;
  /** MTU of the IPv4 next hop (the TUN device), as reported to IPv6 senders. */
  readonly ipv4NextHopMtu: number;
  /** Largest IPv4 packet to emit: the IPv4 next-hop MTU, or 65535 with TCP offload. */
  readonly ipv4MaxPacket: number;
  /** ICMP error rate limit: tokens per millisecond and bucket size (RFC 4443 §2.4 (f)). */
  private readonly icmpRate: number;
  private readonly icmpBurst: number;
  private readonly clock: () => number;
  private icmp4Tokens: number;
  private icmp4Time = -1;
  private icmp6Tokens: number;
  private icmp6Time = -1;
  /** wkpf-strict in effect: the prefix is 64:ff9b::/96 (RFC 8215 64:ff9b:1::/48 is exempt). */
  readonly wkpfStrict: boolean;
  /** IPv6 -> IPv4: the IPv4 destination of the packet being translated (checked unicast). */
  dst4 = 0;
  /** Stateful NAT64: the port (ICMP identifier) the stateful mapper chose for this packet, or -1. */
  statefulPort = -1;
  /** Stateful NAT64: a copy of an IPv4 packet being hairpinned back to IPv6. */
  readonly hairpin: Uint8Array;
  /**
   * The packet being translated is a TCP/IPv6 GSO super-packet (TUN offload): its gso entry
   * (gso_size | ECN bit), else 0. Its TCP checksum field holds a partial (pseudo-header) sum,
   * so only pseudo-header changes may go into it; a stateful hairpin segments it first.
   * With GSO_UDP (gso-segment.ts) set, a UDP/IPv6 GSO packet that udpGsoWhole accepted: a
   * run of datagrams of (gso & GSO_SIZE_MASK) payload bytes, translated once.
   */
  gso = 0;
  /** Stateful NAT64: one segment at a time when a hairpinned GSO packet is segmented. */
  readonly segment: Uint8Array;
  /** One datagram at a time when a UDP GSO packet is segmented in software (lazily made). */
  private udpScratch: Uint8Array | null = null;
  /** Stateful NAT64: fragment identities -> translations of their first fragment (RFC 6146 §3.4). */
  readonly fragments: StatefulFragments | null;
  /** Stateful NAT64: the packet just translated was a first fragment; release its held ones. */
  releaseFragments = false;
  private lastId = 0;

  constructor(
    readonly config: TranslatorConfig,
    readonly mapper: AddressMapper,
    readonly stateful: StatefulMapper | null = null,
  ) {
    this.hairpin = new Uint8Array(stateful ? OUT_CAPACITY : 0);
    this.segment = new Uint8Array(stateful ? 65536 : 0);
    this.ipv4NextHopMtu = Math.min(Math.max(config.tunMtu, 68), 65535);
    this.ipv4MaxPacket = Math.min(Math.max(config.ipv4MaxPacket ?? config.tunMtu, 68), 65535);
    this.ipv6NextHopMtu = Math.max(Math.min(config.tunMtu, 65535), 1280);
    this.lowestIpv6Mtu = Math.max(Math.min(config.ipv6Mtu, this.ipv6NextHopMtu), 1280);
    const rate = config.icmpErrorRate ?? DEFAULT_ICMP_ERROR_RATE;
    this.icmpRate = Math.max(rate, 0) / 1000;
    this.icmpBurst = rate > 0 ? Math.max(config.icmpErrorBurst ?? rate, 1) : 0;
    this.icmp4Tokens = this.icmpBurst;
    this.icmp6Tokens = this.icmpBurst;
    this.clock = config.clock ?? (() => performance.now());
    this.fragments = stateful
      ? new StatefulFragments(Math.max(config.tunMtu, 1280), this.clock, this.counters)
      : null;
    this.wkpfStrict = config.wkpfStrict && isWellKnownPrefix(config.prefix);
  }

  /**
   * Takes a token for an ICMPv4 (family 4) or ICMPv6 error the translator originates; false
   * when the bucket is empty (RFC 4443 §2.4 (f) token bucket, RFC 1812 §4.3.2.8). Reads the
   * clock only when an error is about to be sent.
   */
  allowIcmpError(family: 4 | 6): boolean {
    if (this.icmpBurst === 0) return false;
    const now = this.clock();
    let tokens = family === 4 ? this.icmp4Tokens : this.icmp6Tokens;
    const last = family === 4 ? this.icmp4Time : this.icmp6Time;
    if (last >= 0 && now > last)
      tokens = Math.min(this.icmpBurst, tokens + (now - last) * this.icmpRate);
    const ok = tokens >= 1;
    if (ok) tokens -= 1;
    if (family === 4) {
      this.icmp4Tokens = tokens;
      this.icmp4Time = now;
    } else {
      this.icmp6Tokens = tokens;
      this.icmp6Time = now;
    }
    return ok;
  }

  /** RFC 7915 §5.1 "Fragment Identification generator" for IPv4 packets with no Fragment header. */
  nextIpv4Id(): number {
    this.lastId = (this.lastId + 1) & 0xffff;
    return this.lastId;
  }

  /**
   * The first of `n` consecutive Identifications (a UDP GSO packet of n datagrams: the kernel
   * numbers its segments up from the first), as n calls of nextIpv4Id would give them.
   */
  nextIpv4Ids(n: number): number {
    const first = this.nextIpv4Id();
    this.lastId = (this.lastId + n - 1) & 0xffff;
    return first;
  }

  /** Scratch for one datagram of a UDP GSO packet segmented in software. */
  get udpSegmentScratch(): Uint8Array {
    this.udpScratch ??= new Uint8Array(65536);
    return this.udpScratch;
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

  /** True when the IPv6 address at addr[off..off+16) lies inside the NAT64 prefix. */
  inPrefix(addr: Uint8Array, off: number): boolean {
    return matchesPrefix(this.config.prefix, addr, off);
  }

  /** Counts a failed address translation by its ADDR_ code. */
  countAddressFailure(code: number): void {
    if (code === ADDR_NON_GLOBAL) this.counters.dropWkpfNonGlobal++;
    else this.counters.dropNoMapping++;
  }
}
