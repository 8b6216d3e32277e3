/**
 * The stateful NAT64 (RFC 6146) steps of the translator: reading the ports (ICMP echo
 * identifier) of a packet, asking the StatefulMapper, and rewriting a port with an
 * incremental checksum update (RFC 1624). Only reached when the Translator has a
 * StatefulMapper; the stateless paths never call into this file.
 */
import { rd16, rd32, wr16 } from './bytes.js';
import { adjustChecksum } from './checksum.js';
import type { TranslatorContext } from './context.js';
import {
  ICMP4_ECHO_REPLY,
  ICMP4_ECHO_REQUEST,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
} from './icmp.js';
import {
  IPV4_MF,
  IPV4_OFFSET_MASK,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
} from './ipv4.js';
import type { Ipv6Chain } from './ipv6.js';

/**
 * IPv6 -> IPv4 source through the session tables (the mapper had no mapping). Returns the
 * pool4 address and sets ctx.statefulPort, or -1 (counted).
 */
export function statefulSource6(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  chain: Ipv6Chain,
  upper: number,
  dst4: number,
): number {
  const st = ctx.stateful!;
  const c = ctx.counters;
  const l4 = chain.l4Offset;
  if (upper !== PROTO_TCP && upper !== PROTO_UDP && upper !== PROTO_ICMPV6) {
    c.dropStatefulNoPorts++;
    return -1;
  }
  if (chain.fragOffset !== 0) {
    // RFC 6146 §3.4: a non-first fragment has no ports; it takes its first fragment's
    // translation, or waits for it.
    const frags = ctx.fragments!;
    frags.key6(pkt, chain.fragId, upper);
    const addr4 = frags.lookupAddr4();
    if (addr4 >= 0) return addr4;
    if (frags.hold(pkt, 8, 16)) c.statefulFragmentsHeld++;
    else c.dropStatefulFragmentLimit++;
    return -1;
  }
  let ok: boolean;
  if (upper === PROTO_TCP || upper === PROTO_UDP) {
    const flags = upper === PROTO_TCP ? pkt[l4 + 13]! : 0;
    ok = st.outbound(upper, pkt, 8, rd16(pkt, l4), dst4, rd16(pkt, l4 + 2), flags);
  } else if (upper === PROTO_ICMPV6) {
    ok = st.outbound(PROTO_ICMP, pkt, 8, rd16(pkt, l4 + 4), dst4, 0, 0);
  } else {
    c.dropStatefulNoPorts++;
    return -1;
  }
  if (!ok) {
    c.dropStateful++;
    return -1;
  }
  ctx.statefulPort = st.resultPort;
  if (chain.more) {
    // A first fragment: the rest of the datagram goes from the same pool4 address.
    const frags = ctx.fragments!;
    frags.key6(pkt, chain.fragId, upper);
    if (frags.recordAddr4(st.resultAddr4, pkt, 8)) ctx.releaseFragments = true;
    else c.dropStatefulFragmentLimit++;
  }
  return st.resultAddr4;
}

/**
 * IPv4 -> IPv6 destination (a pool4 address) through the session tables: writes the IPv6
 * host at ctx.out[24..40) and sets ctx.statefulPort. False when dropped (counted, no ICMP).
 */
export function statefulDest4(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  ihl: number,
  proto: number,
): boolean {
  const st = ctx.stateful!;
  const c = ctx.counters;
  const flags = rd16(pkt, 6);
  if (proto !== PROTO_TCP && proto !== PROTO_UDP && proto !== PROTO_ICMP) {
    c.dropStatefulNoPorts++;
    return false;
  }
  if ((flags & IPV4_OFFSET_MASK) !== 0) {
    // RFC 6146 §3.4: a non-first fragment goes to its first fragment's IPv6 host.
    const frags = ctx.fragments!;
    frags.key4(pkt);
    if (frags.lookupHost6(ctx.out, 24)) return true;
    if (frags.hold(pkt, 12, 4)) c.statefulFragmentsHeld++;
    else c.dropStatefulFragmentLimit++;
    return false;
  }
  const src4 = rd32(pkt, 12);
  const dst4 = rd32(pkt, 16);
  let ok: boolean;
  if (proto === PROTO_TCP || proto === PROTO_UDP) {
    const flags = proto === PROTO_TCP ? pkt[ihl + 13]! : 0;
    ok = st.inbound(proto, src4, rd16(pkt, ihl), dst4, rd16(pkt, ihl + 2), flags, ctx.out, 24);
  } else if (proto === PROTO_ICMP) {
    ok = st.inbound(PROTO_ICMP, src4, 0, dst4, rd16(pkt, ihl + 4), 0, ctx.out, 24);
  } else {
    return false; // not reached: checked above
  }
  if (!ok) {
    c.dropStateful++;
    return false;
  }
  ctx.statefulPort = st.resultPort;
  if ((flags & IPV4_MF) !== 0) {
    // A first fragment: the rest of the datagram goes to the same IPv6 host.
    const frags = ctx.fragments!;
    frags.key4(pkt);
    if (frags.record(ctx.out, 24, 16, ctx.out, 24)) ctx.releaseFragments = true;
    else c.dropStatefulFragmentLimit++;
  }
  return true;
}

