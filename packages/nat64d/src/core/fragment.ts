/** Splitting a translated IPv6 packet into fragments that fit the IPv6 MTU (RFC 7915 §4.1). */
import { copyBytes, rd16, rd32, wr16 } from './bytes.js';
import { FRAG_HEADER_LEN, IPV6_HEADER_LEN, writeFragmentHeader } from './ipv6.js';
import type { Emit } from './types.js';

const HEADERS = IPV6_HEADER_LEN + FRAG_HEADER_LEN;

/**
 * `pkt` holds an IPv6 header followed directly by a filled-in Fragment header and
 * `payloadLength` bytes of fragmentable data. Emits it as fragments of at most `mtu` bytes,
 * each carrying a multiple of 8 bytes except the last (RFC 8200 §4.5); offsets continue from
 * the Fragment header's offset and the last piece keeps its M flag. Returns the count.
 */
export function emitIpv6Fragments(
  pkt: Uint8Array,
  payloadLength: number,
  mtu: number,
  scratch: Uint8Array,
  emit: Emit,
): number {
  const nextHeader = pkt[IPV6_HEADER_LEN]!;
  const offsetFlags = rd16(pkt, IPV6_HEADER_LEN + 2);
  const baseOffset = offsetFlags & 0xfff8;
  const moreAfter = (offsetFlags & 1) === 1;
  const id = rd32(pkt, IPV6_HEADER_LEN + 4);
  const maxChunk = (mtu - HEADERS) & ~7;
  let count = 0;
  for (let pos = 0; pos < payloadLength; pos += maxChunk) {
    const chunk = Math.min(maxChunk, payloadLength - pos);
    const last = pos + chunk >= payloadLength;
    copyBytes(pkt, 0, IPV6_HEADER_LEN, scratch, 0);
    wr16(scratch, 4, FRAG_HEADER_LEN + chunk);
    writeFragmentHeader(
      scratch,
      IPV6_HEADER_LEN,
      nextHeader,
      baseOffset + pos,
      !last || moreAfter,
      id,
    );
    copyBytes(pkt, HEADERS + pos, HEADERS + pos + chunk, scratch, HEADERS);
    emit(scratch.subarray(0, HEADERS + chunk));
    count++;
  }
  return count;
}
