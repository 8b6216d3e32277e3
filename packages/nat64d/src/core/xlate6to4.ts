/** IPv6 -> IPv4 translation (RFC 7915 §5). */
import { copyBytes, rd16, rd32, wr16, wr32 } from './bytes.js';
import { adjustChecksum, finish, sumIpv4Addr, sumWords } from './checksum.js';
import {
  ADDR_NO_MAPPING,
  ADDR_NON_GLOBAL,
  ICMP4_ERROR_MAX,
  type TranslatorContext,
} from './context.js';
import { rewritePort, statefulError6, statefulSource6 } from './stateful.js';
import {
  ICMP4_DEST_UNREACH,
  ICMP4_ECHO_REPLY,
  ICMP4_ECHO_REQUEST,
  ICMP4_PARAM_PROBLEM,
  ICMP6_DEST_UNREACH,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_PARAM_PROBLEM,
  ICMP6_TIME_EXCEEDED,
  icmp6ErrorTo4,
  isIcmp6Error,
  mtu6to4,
  pointer6to4,
} from './icmp.js';
import { GSO_SIZE_MASK, GSO_UDP, udpSegmentCount } from './gso-segment.js';
import { sendIcmp6Error } from './icmp-errors.js';
import { sameAddress } from './local.js';
import {
  IPV4_DF,
  IPV4_HEADER_LEN,
  IPV4_MF,
  isPassThroughProtocol,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  writeIpv4Header,
} from './ipv4.js';
import { isNonUnicastIpv4, isNonUnicastIpv6Source } from './forwardable.js';
import {
  CHAIN_EXT_AFTER_FRAGMENT,
  CHAIN_MALFORMED,
  CHAIN_OK,
  CHAIN_ROUTING,
  CHAIN_TRUNCATED,
  IPV6_HEADER_LEN,
  type Ipv6Chain,
} from './ipv6.js';
import type { Emit } from './types.js';

const ICMP_HEADER_LEN = 8;
/** RFC 7915 §5.1: DF is set only when the translated packet is larger than 1260 bytes. */
const DF_THRESHOLD = 1260;

function isTranslatedProtocol(p: number): boolean {
  return p === PROTO_TCP || p === PROTO_UDP || p === PROTO_ICMPV6 || isPassThroughProtocol(p);
}

function trafficClass(pkt: Uint8Array, o: number): number {
  return (rd16(pkt, o) >>> 4) & 0xff;
}

/**
 * A UDP/IPv6 GSO packet (TUN UDP offload; gso = gso_size | GSO_UDP) that translate6to4 can
 * take whole: every RFC 7915 rule gives each of its datagrams the same outcome, and that
 * outcome is a translated datagram. The datagrams share one header, so the rules that look at
 * the header (source and destination checks, hop limit, extension headers, the translator's
 * own address, a stateful hairpin) are decided once here, and those that look at the size are
 * decided per datagram: each must fit the IPv4 MTU, and DF (set above 1260 bytes) must come
 * out the same for the full datagrams and the last, shorter one. Anything else (an ICMP error
 * to send, a drop to count, options) is for software segmentation: each datagram then takes
 * the ordinary path, with its own counters and errors. Looks only; changes nothing.
 */
export function udpGsoWhole(ctx: TranslatorContext, pkt: Uint8Array, gso: number): boolean {
  const size = gso & GSO_SIZE_MASK;
  if ((gso & GSO_UDP) === 0 || size === 0 || pkt.length < 48) return false;
  if (pkt[0]! >>> 4 !== 6 || pkt[6] !== PROTO_UDP || pkt[7]! <= 1) return false;
  const payloadField = rd16(pkt, 4);
  if (IPV6_HEADER_LEN + payloadField !== pkt.length || rd16(pkt, 44) !== payloadField) return false;
  const payload = payloadField - 8;
  if (payload <= size) return false; // one datagram: the ordinary path
  if (rd16(pkt, 46) === 0) return false;
  if (IPV4_HEADER_LEN + 8 + size > ctx.ipv4NextHopMtu) return false;
  const last = payload - (udpSegmentCount(payload, size) - 1) * size;
  if (IPV4_HEADER_LEN + 8 + size > DF_THRESHOLD !== IPV4_HEADER_LEN + 8 + last > DF_THRESHOLD)
    return false;
  if (sameAddress(pkt, 24, ctx.config.ipv6Addr)) return false; // local6
  if (ctx.inPrefix(pkt, 8) || isNonUnicastIpv6Source(pkt, 8)) return false;
  const dst = ctx.map6to4(pkt, 24);
  if (dst < 0 || isNonUnicastIpv4(dst)) return false;
  if (ctx.stateful !== null && ctx.stateful.isPoolAddress(dst)) return false; // hairpin
  return true;
}

