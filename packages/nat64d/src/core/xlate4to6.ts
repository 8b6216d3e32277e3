/** IPv4 -> IPv6 translation (RFC 7915 §4). */
import { copyBytes, rd16, rd32, wr16, wr32 } from './bytes.js';
import { adjustChecksum, finish, sumIpv4Addr, sumWords } from './checksum.js';
import { ADDR_OK, ICMP6_ERROR_MAX, type TranslatorContext } from './context.js';
import { emitIpv6Fragments } from './fragment.js';
import {
  ICMP4_DEST_UNREACH,
  ICMP4_ECHO_REPLY,
  ICMP4_ECHO_REQUEST,
  ICMP4_PARAM_PROBLEM,
  ICMP4_TIME_EXCEEDED,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_PARAM_PROBLEM,
  icmp4ErrorTo6,
  mtu4to6,
  pointer4to6,
} from './icmp.js';
import { sendIcmp4Error } from './icmp-errors.js';
import { isNonUnicastIpv4 } from './forwardable.js';
import { rewritePort, statefulDest4, statefulError4 } from './stateful.js';
import {
  IPV4_DF,
  IPV4_HEADER_LEN,
  IPV4_MF,
  IPV4_OFFSET_MASK,
  isPassThroughProtocol,
  hasUnexpiredSourceRoute,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
} from './ipv4.js';
import {
  FRAG_HEADER_LEN,
  IPV6_HEADER_LEN,
  NH_FRAGMENT,
  writeFragmentHeader,
  writeIpv6Header,
} from './ipv6.js';
import type { Emit } from './types.js';

const ICMP_HEADER_LEN = 8;

