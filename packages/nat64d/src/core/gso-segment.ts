/**
 * Software segmentation of one TCP/IPv4 GSO packet (what a TCP/IPv6 GSO super-packet becomes
 * after 6 -> 4 translation), for the one place where it cannot go to the kernel as GSO: a
 * stateful hairpin (RFC 6146 §3.8), where it turns back into IPv6. The segments are what the
 * kernel's own TCP segmentation makes: `mss` payload bytes each (the last may be shorter),
 * sequence numbers advanced, IPv4 Identification counting up, FIN and PSH on the last segment
 * only, CWR on the first only, and full checksums (the GSO packet's TCP checksum field is
 * not used: it holds a partial, pseudo-header sum).
 */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { finish, sumWords } from './checksum.js';

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/**
 * Splits `p` (IPv4 + TCP) into segments of at most `mss` payload bytes, each built in
 * `scratch` and passed to `each` (valid during the call). Returns false, emitting nothing,
 * when `p` is not a plain IPv4 TCP packet that needs splitting.
 */
export function segmentTcp4(
  p: Uint8Array,
  mss: number,
  scratch: Uint8Array,
  each: (segment: Uint8Array) => void,
): boolean {
  if (mss <= 0 || p.length < 40 || p[0]! >>> 4 !== 4 || p[9] !== 6) return false;
  const ihl = (p[0]! & 15) * 4;
  if (ihl < 20 || p.length < ihl + 20) return false;
  const thl = (p[ihl + 12]! >>> 4) * 4;
  const hdr = ihl + thl;
  if (thl < 20 || p.length < hdr) return false;
  const total = Math.min(rd16(p, 2), p.length);
  const payload = total - hdr;
  if (payload <= mss || hdr + mss > scratch.length) return false;
  const flags = p[ihl + 13]!;
  const seq0 = rd32(p, ihl + 4);
  const id0 = rd16(p, 4);
  let i = 0;
  for (let off = 0; off < payload; off += mss, i++) {
    const len = Math.min(mss, payload - off);
    const last = off + len >= payload;
    scratch.set(p.subarray(0, hdr), 0);
    scratch.set(p.subarray(hdr + off, hdr + off + len), hdr);
    const n = hdr + len;
    // IPv4: length, Identification, header checksum.
    wr16(scratch, 2, n);
    wr16(scratch, 4, (id0 + i) & 0xffff);
    wr16(scratch, 10, 0);
    wr16(scratch, 10, finish(sumWords(scratch, 0, ihl)));
    // TCP: sequence number, flags, checksum over the pseudo-header and the segment.
    wr32(scratch, ihl + 4, (seq0 + off) >>> 0);
    let f = flags;
    if (!last) f &= ~(TCP_FIN | TCP_PSH);
    if (off > 0) f &= ~TCP_CWR;
    scratch[ihl + 13] = f;
    wr16(scratch, ihl + 16, 0);
    const sum = sumWords(scratch, 12, 8, 6 + (n - ihl));
    wr16(scratch, ihl + 16, finish(sumWords(scratch, ihl, n - ihl, sum)));
    each(scratch.subarray(0, n));
  }
  return true;
}