export function translate6to4(ctx: TranslatorContext, pkt: Uint8Array, emit: Emit): void {
  const c = ctx.counters;
  if (pkt.length < IPV6_HEADER_LEN) {
    c.dropTruncated++;
    return;
  }
  const payloadField = rd16(pkt, 4);
  if (payloadField === 0) {
    c.dropUnsupported++; // Jumbogram (RFC 2675) or empty
    return;
  }
  const total = IPV6_HEADER_LEN + payloadField;
  if (total > pkt.length) {
    c.dropTruncated++;
    return;
  }
  if (ctx.inPrefix(pkt, 8)) {
    // RFC 6146 §3.5: a source inside the prefix is silently discarded. The stateless
    // translator does the same: it would spoof an IPv4 host (and take a pool address).
    c.dropSourceInPrefix++;
    return;
  }
  if (isNonUnicastIpv6Source(pkt, 8)) {
    c.dropMartianSource++; // RFC 4291 §2.5.2, §2.5.3, §2.5.6, §2.7
    return;
  }
  const chain = ctx.chain;
  chain.walk(pkt, 0, total);
  if (chain.status !== CHAIN_OK) {
    if (chain.status === CHAIN_EXT_AFTER_FRAGMENT) c.dropExtensionAfterFragment++;
    else if (chain.status === CHAIN_ROUTING) {
      // RFC 7915 §5.1: Parameter Problem pointing at Segments Left.
      c.dropSourceRoute++;
      sendIcmp6Error(ctx, pkt, total, ICMP6_PARAM_PROBLEM, 0, chain.errorPointer, emit);
    } else if (chain.status === CHAIN_TRUNCATED) c.dropTruncated++;
    else c.dropMalformed++;
    return;
  }
  const upper = chain.upper;
  if (!isTranslatedProtocol(upper)) {
    c.dropUnsupported++;
    return;
  }
  // The IPv4 destination, before anything that could answer with an ICMPv6 error.
  const dst = ctx.map6to4(pkt, 24);
  if (dst < 0) {
    ctx.countAddressFailure(dst);
    // wkpf-strict: the sender learns why (RFC 4443 §3.1 code 1, administratively
    // prohibited), as from a filtering router; rate-limited like every error we originate.
    if (dst === ADDR_NON_GLOBAL) sendIcmp6Error(ctx, pkt, total, ICMP6_DEST_UNREACH, 1, 0, emit);
    return;
  }
  if (isNonUnicastIpv4(dst)) {
    // RFC 1812 §5.3.5.1 (limited broadcast), §5.3.7 (martians), RFC 3927 §7 (link-local):
    // never forwarded; silently discarded and counted.
    c.dropNonUnicastDestination++;
    return;
  }
  ctx.dst4 = dst;
  // RFC 4443 §3.3 / RFC 7915 §5.1: Hop Limit 0 or 1 would be 0 after forwarding.
  if (pkt[7]! <= 1) {
    c.dropHopLimit++;
    sendIcmp6Error(ctx, pkt, total, ICMP6_TIME_EXCEEDED, 0, 0, emit);
    return;
  }
  const l4 = chain.l4Offset;
  const payloadLen = total - l4;
  if (upper === PROTO_ICMPV6) {
    if (chain.isFragmented) {
      c.dropFragmentedIcmp++; // RFC 7915 §1.2
      return;
    }
    translateIcmp6(ctx, pkt, total, chain, emit);
    return;
  }
  const first = chain.fragOffset === 0;
  if (first && upper === PROTO_TCP && payloadLen < 18) {
    c.dropTruncated++;
    return;
  }
  if (first && upper === PROTO_UDP) {
    if (payloadLen < 8) {
      c.dropTruncated++;
      return;
    }
    if (rd16(pkt, l4 + 6) === 0) {
      c.dropUdpZeroChecksum++; // Not valid in IPv6 (RFC 8200 §8.1)
      return;
    }
  }
  if (!forward6to4(ctx, pkt, total, chain, upper, emit)) return;
  const out = ctx.out;
  if (first && (upper === PROTO_TCP || upper === PROTO_UDP)) {
    const at = IPV4_HEADER_LEN + (upper === PROTO_TCP ? 16 : 6);
    let newSum = sumWords(out, 12, 8);
    let oldSum = sumWords(pkt, 8, 32);
    if (ctx.statefulPort >= 0) {
      // Stateful: the source port changed too (RFC 6146 §3.7). A GSO super-packet's checksum
      // field holds only the pseudo-header sum (the kernel adds the header and payload, new
      // port included), so the port change does not go into it.
      if (ctx.gso === 0) {
        oldSum += rd16(pkt, chain.l4Offset);
        newSum += ctx.statefulPort;
      }
      wr16(out, IPV4_HEADER_LEN, ctx.statefulPort);
    }
    const ck = adjustChecksum(rd16(out, at), oldSum, newSum);
    wr16(out, at, upper === PROTO_UDP && ck === 0 ? 0xffff : ck);
  }
  // A UDP GSO packet counts as the datagrams it carries (udpGsoWhole: at least two).
  c.translated6to4 +=
    (ctx.gso & GSO_UDP) !== 0 ? udpSegmentCount(payloadLen - 8, ctx.gso & GSO_SIZE_MASK) : 1;
  emit(out.subarray(0, IPV4_HEADER_LEN + payloadLen));
  if (ctx.releaseFragments) {
    // Stateful: fragments of this datagram that came before it follow it (RFC 6146 §3.4).
    ctx.releaseFragments = false;
    ctx.fragments!.releaseHeld((held) => translate6to4(ctx, held, emit));
  }
}