/**
 * ICMPv4 error to a pool4 address: the quoted packet (at pkt[inner..], header iihl, `avail`
 * bytes) is one this NAT64 sent. Writes the IPv6 host at ctx.out[24..40) and returns its
 * port (to put in the quoted packet's source port), or -1 (counted).
 */
export function statefulError4(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  inner: number,
  iihl: number,
  avail: number,
): number {
  const st = ctx.stateful!;
  const c = ctx.counters;
  const proto = pkt[inner + 9]!;
  const l4 = inner + iihl;
  const have = avail - iihl;
  if ((rd16(pkt, inner + 6) & IPV4_OFFSET_MASK) !== 0) {
    c.dropStatefulNoPorts++;
    return -1;
  }
  const src4 = rd32(pkt, inner + 12);
  const dst4 = rd32(pkt, inner + 16);
  let ok = false;
  if ((proto === PROTO_TCP || proto === PROTO_UDP) && have >= 4) {
    ok = st.errorFrom4(proto, src4, rd16(pkt, l4), dst4, rd16(pkt, l4 + 2), ctx.out, 24);
  } else if (proto === PROTO_ICMP && have >= 8) {
    const t = pkt[l4]!;
    if (t !== ICMP4_ECHO_REQUEST && t !== ICMP4_ECHO_REPLY) {
      c.dropUnsupportedIcmp++;
      return -1;
    }
    ok = st.errorFrom4(PROTO_ICMP, src4, rd16(pkt, l4 + 4), dst4, 0, ctx.out, 24);
  } else {
    c.dropStatefulNoPorts++;
    return -1;
  }
  if (!ok) {
    c.dropStateful++;
    return -1;
  }
  return st.resultPort;
}

/**
 * ICMPv6 error quoting a packet this NAT64 delivered to an IPv6 host (inner chain `ic`, its
 * source already mapped to `src4`). Returns the pool4 address and sets ctx.statefulPort to
 * the pool4 port (to put in the quoted packet's destination port), or -1 (counted).
 */
export function statefulError6(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  inner: number,
  ic: Ipv6Chain,
  total: number,
  src4: number,
): number {
  const st = ctx.stateful!;
  const c = ctx.counters;
  const l4 = ic.l4Offset;
  const have = total - l4;
  const proto = ic.upper;
  if (ic.fragOffset !== 0) {
    c.dropStatefulNoPorts++;
    return -1;
  }
  let ok = false;
  if ((proto === PROTO_TCP || proto === PROTO_UDP) && have >= 4) {
    ok = st.errorFrom6(proto, src4, rd16(pkt, l4), pkt, inner + 24, rd16(pkt, l4 + 2));
  } else if (proto === PROTO_ICMPV6 && have >= 8) {
    const t = pkt[l4]!;
    if (t !== ICMP6_ECHO_REQUEST && t !== ICMP6_ECHO_REPLY) {
      c.dropUnsupportedIcmp++;
      return -1;
    }
    ok = st.errorFrom6(PROTO_ICMP, src4, 0, pkt, inner + 24, rd16(pkt, l4 + 4));
  } else {
    c.dropStatefulNoPorts++;
    return -1;
  }
  if (!ok) {
    c.dropStateful++;
    return -1;
  }
  ctx.statefulPort = st.resultPort;
  return st.resultAddr4;
}

/**
 * Writes `port` at out[l4+off] (a TCP/UDP port at off 0 or 2, an ICMP identifier at off 4)
 * and updates the transport checksum incrementally, as far as the (possibly truncated) bytes
 * reach. `proto` is the protocol the bytes now carry (ICMP and ICMPv6 both checksum at 2).
 */
export function rewritePort(
  out: Uint8Array,
  l4: number,
  have: number,
  proto: number,
  off: number,
  port: number,
): void {
  if (have < off + 2) return;
  const old = rd16(out, l4 + off);
  wr16(out, l4 + off, port);
  const ckAt = proto === PROTO_TCP ? 16 : proto === PROTO_UDP ? 6 : 2;
  if (have < ckAt + 2) return;
  const ck = rd16(out, l4 + ckAt);
  if (proto === PROTO_UDP && ck === 0) return; // no checksum (IPv4 UDP)
  const n = adjustChecksum(ck, old, port);
  wr16(out, l4 + ckAt, proto === PROTO_UDP && n === 0 ? 0xffff : n);
}