export function translate4to6(ctx: TranslatorContext, pkt: Uint8Array, emit: Emit): void {
  const c = ctx.counters;
  if (pkt.length < IPV4_HEADER_LEN) {
    c.dropTruncated++;
    return;
  }
  const ihl = (pkt[0]! & 0x0f) * 4;
  const total = rd16(pkt, 2);
  if (ihl < IPV4_HEADER_LEN || total < ihl) {
    c.dropMalformed++;
    return;
  }
  if (total > pkt.length) {
    c.dropTruncated++;
    return;
  }
  if (finish(sumWords(pkt, 0, ihl)) !== 0) {
    c.dropChecksum++;
    return;
  }
  if (isNonUnicastIpv4(rd32(pkt, 12))) {
    // RFC 1812 §5.3.7, RFC 3927 §7: a router must not forward these sources.
    c.dropMartianSource++;
    return;
  }
  if (isNonUnicastIpv4(rd32(pkt, 16))) {
    c.dropNonUnicastDestination++; // RFC 1812 §5.3.5.1, §5.3.7
    return;
  }
  const proto = pkt[9]!;
  const flags = rd16(pkt, 6);
  const fragOffset = (flags & IPV4_OFFSET_MASK) * 8;
  const isFragment = fragOffset !== 0 || (flags & IPV4_MF) !== 0;
  if (proto !== PROTO_ICMP && proto !== PROTO_TCP && proto !== PROTO_UDP) {
    if (!isPassThroughProtocol(proto)) {
      c.dropUnsupported++;
      return;
    }
  }
  if (ihl > IPV4_HEADER_LEN && hasUnexpiredSourceRoute(pkt, ihl)) {
    // RFC 7915 §4.1: Destination Unreachable, Source Route Failed.
    c.dropSourceRoute++;
    sendIcmp4Error(ctx, pkt, ihl, total, ICMP4_DEST_UNREACH, 5, 0, emit);
    return;
  }
  // RFC 1812 §5.3.1 / RFC 7915 §4.1: as a router, decrement before forwarding; a packet that
  // arrives with TTL 0 or 1 would leave with 0, so it expires here.
  if (pkt[8]! <= 1) {
    c.dropHopLimit++;
    sendIcmp4Error(ctx, pkt, ihl, total, ICMP4_TIME_EXCEEDED, 0, 0, emit);
    return;
  }
  if (proto === PROTO_ICMP) {
    // RFC 7915 §1.2: fragmented ICMP/ICMPv6 packets are not translated.
    if (isFragment) {
      c.dropFragmentedIcmp++;
      return;
    }
    translateIcmp4(ctx, pkt, ihl, total, emit);
    return;
  }
  const payloadLen = total - ihl;
  let udpCalc = false;
  if (fragOffset === 0) {
    if (proto === PROTO_TCP && payloadLen < 18) {
      c.dropTruncated++;
      return;
    }
    if (proto === PROTO_UDP) {
      if (payloadLen < 8) {
        c.dropTruncated++;
        return;
      }
      if (rd16(pkt, ihl + 6) === 0) {
        // RFC 7915 §4.5: zero UDP checksum.
        const mode = ctx.config.udpChecksumMode;
        if (mode === 'drop' || (mode === 'calc' && isFragment)) {
          c.dropUdpZeroChecksum++;
          return;
        }
        udpCalc = mode === 'calc';
        if (udpCalc) {
          const udpLen = rd16(pkt, ihl + 4);
          if (udpLen !== payloadLen) {
            c.dropMalformed++;
            return;
          }
        }
      }
    }
  }
  const l4 = forward4to6(ctx, pkt, ihl, total, proto, emit);
  if (l4 < 0) return;
  const out = ctx.out;
  if (fragOffset === 0 && (proto === PROTO_TCP || proto === PROTO_UDP)) {
    const at = l4 + (proto === PROTO_TCP ? 16 : 6);
    // Stateful: the destination port changes too (RFC 6146 §3.7).
    const portOld = ctx.statefulPort >= 0 ? rd16(pkt, ihl + 2) : 0;
    const portNew = ctx.statefulPort >= 0 ? ctx.statefulPort : 0;
    if (ctx.statefulPort >= 0) wr16(out, l4 + 2, ctx.statefulPort);
    if (udpCalc) {
      wr16(out, at, 0);
      const sum = sumWords(out, 8, 32) + PROTO_UDP + payloadLen + sumWords(out, l4, payloadLen);
      wr16(out, at, finish(sum) || 0xffff);
    } else if (proto === PROTO_TCP || rd16(out, at) !== 0) {
      const oldSum = sumIpv4Addr(rd32(pkt, 12)) + sumIpv4Addr(rd32(pkt, 16)) + portOld;
      const ck = adjustChecksum(rd16(out, at), oldSum, sumWords(out, 8, 32) + portNew);
      // RFC 768: a computed UDP checksum of zero is transmitted as all ones.
      wr16(out, at, proto === PROTO_UDP && ck === 0 ? 0xffff : ck);
    }
  }
  emit6(ctx, l4, payloadLen, emit);
  if (ctx.releaseFragments) {
    // Stateful: fragments of this datagram that came before it follow it (RFC 6146 §3.4).
    ctx.releaseFragments = false;
    ctx.fragments!.releaseHeld((held) => translate4to6(ctx, held, emit));
  }
}

/**
 * Maps the addresses and writes the IPv6 header (with a Fragment header when needed) and the
 * copied payload into ctx.out. Returns the upper-layer offset, or -1 when the packet was
 * dropped (counted, and any ICMPv4 error sent).
 */