/**
 * Maps the addresses and writes the IPv4 header and payload to ctx.out. False when dropped
 * (counted; a Packet Too Big is sent if the result would not fit the IPv4 MTU).
 */
function forward6to4(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  total: number,
  chain: Ipv6Chain,
  upper: number,
  emit: Emit,
): boolean {
  const c = ctx.counters;
  const l4 = chain.l4Offset;
  const length = IPV4_HEADER_LEN + total - l4;
  ctx.statefulPort = -1;
  if (length > ctx.ipv4MaxPacket) {
    // RFC 7915 §5.1: behave as a router; report the MTU as the IPv6 sender will see it.
    c.dropTooBig++;
    const mtu = Math.max(ctx.ipv4NextHopMtu + l4 - IPV4_HEADER_LEN, 1280);
    sendIcmp6Error(ctx, pkt, total, ICMP6_PACKET_TOO_BIG, 0, mtu, emit);
    return false;
  }
  const dst = ctx.dst4;
  // A UDP GSO packet (udpGsoWhole): its datagrams, for the counters of a source that fails
  // to map (each datagram would fail the same way: same header, same state).
  const udpGso = (ctx.gso & GSO_UDP) !== 0;
  const datagrams = udpGso ? udpSegmentCount(total - l4 - 8, ctx.gso & GSO_SIZE_MASK) : 1;
  let src = ctx.mapper.map6to4(pkt, 8, true);
  if (src < 0 && ctx.stateful !== null) {
    src = statefulSource6(ctx, pkt, chain, upper, dst);
    if (src < 0) {
      if (udpGso) c.dropStateful += datagrams - 1; // the only way a UDP first datagram fails
      return false;
    }
  } else if (src < 0) {
    c.dropNoMapping += datagrams;
    return false;
  }
  const out = ctx.out;
  let id: number;
  let flags: number;
  if (chain.hasFragment) {
    // RFC 7915 §5.1.1: low 16 bits of the identification, offset and M copied, DF clear.
    id = chain.fragId & 0xffff;
    flags = (chain.more ? IPV4_MF : 0) | (chain.fragOffset >>> 3);
  } else if (udpGso) {
    // Per datagram (RFC 7915 §5.1): DF by the datagram's size (udpGsoWhole made it the same
    // for all), one Identification each, counting up as the kernel's segmentation numbers them.
    id = ctx.nextIpv4Ids(datagrams);
    flags = IPV4_HEADER_LEN + 8 + (ctx.gso & GSO_SIZE_MASK) > DF_THRESHOLD ? IPV4_DF : 0;
  } else {
    id = ctx.nextIpv4Id();
    flags = length > DF_THRESHOLD ? IPV4_DF : 0;
  }
  const proto = upper === PROTO_ICMPV6 ? PROTO_ICMP : upper;
  writeIpv4Header(out, 0, trafficClass(pkt, 0), length, id, flags, pkt[7]! - 1, proto, src, dst);
  copyBytes(pkt, l4, total, out, IPV4_HEADER_LEN);
  return true;
}

