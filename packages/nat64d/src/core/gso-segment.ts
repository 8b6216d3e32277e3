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

/** In a gso entry: the packet is a UDP GSO packet (VIRTIO_NET_HDR_GSO_UDP_L4); native/tun.c. */
export const GSO_UDP = 0x20000;
/** In a gso entry: the segment size (TCP MSS, or UDP payload bytes per datagram). */
export const GSO_SIZE_MASK = 0xffff;

/** Number of datagrams in a UDP GSO packet of `payload` UDP payload bytes, `size` per datagram. */
export function udpSegmentCount(payload: number, size: number): number {
  return size > 0 && payload > 0 ? Math.ceil(payload / size) : 1;
}

/**
 * Software segmentation of one UDP/IPv4 GSO packet (IPv4 header, one UDP header whose length
 * covers the run, `size` payload bytes per datagram, the last may be shorter) into the
 * datagrams the kernel would make: IPv4 total length, Identification counting up from the
 * packet's, header checksum, UDP length, and a full UDP checksum (the GSO packet's checksum
 * field holds a partial sum and is not used; a 0 result is sent as 0xffff, RFC 768). Each is
 * built in `scratch` and passed to `each` (valid during the call). Returns false, emitting
 * nothing, when `p` is not such a packet.
 */
export function segmentUdp4(
  p: Uint8Array,
  size: number,
  scratch: Uint8Array,
  each: (segment: Uint8Array) => void,
): boolean {
  if (size <= 0 || p.length < 28 || p[0]! >>> 4 !== 4 || p[9] !== 17) return false;
  const ihl = (p[0]! & 15) * 4;
  const hdr = ihl + 8;
  if (ihl < 20 || p.length < hdr) return false;
  const total = rd16(p, 2);
  if (total > p.length || total < hdr || (rd16(p, 6) & 0x3fff) !== 0) return false;
  const payload = total - hdr;
  if (hdr + Math.min(size, payload) > scratch.length) return false;
  const id0 = rd16(p, 4);
  eachDatagram(
    p,
    ihl,
    payload,
    size,
    12,
    8,
    scratch,
    (n, i) => {
      wr16(scratch, 2, n);
      wr16(scratch, 4, (id0 + i) & 0xffff);
      wr16(scratch, 10, 0);
      wr16(scratch, 10, finish(sumWords(scratch, 0, ihl)));
    },
    each,
  );
  return true;
}

/**
 * The same for a UDP/IPv6 GSO packet whose UDP header is at `l4` (after any extension
 * headers, copied into every datagram): IPv6 Payload Length, UDP length, full UDP checksum.
 */
export function segmentUdp6(
  p: Uint8Array,
  l4: number,
  size: number,
  scratch: Uint8Array,
  each: (segment: Uint8Array) => void,
): boolean {
  const hdr = l4 + 8;
  if (size <= 0 || l4 < 40 || p.length < hdr || p[0]! >>> 4 !== 6) return false;
  const total = 40 + rd16(p, 4);
  if (total > p.length || total < hdr) return false;
  const payload = total - hdr;
  if (hdr + Math.min(size, payload) > scratch.length) return false;
  eachDatagram(p, l4, payload, size, 8, 32, scratch, (n) => wr16(scratch, 4, n - 40), each);
  return true;
}

/**
 * The datagrams of a UDP GSO packet whose UDP header is at `l4`, `size` payload bytes each (the
 * last may be shorter; one empty datagram for an empty run), built one at a time in `scratch`:
 * the headers up to the UDP header copied, `ipHeader(length, index)` fixing the IP header's
 * length fields, then the UDP length and a full checksum over the pseudo-header (addresses at
 * `addrAt`, `addrLen` octets) and the datagram (a 0 result is sent as 0xffff, RFC 768).
 */
function eachDatagram(
  p: Uint8Array,
  l4: number,
  payload: number,
  size: number,
  addrAt: number,
  addrLen: number,
  scratch: Uint8Array,
  ipHeader: (length: number, index: number) => void,
  each: (segment: Uint8Array) => void,
): void {
  const hdr = l4 + 8;
  let i = 0;
  for (let off = 0; off < payload || (off === 0 && payload === 0); off += size, i++) {
    const len = Math.min(size, payload - off);
    scratch.set(p.subarray(0, hdr), 0);
    scratch.set(p.subarray(hdr + off, hdr + off + len), hdr);
    const n = hdr + len;
    ipHeader(n, i);
    wr16(scratch, l4 + 4, 8 + len);
    wr16(scratch, l4 + 6, 0);
    const sum = sumWords(scratch, addrAt, addrLen, 17 + 8 + len);
    wr16(scratch, l4 + 6, finish(sumWords(scratch, l4, 8 + len, sum)) || 0xffff);
    each(scratch.subarray(0, n));
    if (payload === 0) break;
  }
}
