/**
 * The contract between the pure translator core (src/core, RFC 7915) and the daemon around it
 * (address tables, TUN device, configuration). Bytes in, zero or more packets out.
 */

/** An RFC 6052 prefix: 16 bytes with only the first `length` bits set, length in {32,40,48,56,64,96}. */
export interface Nat64Prefix {
  readonly bytes: Uint8Array;
  readonly length: 32 | 40 | 48 | 56 | 64 | 96;
}

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
  /** `offlink-mtu`: the IPv6 path MTU assumed for destinations off the link (>= 1280). */
  readonly ipv6Mtu: number;
  /** MTU of the TUN device: the largest packet the translator may emit. */
  readonly tunMtu: number;
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
