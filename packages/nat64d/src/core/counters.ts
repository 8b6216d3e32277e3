/** Named packet counters, published by the daemon as stats / Prometheus metrics. */

export const COUNTER_NAMES = [
  /** IPv4 packets translated to IPv6 (a fragmented one counts once). */
  'translated4to6',
  /** IPv6 packets translated to IPv4. */
  'translated6to4',
  /** Extra IPv6 fragments produced by fragmenting one IPv4 packet (RFC 7915 §4.1). */
  'fragmentsCreated6',
  /** ICMPv4 errors originated by the translator (time exceeded, frag needed, unreachable). */
  'icmp4ErrorsSent',
  /** ICMPv6 errors originated by the translator (time exceeded, parameter problem). */
  'icmp6ErrorsSent',
  /** ICMP errors (either family) not originated because of the rate limit (RFC 4443 §2.4 (f)). */
  'icmpErrorsRateLimited',
  /** ICMPv6 errors translated with the RFC 6791 source (config.ipv4Addr). */
  'icmpRfc6791Source',
  /** Shorter than its headers / length fields claim. */
  'dropTruncated',
  /** Header fields with invalid values (IHL < 5, duplicate Fragment header, wrong version...). */
  'dropMalformed',
  /** Bad IPv4 header checksum or bad ICMP/ICMPv6 checksum on input. */
  'dropChecksum',
  /** An address with neither a prefix nor a mapper translation. */
  'dropNoMapping',
  /** wkpf-strict: non-global IPv4 with 64:ff9b::/96 (RFC 6052 §3.1). */
  'dropWkpfNonGlobal',
  /**
   * IPv6 source inside the NAT64 prefix (RFC 6146 §3.5; stateless too: it would spoof an
   * IPv4 host), silently discarded.
   */
  'dropSourceInPrefix',
  /**
   * IPv4 destination that is not unicast: limited broadcast, multicast, "this network",
   * loopback, link-local, reserved 240/4 (RFC 1812 §5.3.5.1, §5.3.7, RFC 3927 §7).
   */
  'dropNonUnicastDestination',
  /**
   * Source that a router must not forward: IPv4 of the classes above (RFC 1812 §5.3.7, RFC
   * 3927 §7); IPv6 unspecified, loopback, link-local or multicast (RFC 4291).
   */
  'dropMartianSource',
  /** A Fragment header followed by another extension header (RFC 7915 §5.1). */
  'dropExtensionAfterFragment',
  /** TTL / Hop Limit expired (an ICMP Time Exceeded is sent when allowed). */
  'dropHopLimit',
  /** Protocol, extension header or jumbogram that is not translated. */
  'dropUnsupported',
  /** ICMP type/code with no translation (informational other than echo, redirects...). */
  'dropUnsupportedIcmp',
  /** Fragmented ICMP, which the translator does not handle (RFC 7915 §1.2). */
  'dropFragmentedIcmp',
  /** IPv4 UDP with zero checksum (mode drop, or calc on a fragment) or IPv6 UDP with zero. */
  'dropUdpZeroChecksum',
  /** DF set and too big for the IPv6 MTU (an ICMPv4 Fragmentation Needed is sent). */
  'dropTooBig',
  /** Unexpired IPv4 source route option / IPv6 Routing header with Segments Left != 0. */
  'dropSourceRoute',
  /** An exception inside the translator (a bug): the packet is dropped, never rethrown. */
  'dropInternalError',
  /**
   * Stateful NAT64: refused by the session tables (no BIB entry or session, filtering, TCP
   * without SYN, a session limit, pool4 exhausted); they count the reason per protocol.
   */
  'dropStateful',
  /**
   * Stateful NAT64: no ports to translate (a protocol other than TCP/UDP/ICMP echo, or the
   * quoted packet of an ICMP error is a non-first fragment).
   */
  'dropStatefulNoPorts',
  /** Stateful NAT64: fragments that came before their first fragment and were held (RFC 6146 §3.4). */
  'statefulFragmentsHeld',
  /**
   * Stateful NAT64: a fragment that could not be held, or a fragmented datagram whose
   * translation could not be remembered: the table, or the host's share of it, is full.
   */
  'dropStatefulFragmentLimit',
  /** Stateful NAT64: held fragments whose first fragment did not come within 2 s (RFC 6146 §4). */
  'dropStatefulFragmentTimeout',
  /** Stateful NAT64: IPv6 packets to a pool4 address, turned around to IPv6 (RFC 6146 §3.8). */
  'hairpinned',
  /** Echo requests to the translator's own ipv4-addr / ipv6-addr, answered by it. */
  'echoRepliedLocally',
  /** Other packets to the translator's own addresses (not translated). */
  'dropToTranslator',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

export type Counters = Record<CounterName, number>;

export function createCounters(): Counters {
  const c = {} as Counters;
  for (const name of COUNTER_NAMES) c[name] = 0;
  return c;
}
