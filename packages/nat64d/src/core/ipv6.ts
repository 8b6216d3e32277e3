/** IPv6 header constants, header writer and extension header walker (RFC 8200). */
import { rd16, rd32, wr16, wr32 } from './bytes.js';

export const IPV6_HEADER_LEN = 40;
export const FRAG_HEADER_LEN = 8;

export const NH_HOP_BY_HOP = 0;
export const NH_ROUTING = 43;
export const NH_FRAGMENT = 44;
export const NH_DEST_OPTS = 60;

/** Writes version/TC/flow label (0, RFC 7915 §4.1), payload length, next header, hop limit. */
export function writeIpv6Header(
  b: Uint8Array,
  o: number,
  trafficClass: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
): void {
  wr32(b, o, (0x60000000 | (trafficClass << 20)) >>> 0);
  wr16(b, o + 4, payloadLength);
  b[o + 6] = nextHeader;
  b[o + 7] = hopLimit;
}

/** Writes a Fragment header: offset in bytes (multiple of 8), M flag, 32-bit identification. */
export function writeFragmentHeader(
  b: Uint8Array,
  o: number,
  nextHeader: number,
  offset: number,
  more: boolean,
  id: number,
): void {
  b[o] = nextHeader;
  b[o + 1] = 0;
  wr16(b, o + 2, (offset & 0xfff8) | (more ? 1 : 0));
  wr32(b, o + 4, id);
}

export const CHAIN_OK = 0;
export const CHAIN_TRUNCATED = 1;
export const CHAIN_MALFORMED = 2;
/** A Routing header with Segments Left != 0; `errorPointer` locates that field. */
export const CHAIN_ROUTING = 3;
/**
 * A Fragment header followed by Hop-by-Hop, Destination Options or Routing: those headers sit
 * in the fragmentable part, so only the first fragment carries them and no fragment can be
 * translated on its own (RFC 7915 §5.1: drop).
 */
export const CHAIN_EXT_AFTER_FRAGMENT = 4;

/** Result of walking the extension headers, kept in a reused object (no per-packet garbage). */
export class Ipv6Chain {
  status = CHAIN_OK;
  /** The upper-layer protocol (for a non-first fragment: the Fragment header's Next Header). */
  upper = 0;
  /** Offset of the upper-layer header (of the fragment data for a non-first fragment). */
  l4Offset = 0;
  hasFragment = false;
  /** Fragment offset in bytes. */
  fragOffset = 0;
  more = false;
  fragId = 0;
  errorPointer = 0;

  /** True unless this is a whole datagram (atomic fragments count as whole: RFC 6946). */
  get isFragmented(): boolean {
    return this.hasFragment && (this.more || this.fragOffset !== 0);
  }

  /**
   * Walks Hop-by-Hop, Destination Options, Routing and Fragment headers of the IPv6 packet at
   * b[start..end). Any other Next Header value is taken as the upper layer (the caller decides
   * whether it is supported). Stops after a non-first Fragment header.
   */
  walk(b: Uint8Array, start: number, end: number): void {
    this.status = CHAIN_OK;
    this.hasFragment = false;
    this.fragOffset = 0;
    this.more = false;
    this.fragId = 0;
    let nh = b[start + 6]!;
    let o = start + IPV6_HEADER_LEN;
    for (;;) {
      if (nh === NH_HOP_BY_HOP || nh === NH_DEST_OPTS || nh === NH_ROUTING) {
        // RFC 8200 §4.3: Hop-by-Hop only directly after the IPv6 header.
        if (nh === NH_HOP_BY_HOP && o !== start + IPV6_HEADER_LEN)
          return this.fail(CHAIN_MALFORMED);
        if (o + 8 > end) return this.fail(CHAIN_TRUNCATED);
        const len = (b[o + 1]! + 1) * 8;
        if (o + len > end) return this.fail(CHAIN_TRUNCATED);
        if (nh === NH_ROUTING && b[o + 3] !== 0) {
          this.errorPointer = o + 3 - start;
          return this.fail(CHAIN_ROUTING);
        }
        nh = b[o]!;
        o += len;
      } else if (nh === NH_FRAGMENT) {
        if (this.hasFragment) return this.fail(CHAIN_MALFORMED);
        if (o + FRAG_HEADER_LEN > end) return this.fail(CHAIN_TRUNCATED);
        this.hasFragment = true;
        const f = rd16(b, o + 2);
        this.fragOffset = f & 0xfff8;
        this.more = (f & 1) === 1;
        this.fragId = rd32(b, o + 4);
        nh = b[o]!;
        o += FRAG_HEADER_LEN;
        if (nh === NH_HOP_BY_HOP || nh === NH_DEST_OPTS || nh === NH_ROUTING) {
          return this.fail(CHAIN_EXT_AFTER_FRAGMENT);
        }
        if (this.fragOffset !== 0) break;
      } else {
        break;
      }
    }
    this.upper = nh;
    this.l4Offset = o;
  }

  private fail(status: number): void {
    this.status = status;
  }
}