/** Unfragmented ICMPv6 (RFC 7915 §5.2). */
function translateIcmp6(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  total: number,
  chain: Ipv6Chain,
  emit: Emit,
): void {
  const c = ctx.counters;
  const l4 = chain.l4Offset;
  const icmpLen = total - l4;
  if (icmpLen < ICMP_HEADER_LEN) {
    c.dropTruncated++;
    return;
  }
  const pseudo = sumWords(pkt, 8, 32) + icmpLen + PROTO_ICMPV6;
  if (finish(pseudo + sumWords(pkt, l4, icmpLen)) !== 0) {
    c.dropChecksum++;
    return;
  }
  const type = pkt[l4]!;
  if (type === ICMP6_ECHO_REQUEST || type === ICMP6_ECHO_REPLY) {
    if (!forward6to4(ctx, pkt, total, chain, PROTO_ICMPV6, emit)) return;
    const out = ctx.out;
    const at = IPV4_HEADER_LEN;
    out[at] = type === ICMP6_ECHO_REQUEST ? ICMP4_ECHO_REQUEST : ICMP4_ECHO_REPLY;
    if (ctx.statefulPort >= 0) wr16(out, at + 4, ctx.statefulPort); // stateful: identifier
    wr16(out, at + 2, 0);
    wr16(out, at + 2, finish(sumWords(out, at, icmpLen)));
    c.translated6to4++;
    emit(out.subarray(0, at + icmpLen));
    return;
  }
  if (!isIcmp6Error(type)) {
    c.dropUnsupportedIcmp++; // MLD, ND and other informational messages
    return;
  }
  translateIcmp6Error(ctx, pkt, total, l4, emit);
}

