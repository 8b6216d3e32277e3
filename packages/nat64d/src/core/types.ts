/**
 * The contract between the pure translator core (src/core, RFC 7915) and the daemon around it
 * (address tables, TUN device, configuration). Bytes in, zero or more packets out.
 */

import type { Rfc6052Prefix } from 'nat64-addr';

/** An RFC 6052 prefix: 16 bytes with only the first `length` bits set, length in {32,40,48,56,64,96}. */
export type Nat64Prefix = Rfc6052Prefix;

/** `udp-cksum-mode`: what to do with an IPv4 UDP datagram whose checksum is zero (RFC 7915 §4.5). */
export type UdpChecksumMode = 'drop' | 'forward' | 'calc';

export interface TranslatorConfig {
  /** The NAT64 prefix (`prefix` in tayga.conf). */
  readonly prefix: Nat64Prefix;
  /** The translator's own IPv4 address (`ipv4-addr`), source of the ICMPv4 errors it originates. */
  readonly ipv4Addr: number;
  /** The translator's own IPv6 address (`ipv6-addr`), source of the ICMPv6 errors it originates. */
  readonly ipv6Addr: Uint8Array;
  /** `wkpf-strict`: refuse non-global IPv4 inside 64:ff9b::/96 (RFC 6052 §3.1). */
  readonly wkpfStrict: boolean;
  readonly udpChecksumMode: UdpChecksumMode;
  /** `strict-frag-hdr`: add a Fragment header to IPv4 packets with DF clear (RFC 7915 §4.1). */
  readonly strictFragHdr: boolean;
  /**
   * `offlink-mtu`: RFC 7915 §4.1's user-defined length ("lowest-ipv6-mtu", >= 1280). An IPv4
   * packet with DF clear whose translation is larger is fragmented to it. It does not apply
   * to DF-set packets, which only have to fit the next hop (`tunMtu`).
   */
  readonly ipv6Mtu: number;
  /**
   * MTU of the TUN device: the next-hop MTU of both families (RFC 7915 §4.1, §4.2, §5.2) and
   * the largest packet the translator emits.
   */
  readonly tunMtu: number;
  /**
   * Largest IPv4 packet to emit when it differs from `tunMtu` (TCP offload: 65535, the kernel
   * segments). Never used as an MTU reported to a sender.
   */
  readonly ipv4MaxPacket?: number;
  /**
   * ICMP errors the translator originates (RFC 4443 §2.4 (f), RFC 1812 §4.3.2.8, RFC 7915
   * §5.4): a token bucket per family, `icmpErrorRate` per second and `icmpErrorBurst` at once.
   * Rate 0 sends none. Default 100 per second, burst 100.
   */
  readonly icmpErrorRate?: number;
  readonly icmpErrorBurst?: number;
  /** Milliseconds clock for the rate limit (tests); default performance.now(). */
  readonly clock?: () => number;
}

/**
 * Maps host addresses between the two families for everything that is not covered by the
 * RFC 6052 prefix: Tayga's static `map` lines and the `dynamic-pool`. IPv4 addresses are
 * unsigned 32-bit integers. Implemented by the daemon (stateless mode); the translator core
 * consults it for every address it cannot derive from the prefix.
 */
export interface AddressMapper {
  /**
   * An IPv6 address seen on the IPv6 side -> its IPv4 address, or -1 when it has none
   * (the packet is then dropped and counted). `isSource` is true for the packet's source
   * address: only then may a dynamic mapping be created.
   */
  map6to4(addr: Uint8Array, offset: number, isSource: boolean): number;
  /**
   * An IPv4 address seen on the IPv4 side -> writes its IPv6 address at out[offset..offset+16]
   * and returns true, or returns false when it has none.
   */
  map4to6(addr: number, out: Uint8Array, offset: number): boolean;
}

/** Receives each translated packet. The view is only valid during the call (buffers are reused). */
export type Emit = (packet: Uint8Array) => void;

/**
 * Stateful NAT64 (RFC 6146) hook, optional: given to the Translator in stateful mode. The
 * core consults it for IPv6 sources that the AddressMapper does not know (TCP, UDP, ICMP echo
 * only), for IPv4 destinations that are pool4 addresses, and for the packet quoted in an ICMP
 * error. It rewrites the ports (ICMP: echo identifier) itself, with incremental checksum
 * updates. Protocol numbers are IPv4's: 6 TCP, 17 UDP, 1 ICMP; for ICMP the remote port is
 * ignored. The result of a successful call is read from `resultAddr4` / `resultPort`.
 */
export interface StatefulMapper {
  /** True when `addr4` is one of the translator's pool4 addresses. */
  isPoolAddress(addr4: number): boolean;
  /**
   * IPv6 -> IPv4: src[srcOff..+16)#srcPort -> dst4#dstPort. Creates or refreshes the session.
   * True: resultAddr4#resultPort is the pool4 transport address. False: drop (counted there).
   */
  outbound(
    proto: number,
    src: Uint8Array,
    srcOff: number,
    srcPort: number,
    dst4: number,
    dstPort: number,
    tcpFlags: number,
  ): boolean;
  /**
   * IPv4 -> IPv6: src4#srcPort -> pool4 dst4#dstPort. True: the IPv6 host address is written
   * at out[outOff..+16) and resultPort is its port. False: drop silently (counted there).
   */
  inbound(
    proto: number,
    src4: number,
    srcPort: number,
    dst4: number,
    dstPort: number,
    tcpFlags: number,
    out: Uint8Array,
    outOff: number,
  ): boolean;
  /**
   * The packet quoted in an ICMPv4 error, which this NAT64 sent (pool4 src4#srcPort ->
   * dst4#dstPort): finds its session without changing it; writes the IPv6 host at
   * out[outOff..+16), resultPort = the host's port.
   */
  errorFrom4(
    proto: number,
    src4: number,
    srcPort: number,
    dst4: number,
    dstPort: number,
    out: Uint8Array,
    outOff: number,
  ): boolean;
  /**
   * The packet quoted in an ICMPv6 error, which this NAT64 delivered (src4#srcPort ->
   * host[hostOff..+16)#hostPort): finds its session without changing it; resultAddr4 /
   * resultPort = the pool4 transport address.
   */
  errorFrom6(
    proto: number,
    src4: number,
    srcPort: number,
    host: Uint8Array,
    hostOff: number,
    hostPort: number,
  ): boolean;
  readonly resultAddr4: number;
  readonly resultPort: number;
}
