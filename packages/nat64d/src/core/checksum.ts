/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 * Sums are kept as plain (unfolded) non-negative numbers and folded at the end.
 */

/** Adds the 16-bit big-endian words of b[off..off+len) to `acc` (odd tail padded with zero). */
export function sumWords(b: Uint8Array, off: number, len: number, acc = 0): number {
  let s = acc;
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < end) s += b[i]! << 8;
  return s;
}

/** Folds a sum to 16 bits with end-around carry (one's complement addition). */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value for a sum taken with the checksum field set to zero. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Sum of the 32-bit IPv4 address as two 16-bit words. */
export function sumIpv4Addr(a: number): number {
  return (a >>> 16) + (a & 0xffff);
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), where m/m' are the (folded) sums of the old and new
 * covered words. Works on truncated data too, since only the difference is used.
 */
export function adjustChecksum(checksum: number, oldSum: number, newSum: number): number {
  const s = (~checksum & 0xffff) + (~fold(oldSum) & 0xffff) + fold(newSum);
  return ~fold(s) & 0xffff;
}
