/**
 * ICMP errors originated by the translator itself (time exceeded, fragmentation needed,
 * unreachable, parameter problem), sent back toward the packet's source. Never in response
 * to an ICMP error, a non-first IPv4 fragment, or multicast/broadcast (RFC 1122 §3.2.2,
 * RFC 1812 §4.3.2.7, RFC 4443 §2.4 (e)), and at most at the configured rate (RFC 4443
 * §2.4 (f), RFC 1812 §4.3.2.8, RFC 7915 §5.4): the rest are counted and not sent.
 */
import { copyBytes, rd16, rd32, wr16, wr32 } from './bytes.js';
import { finish, sumWords } from './checksum.js';
import { ICMP4_ERROR_MAX, ICMP6_ERROR_MAX, type TranslatorContext } from './context.js';
import { isIcmp4Informational, isIcmp6Error, ICMP6_PACKET_TOO_BIG } from './icmp.js';
import {
  IPV4_HEADER_LEN,
  IPV4_OFFSET_MASK,
  isIcmpErrorTarget,
  PROTO_ICMP,
  PROTO_ICMPV6,
  writeIpv4Header,
} from './ipv4.js';
import { CHAIN_OK, IPV6_HEADER_LEN, writeIpv6Header } from './ipv6.js';
import type { Emit } from './types.js';

const ICMP_HEADER_LEN = 8;
const TTL = 64;

/** ICMPv4 error about the IPv4 packet pkt[0..total) (header length ihl). */
export function sendIcmp4Error(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  ihl: number,
  total: number,
  type: number,
  code: number,
  rest: number,
  emit: Emit,
): void {
  const src = rd32(pkt, 12);
  const dst = rd32(pkt, 16);
  if ((rd16(pkt, 6) & IPV4_OFFSET_MASK) !== 0) return;
  if (!isIcmpErrorTarget(src) || dst >>> 28 >= 0xe) return;
  if (pkt[9] === PROTO_ICMP && (total <= ihl || !isIcmp4Informational(pkt[ihl]!))) return;
  if (!ctx.allowIcmpError(4)) {
    ctx.counters.icmpErrorsRateLimited++;
    return;
  }
  const e = ctx.err;
  const quoted = Math.min(total, ICMP4_ERROR_MAX - IPV4_HEADER_LEN - ICMP_HEADER_LEN);
  const length = IPV4_HEADER_LEN + ICMP_HEADER_LEN + quoted;
  writeIpv4Header(e, 0, 0, length, ctx.nextIpv4Id(), 0, TTL, PROTO_ICMP, ctx.config.ipv4Addr, src);
  e[20] = type;
  e[21] = code;
  wr16(e, 22, 0);
  wr32(e, 24, rest);
  copyBytes(pkt, 0, quoted, e, 28);
  wr16(e, 22, finish(sumWords(e, 20, length - 20)));
  ctx.counters.icmp4ErrorsSent++;
  emit(e.subarray(0, length));
}

/** ICMPv6 error about the IPv6 packet pkt[0..total). */
export function sendIcmp6Error(
  ctx: TranslatorContext,
  pkt: Uint8Array,
  total: number,
  type: number,
  code: number,
  param: number,
  emit: Emit,
): void {
  if (pkt[8] === 0xff || isUnspecified(pkt, 8)) return;
  if (pkt[24] === 0xff && type !== ICMP6_PACKET_TOO_BIG) return;
  const chain = ctx.innerChain;
  chain.walk(pkt, 0, total);
  if (chain.status === CHAIN_OK && chain.upper === PROTO_ICMPV6 && chain.fragOffset === 0) {
    if (chain.l4Offset >= total || isIcmp6Error(pkt[chain.l4Offset]!)) return;
  }
  if (!ctx.allowIcmpError(6)) {
    ctx.counters.icmpErrorsRateLimited++;
    return;
  }
  const e = ctx.err;
  const quoted = Math.min(total, ICMP6_ERROR_MAX - IPV6_HEADER_LEN - ICMP_HEADER_LEN);
  const payload = ICMP_HEADER_LEN + quoted;
  writeIpv6Header(e, 0, 0, payload, PROTO_ICMPV6, TTL);
  const own = ctx.config.ipv6Addr;
  for (let i = 0; i < 16; i++) e[8 + i] = own[i]!;
  copyBytes(pkt, 8, 24, e, 24);
  e[40] = type;
  e[41] = code;
  wr16(e, 42, 0);
  wr32(e, 44, param);
  copyBytes(pkt, 0, quoted, e, 48);
  const sum = sumWords(e, 8, 32) + payload + PROTO_ICMPV6 + sumWords(e, 40, payload);
  wr16(e, 42, finish(sum));
  ctx.counters.icmp6ErrorsSent++;
  emit(e.subarray(0, IPV6_HEADER_LEN + payload));
}

function isUnspecified(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (b[off + i] !== 0) return false;
  return true;
}
