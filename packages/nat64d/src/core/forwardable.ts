/**
 * Addresses a router must not forward to or from (the translator is a router on both sides,
 * RFC 7915 §1.3). One test per packet, a few integer comparisons, no table.
 *
 * IPv4:
 *
 * - 0.0.0.0/8 "this network" (RFC 1812 §5.3.7, RFC 1122 §3.2.1.3)
 * - 127.0.0.0/8 loopback (RFC 1812 §5.3.7)
 * - 169.254.0.0/16 link-local (RFC 3927 §7: a router MUST NOT forward it, either address)
 * - 224.0.0.0/4 multicast (the translator has no multicast routing; RFC 1812 §5.3.7 for a
 *   multicast source)
 * - 240.0.0.0/4 reserved "Class E" and 255.255.255.255 limited broadcast (RFC 1812 §5.3.5.1:
 *   limited broadcasts MUST NOT be forwarded; §5.3.7 for the reserved block)
 */

/** True when `a` (unsigned 32-bit) is in one of the classes above, i.e. not forwardable unicast. */
export function isNonUnicastIpv4(a: number): boolean {
  const top = a >>> 24;
  if (top === 0 || top === 127 || top >= 224) return true;
  return a >>> 16 === 0xa9fe; // 169.254.0.0/16
}

/**
 * IPv6 sources that are not a unicast host a router may forward for (RFC 4291 §2.5.2 the
 * unspecified address, §2.5.3 loopback, §2.5.6 link-local: never forwarded, §2.7 multicast:
 * never a source). Such a source would otherwise be handed a dynamic-pool address.
 */
export function isNonUnicastIpv6Source(b: Uint8Array, off: number): boolean {
  const first = b[off]!;
  if (first === 0xff) return true; // multicast
  if (first === 0xfe && (b[off + 1]! & 0xc0) === 0x80) return true; // fe80::/10
  if (first !== 0) return false;
  for (let i = 1; i < 15; i++) if (b[off + i] !== 0) return false;
  return b[off + 15]! <= 1; // :: and ::1
}
