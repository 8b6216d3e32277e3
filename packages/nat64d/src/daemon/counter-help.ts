/**
 * What each translator counter means, in one sentence: the HELP text of its metric, and the
 * reason named by `-d` drop log lines. Typed over every counter name, so a new counter needs
 * its sentence here.
 */
import type { CounterName } from '../core/counters.js';

export const COUNTER_HELP: Readonly<Record<CounterName, string>> = {
  translated4to6: 'IPv4 packets translated to IPv6 (a packet fragmented on the way counts once).',
  translated6to4:
    'IPv6 packets translated to IPv4 (a UDP GSO run translated whole counts each datagram).',
  fragmentsCreated6:
    'Extra IPv6 fragments made when a DF-clear IPv4 packet was larger than offlink-mtu.',
  icmp4ErrorsSent:
    'ICMPv4 errors nat64d originated (Time Exceeded, Fragmentation Needed, Host Unreachable).',
  icmp6ErrorsSent:
    'ICMPv6 errors nat64d originated (Time Exceeded, Packet Too Big, Parameter Problem, Destination Unreachable).',
  icmpErrorsRateLimited: 'ICMP errors not sent because of icmp-error-rate.',
  icmpRfc6791Source:
    'ICMPv6 errors from IPv6 routers without an IPv4 address, translated with ipv4-addr as source (RFC 6791).',
  dropTruncated: 'Packets dropped: shorter than their headers or length fields claim.',
  dropMalformed: 'Packets dropped: invalid header fields.',
  dropChecksum: 'Packets dropped: bad IPv4 header or ICMP checksum.',
  dropNoMapping:
    'Packets dropped: an address with no translation (not in prefix, no map line, no dynamic mapping).',
  dropWkpfNonGlobal:
    'Packets dropped: a non-global IPv4 address under the Well-Known Prefix 64:ff9b::/96 (wkpf-strict, RFC 6052 3.1); an IPv6 sender gets Destination Unreachable, administratively prohibited.',
  dropSourceInPrefix: 'Packets dropped: an IPv6 source inside the NAT64 prefix.',
  dropNonUnicastDestination:
    'Packets dropped: an IPv4 destination that is broadcast, multicast, 0/8, 127/8, 169.254/16 or 240/4.',
  dropMartianSource:
    'Packets dropped: a source address no router forwards (IPv4 martian; IPv6 unspecified, loopback, link-local or multicast).',
  dropExtensionAfterFragment:
    'Packets dropped: an IPv6 Fragment header followed by another extension header.',
  dropHopLimit: 'Packets dropped: TTL or Hop Limit expired.',
  dropUnsupported:
    'Packets dropped: a protocol, extension header or jumbogram that is not translated.',
  dropUnsupportedIcmp: 'Packets dropped: an ICMP type or code with no translation.',
  dropFragmentedIcmp: 'Packets dropped: fragmented ICMP messages.',
  dropUdpZeroChecksum: 'Packets dropped: UDP with a zero checksum (udp-cksum-mode).',
  dropTooBig:
    'Packets dropped: DF set and too big for the next hop (Fragmentation Needed or Packet Too Big sent).',
  dropSourceRoute: 'Packets dropped: an unexpired IPv4 source route or IPv6 Routing header.',
  dropInternalError: 'Packets dropped: an exception inside the translator (a bug).',
  dropStateful:
    'Packets dropped by the session tables (see nat64d_stateful_drops_total for the reason).',
  dropStatefulNoPorts:
    'Packets dropped in stateful mode: no ports to translate (other protocols, non-first quoted fragments).',
  statefulFragmentsHeld: 'Fragments held until the first fragment of their datagram came.',
  dropStatefulFragmentLimit: 'Fragments dropped: the fragment table or the host share is full.',
  dropStatefulFragmentTimeout:
    'Held fragments dropped: their first fragment did not come within 2 s.',
  hairpinned: 'IPv6 packets to a pool4 address turned back to IPv6 (hairpinning).',
  echoRepliedLocally: 'Echo requests to ipv4-addr or ipv6-addr answered by nat64d.',
  dropToTranslator: 'Packets dropped: addressed to ipv4-addr or ipv6-addr and not an echo request.',
};