/** ICMPv6 error -> ICMPv4 error with its embedded packet translated (RFC 7915 §5.2, §5.3). */
function translateIcmp6Error(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  total: number,
  l4: number,
  emit: Emit,
): void {
  const c = ctx.counters;
  const out = ctx.out;
  const type6 = pkt[l4]!;
  const mapped = icmp6ErrorTo4(type6, pkt[l4 + 1]!);
  if (mapped < 0) {
    c.dropUnsupportedIcmp++;
    return;
  }
  const type4 = mapped >>> 8;
  const code4 = mapped & 0xff;
  let rest = 0;
  if (type4 === ICMP4_PARAM_PROBLEM) {
    const p = rd32(pkt, l4 + 4);
    const ptr = p > 39 ? -1 : pointer6to4(p);
    if (ptr < 0) {
      c.dropUnsupportedIcmp++;
      return;
    }
    rest = (ptr << 24) >>> 0;
  }
  const inner = l4 + ICMP_HEADER_LEN;
  if (total - inner < IPV6_HEADER_LEN) {
    c.dropTruncated++;
    return;
  }
  if (pkt[inner]! >>> 4 !== 6) {
    c.dropMalformed++;
    return;
  }
  const ic = ctx.innerChain;
  ic.walk(pkt, inner, total);
  if (ic.status !== CHAIN_OK) {
    if (ic.status === CHAIN_TRUNCATED) c.dropTruncated++;
    else if (ic.status === CHAIN_MALFORMED) c.dropMalformed++;
    else if (ic.status === CHAIN_EXT_AFTER_FRAGMENT) c.dropExtensionAfterFragment++;
    else c.dropUnsupported++;
    return;
  }
  const iupper = ic.upper;
  if (!isTranslatedProtocol(iupper)) {
    c.dropUnsupported++;
    return;
  }
  if (type4 === ICMP4_DEST_UNREACH && code4 === 4) {
    rest = mtu6to4(rd32(pkt, l4 + 4), ic.hasFragment, ctx.ipv6NextHopMtu, ctx.ipv4NextHopMtu);
  }
  const dst = ctx.dst4;
  let src = ctx.mapper.map6to4(pkt, 8, false);
  if (src < 0 && ctx.stateful === null) {
    // RFC 6791: an IPv6 router with no IPv4 address; use the translator's own (as Tayga).
    src = ctx.config.ipv4Addr;
    c.icmpRfc6791Source++;
  }
  const isrc = ctx.map6to4(pkt, inner + 8);
  if (isrc < 0) {
    ctx.countAddressFailure(isrc);
    return;
  }
  let idst = ctx.map6to4(pkt, inner + 24);
  let innerPort = -1;
  if (idst === ADDR_NO_MAPPING && ctx.stateful !== null) {
    // Stateful (RFC 6146 §3.5.4): the quoted packet went to an IPv6 host through a session;
    // its destination becomes the pool4 transport address, also the error's source.
    idst = statefulError6(ctx, pkt, inner, ic, total, isrc);
    if (idst < 0) return;
    innerPort = ctx.statefulPort;
    if (src < 0) src = idst;
  }
  if (idst < 0) {
    ctx.countAddressFailure(idst);
    return;
  }
  if (src < 0) {
    src = ctx.config.ipv4Addr;
    c.icmpRfc6791Source++;
  }
  // The embedded packet keeps its Hop Limit (no decrement) and its original length.
  const i4 = IPV4_HEADER_LEN + ICMP_HEADER_LEN;
  const il4 = i4 + IPV4_HEADER_LEN;
  const headers = ic.l4Offset - inner;
  const itotal = Math.min(
    IPV4_HEADER_LEN + Math.max(IPV6_HEADER_LEN + rd16(pkt, inner + 4) - headers, 0),
    0xffff,
  );
  let iid = 0;
  let iflags: number;
  if (ic.hasFragment) {
    iid = ic.fragId & 0xffff;
    iflags = (ic.more ? IPV4_MF : 0) | (ic.fragOffset >>> 3);
  } else {
    iflags = itotal > DF_THRESHOLD ? IPV4_DF : 0;
  }
  const iproto = iupper === PROTO_ICMPV6 ? PROTO_ICMP : iupper;
  writeIpv4Header(
    out,
    i4,
    trafficClass(pkt, inner),
    itotal,
    iid,
    iflags,
    pkt[inner + 7]!,
    iproto,
    isrc,
    idst,
  );
  // RFC 1812 §4.3.2.3: the ICMPv4 error stays within 576 bytes.
  const copied = Math.min(total - ic.l4Offset, ICMP4_ERROR_MAX - il4);
  copyBytes(pkt, ic.l4Offset, ic.l4Offset + copied, out, il4);
  if (ic.fragOffset === 0) {
    const oldAddrSum = sumWords(pkt, inner + 8, 32);
    const newAddrSum = sumIpv4Addr(isrc) + sumIpv4Addr(idst);
    if (iupper === PROTO_TCP && copied >= 18) {
      wr16(out, il4 + 16, adjustChecksum(rd16(out, il4 + 16), oldAddrSum, newAddrSum));
    } else if (iupper === PROTO_UDP && copied >= 8 && rd16(out, il4 + 6) !== 0) {
      wr16(out, il4 + 6, adjustChecksum(rd16(out, il4 + 6), oldAddrSum, newAddrSum) || 0xffff);
    } else if (iupper === PROTO_ICMPV6 && copied >= 1) {
      const t = out[il4]!;
      if (t !== ICMP6_ECHO_REQUEST && t !== ICMP6_ECHO_REPLY) {
        c.dropUnsupportedIcmp++; // an error about an error (RFC 7915 §5.3)
        return;
      }
      const t4 = t === ICMP6_ECHO_REQUEST ? ICMP4_ECHO_REQUEST : ICMP4_ECHO_REPLY;
      out[il4] = t4;
      if (copied >= 4) {
        const code = out[il4 + 1]!;
        const icmpLen = itotal - IPV4_HEADER_LEN;
        const oldSum = ((t << 8) | code) + oldAddrSum + icmpLen + PROTO_ICMPV6;
        wr16(out, il4 + 2, adjustChecksum(rd16(out, il4 + 2), oldSum, (t4 << 8) | code));
      }
    }
    if (innerPort >= 0)
      rewritePort(out, il4, copied, iproto, iproto === PROTO_ICMP ? 4 : 2, innerPort);
  }
  const length = il4 + copied;
  writeIpv4Header(
    out,
    0,
    trafficClass(pkt, 0),
    length,
    ctx.nextIpv4Id(),
    0,
    pkt[7]! - 1,
    PROTO_ICMP,
    src,
    dst,
  );
  out[20] = type4;
  out[21] = code4;
  wr16(out, 22, 0);
  wr32(out, 24, rest);
  wr16(out, 22, finish(sumWords(out, 20, length - 20)));
  c.translated6to4++;
  emit(out.subarray(0, length));
}