function forward4to6(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  ihl: number,
  total: number,
  proto: number,
  emit: Emit,
): number {
  const c = ctx.counters;
  const out = ctx.out;
  ctx.statefulPort = -1;
  const code = ctx.map4to6(rd32(pkt, 12), out, 8);
  if (code !== ADDR_OK) {
    ctx.countAddressFailure(code);
    return -1;
  }
  const dst4 = rd32(pkt, 16);
  if (!ctx.mapper.map4to6(dst4, out, 24)) {
    if (ctx.stateful !== null && ctx.stateful.isPoolAddress(dst4)) {
      // Stateful: a pool4 address; without a session the packet is dropped silently.
      if (!statefulDest4(ctx, pkt, ihl, proto)) return -1;
    } else {
      // Design choice (as Tayga): no mapping for the destination -> Host Unreachable.
      c.dropNoMapping++;
      sendIcmp4Error(ctx, pkt, ihl, total, ICMP4_DEST_UNREACH, 1, 0, emit);
      return -1;
    }
  }
  const flags = rd16(pkt, 6);
  const df = (flags & IPV4_DF) !== 0;
  const more = (flags & IPV4_MF) !== 0;
  const fragOffset = (flags & IPV4_OFFSET_MASK) * 8;
  const payloadLen = total - ihl;
  // RFC 7915 §4.1: a Fragment header for IPv4 fragments, for DF-clear packets that have to be
  // fragmented to lowest-ipv6-mtu, and with strict-frag-hdr for every DF-clear packet (an
  // "atomic fragment").
  const needFragHdr =
    fragOffset !== 0 ||
    more ||
    (!df && (ctx.config.strictFragHdr || IPV6_HEADER_LEN + payloadLen > ctx.lowestIpv6Mtu));
  const l4 = IPV6_HEADER_LEN + (needFragHdr ? FRAG_HEADER_LEN : 0);
  const nextHop = ctx.ipv6NextHopMtu;
  if (df && l4 + payloadLen > nextHop) {
    // RFC 7915 §4.1: DF set and the next-hop MTU below the IPv4 length + 20 (+ 8 with a
    // Fragment header): Fragmentation Needed with the MTU as the IPv4 side sees it (RFC 1191).
    // lowest-ipv6-mtu is for DF-clear packets only.
    c.dropTooBig++;
    sendIcmp4Error(
      ctx,
      pkt,
      ihl,
      total,
      ICMP4_DEST_UNREACH,
      4,
      nextHop - (l4 - IPV4_HEADER_LEN),
      emit,
    );
    return -1;
  }
  const nextHeader = proto === PROTO_ICMP ? PROTO_ICMPV6 : proto;
  const payloadField = l4 - IPV6_HEADER_LEN + payloadLen;
  writeIpv6Header(
    out,
    0,
    pkt[1]!,
    payloadField,
    needFragHdr ? NH_FRAGMENT : nextHeader,
    pkt[8]! - 1,
  );
  if (needFragHdr) {
    // RFC 7915 §4.1.1: identification from the IPv4 one (high 16 bits zero).
    writeFragmentHeader(out, IPV6_HEADER_LEN, nextHeader, fragOffset, more, rd16(pkt, 4));
  }
  copyBytes(pkt, ihl, total, out, l4);
  return l4;
}

/**
 * Emits ctx.out as one packet or, when it has a Fragment header and exceeds lowest-ipv6-mtu,
 * as fragments (a DF-set packet has no Fragment header and already fits the next hop).
 */
function emit6(ctx: TranslatorContext, l4: number, payloadLen: number, emit: Emit): void {
  const c = ctx.counters;
  const size = l4 + payloadLen;
  c.translated4to6++;
  if (size <= ctx.lowestIpv6Mtu || ctx.out[6] !== NH_FRAGMENT) {
    emit(ctx.out.subarray(0, size));
    return;
  }
  const n = emitIpv6Fragments(ctx.out, payloadLen, ctx.lowestIpv6Mtu, ctx.frag, emit);
  c.fragmentsCreated6 += n - 1;
}

