/** Reverse-mapping names (RFC 3596 §2.5 ip6.arpa, RFC 1035 §3.5 in-addr.arpa). */

const IP6_ARPA = /^((?:[0-9a-f]\.){32})ip6\.arpa\.?$/i;

/** The 16-byte address a full 32-nibble ip6.arpa name stands for, or null. */
export function ip6ArpaToAddress(name: string): Uint8Array | null {
  const m = IP6_ARPA.exec(name);
  if (!m) return null;
  const nibbles = m[1]!.replace(/\./g, '').split('').reverse();
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(nibbles[2 * i]! + nibbles[2 * i + 1]!, 16);
  return out;
}

/** `d.c.b.a.in-addr.arpa` for a.b.c.d. */
export function inAddrArpaName(ipv4: Uint8Array): string {
  return `${ipv4[3]}.${ipv4[2]}.${ipv4[1]}.${ipv4[0]}.in-addr.arpa`;
}
