import { foldOctet, literalName, nameFromLabels } from '../dns/name';

/** Reverse-mapping names (RFC 3596 §2.5 ip6.arpa, RFC 1035 §3.5 in-addr.arpa), on the wire. */

const IP6_ARPA = literalName('ip6.arpa');

/** The 16-byte address a full 32-nibble ip6.arpa name stands for, or null. */
export function ip6ArpaToAddress(name: Uint8Array): Uint8Array | null {
  // 32 labels of one hex digit each (64 octets), then ip6.arpa.
  if (name.length !== 64 + IP6_ARPA.length) return null;
  for (let i = 0; i < IP6_ARPA.length; i++) {
    if (foldOctet(name[64 + i]!) !== IP6_ARPA[i]) return null;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 32; i++) {
    if (name[2 * i] !== 1) return null;
    const nibble = hexValue(name[2 * i + 1]!);
    if (nibble < 0) return null;
    // The first label is the lowest nibble of the address.
    const at = 31 - i;
    out[at >> 1]! |= at & 1 ? nibble : nibble << 4;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = foldOctet(c);
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

const ascii = new TextEncoder();

/** `d.c.b.a.in-addr.arpa` for a.b.c.d. */
export function inAddrArpaName(ipv4: Uint8Array): Uint8Array {
  const labels = [ipv4[3]!, ipv4[2]!, ipv4[1]!, ipv4[0]!].map((b) => ascii.encode(String(b)));
  return nameFromLabels([...labels, ascii.encode('in-addr'), ascii.encode('arpa')]);
}