/** Unfragmented ICMPv4 (RFC 7915 §4.2). */
function translateIcmp4(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  ihl: number,
  total: number,
  emit: Emit,
): void {
  const c = ctx.counters;
  const icmpLen = total - ihl;
  if (icmpLen < ICMP_HEADER_LEN) {
    c.dropTruncated++;
    return;
  }
  // Verified here because the ICMPv6 checksum is recomputed from scratch.
  if (finish(sumWords(pkt, ihl, icmpLen)) !== 0) {
    c.dropChecksum++;
    return;
  }
  const type = pkt[ihl]!;
  if (type === ICMP4_ECHO_REQUEST || type === ICMP4_ECHO_REPLY) {
    const l4 = forward4to6(ctx, pkt, ihl, total, PROTO_ICMP, emit);
    if (l4 < 0) return;
    const out = ctx.out;
    out[l4] = type === ICMP4_ECHO_REQUEST ? ICMP6_ECHO_REQUEST : ICMP6_ECHO_REPLY;
    if (ctx.statefulPort >= 0) wr16(out, l4 + 4, ctx.statefulPort); // stateful: identifier
    wr16(out, l4 + 2, 0);
    const sum = sumWords(out, 8, 32) + icmpLen + PROTO_ICMPV6 + sumWords(out, l4, icmpLen);
    wr16(out, l4 + 2, finish(sum));
    emit6(ctx, l4, icmpLen, emit);
    return;
  }
  if (type === ICMP4_DEST_UNREACH || type === ICMP4_TIME_EXCEEDED || type === ICMP4_PARAM_PROBLEM) {
    translateIcmp4Error(ctx, pkt, ihl, total, emit);
    return;
  }
  c.dropUnsupportedIcmp++;
}

/** ICMPv4 error -> ICMPv6 error with its embedded packet translated (RFC 7915 §4.2, §4.3). */
function translateIcmp4Error(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  ihl: number,
  total: number,
  emit: Emit,
): void {
  const c = ctx.counters;
  const out = ctx.out;
  const mapped = icmp4ErrorTo6(pkt[ihl]!, pkt[ihl + 1]!);
  if (mapped < 0) {
    c.dropUnsupportedIcmp++;
    return;
  }
  const type6 = mapped >>> 8;
  const code6 = mapped & 0xff;
  const inner = ihl + ICMP_HEADER_LEN;
  const avail = total - inner;
  if (avail < IPV4_HEADER_LEN) {
    c.dropTruncated++;
    return;
  }
  const iihl = (pkt[inner]! & 0x0f) * 4;
  if (pkt[inner]! >>> 4 !== 4 || iihl < IPV4_HEADER_LEN) {
    c.dropMalformed++;
    return;
  }
  if (iihl > avail) {
    c.dropTruncated++;
    return;
  }
  const itotal = rd16(pkt, inner + 2);
  let param = 0;
  if (type6 === ICMP6_PARAM_PROBLEM) {
    param = code6 === 0 ? pointer4to6(pkt[ihl + 4]!) : 6; // code 1: points at Next Header
    if (param < 0) {
      c.dropUnsupportedIcmp++;
      return;
    }
  } else if (type6 === ICMP6_PACKET_TOO_BIG) {
    param = mtu4to6(rd16(pkt, ihl + 6), itotal, ctx.ipv6NextHopMtu, ctx.ipv4NextHopMtu);
  }
  let code = ctx.map4to6(rd32(pkt, 12), out, 8);
  if (code !== ADDR_OK) {
    ctx.countAddressFailure(code);
    return;
  }
  const odst = rd32(pkt, 16);
  let innerPort = -1;
  if (!ctx.mapper.map4to6(odst, out, 24)) {
    if (ctx.stateful === null || !ctx.stateful.isPoolAddress(odst)) {
      c.dropNoMapping++;
      return;
    }
    // Stateful (RFC 6146 §3.5.4): the quoted packet is one we sent from a pool4 address.
    innerPort = statefulError4(ctx, pkt, inner, iihl, avail);
    if (innerPort < 0) return;
  }
  // The embedded packet: same header translation, without TTL decrement (RFC 7915 §4.3).
  const i6 = IPV6_HEADER_LEN + ICMP_HEADER_LEN;
  const isrc = rd32(pkt, inner + 12);
  const idst = rd32(pkt, inner + 16);
  if (innerPort >= 0)
    copyBytes(out, 24, 40, out, i6 + 8); // the IPv6 host, as the outer dst
  else code = ctx.map4to6(isrc, out, i6 + 8);
  if (code === ADDR_OK) code = ctx.map4to6(idst, out, i6 + 24);
  if (code !== ADDR_OK) {
    ctx.countAddressFailure(code);
    return;
  }
  const iflags = rd16(pkt, inner + 6);
  const ioffset = (iflags & IPV4_OFFSET_MASK) * 8;
  const imore = (iflags & IPV4_MF) !== 0;
  const ifrag = ioffset !== 0 || imore;
  const iproto = pkt[inner + 9]!;
  const inh = iproto === PROTO_ICMP ? PROTO_ICMPV6 : iproto;
  const ipayload = Math.max(itotal - iihl, 0);
  const il4 = i6 + IPV6_HEADER_LEN + (ifrag ? FRAG_HEADER_LEN : 0);
  const ifield = ipayload + (ifrag ? FRAG_HEADER_LEN : 0);
  writeIpv6Header(out, i6, pkt[inner + 1]!, ifield, ifrag ? NH_FRAGMENT : inh, pkt[inner + 8]!);
  if (ifrag)
    writeFragmentHeader(out, i6 + IPV6_HEADER_LEN, inh, ioffset, imore, rd16(pkt, inner + 4));
  // Truncate so that the ICMPv6 error fits the IPv6 minimum MTU (RFC 4443 §2.4 (c)).
  const copied = Math.min(avail - iihl, ICMP6_ERROR_MAX - il4);
  copyBytes(pkt, inner + iihl, inner + iihl + copied, out, il4);
  if (ioffset === 0) {
    const oldSum = sumIpv4Addr(isrc) + sumIpv4Addr(idst);
    if (!fixInnerTransport4to6(out, il4, copied, iproto, ipayload, oldSum, i6 + 8)) {
      c.dropUnsupportedIcmp++;
      return;
    }
    if (innerPort >= 0) {
      rewritePort(out, il4, copied, iproto, iproto === PROTO_ICMP ? 4 : 0, innerPort);
    }
  }
  const length = il4 + copied;
  const payload = length - IPV6_HEADER_LEN;
  writeIpv6Header(out, 0, pkt[1]!, payload, PROTO_ICMPV6, pkt[8]! - 1);
  out[40] = type6;
  out[41] = code6;
  wr16(out, 42, 0);
  wr32(out, 44, param);
  const sum = sumWords(out, 8, 32) + payload + PROTO_ICMPV6 + sumWords(out, 40, payload);
  wr16(out, 42, finish(sum));
  c.translated4to6++;
  emit(out.subarray(0, length));
}

/**
 * Updates the transport checksum of the (possibly truncated) embedded packet for its new
 * addresses, as far as its bytes are present; an embedded echo becomes ICMPv6 echo.
 * False when the embedded packet is an ICMP error itself (RFC 7915 §4.3: not translated).
 */
function fixInnerTransport4to6(
  out: Uint8Array,
  l4: number,
  copied: number,
  proto: number,
  ipayload: number,
  oldAddrSum: number,
  addrOff: number,
): boolean {
  const newAddrSum = sumWords(out, addrOff, 32);
  if (proto === PROTO_TCP && copied >= 18) {
    wr16(out, l4 + 16, adjustChecksum(rd16(out, l4 + 16), oldAddrSum, newAddrSum));
  } else if (proto === PROTO_UDP && copied >= 8 && rd16(out, l4 + 6) !== 0) {
    wr16(out, l4 + 6, adjustChecksum(rd16(out, l4 + 6), oldAddrSum, newAddrSum) || 0xffff);
  } else if (proto === PROTO_ICMP && copied >= 1) {
    const t = out[l4]!;
    if (t !== ICMP4_ECHO_REQUEST && t !== ICMP4_ECHO_REPLY) return false;
    const t6 = t === ICMP4_ECHO_REQUEST ? ICMP6_ECHO_REQUEST : ICMP6_ECHO_REPLY;
    out[l4] = t6;
    if (copied >= 4) {
      const code = out[l4 + 1]!;
      const oldSum = (t << 8) | code;
      const newSum = ((t6 << 8) | code) + newAddrSum + ipayload + PROTO_ICMPV6;
      wr16(out, l4 + 2, adjustChecksum(rd16(out, l4 + 2), oldSum, newSum));
    }
  }
  return true;
}
