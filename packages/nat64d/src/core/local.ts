/**
 * Packets addressed to the translator itself (`ipv4-addr`, `ipv6-addr`): they are not
 * translated. An echo request is answered, as Tayga does, so operators can ping the
 * translator's addresses; anything else is dropped and counted.
 */
import { adjustChecksum, finish, sumWords } from './checksum.js';
import { rd16, rd32, wr16 } from './bytes.js';
import type { TranslatorContext } from './context.js';
import type { Emit } from './types.js';

const ICMP4_ECHO_REQUEST = 8;
const ICMP4_ECHO_REPLY = 0;
const ICMP6_ECHO_REQUEST = 128;
const ICMP6_ECHO_REPLY = 129;
const REPLY_HOP_LIMIT = 64;

/** True when the IPv4 packet is for the translator (and was answered or dropped here). */
export function local4(ctx: TranslatorContext, pkt: Uint8Array, emit: Emit): boolean {
  if (pkt.length < 20 || rd32(pkt, 16) !== ctx.config.ipv4Addr) return false;
  const ihl = (pkt[0]! & 0x0f) * 4;
  const total = rd16(pkt, 2);
  const unfragmented = (rd16(pkt, 6) & 0x3fff) === 0;
  if (
    ihl < 20 ||
    total < ihl + 8 ||
    total > pkt.length ||
    !unfragmented ||
    pkt[9] !== 1 ||
    pkt[ihl] !== ICMP4_ECHO_REQUEST ||
    finish(sumWords(pkt, 0, ihl)) !== 0 ||
    finish(sumWords(pkt, ihl, total - ihl)) !== 0
  ) {
    ctx.counters.dropToTranslator++;
    return true;
  }
  // The reply: options dropped, addresses swapped, type 0 (RFC 792).
  const out = ctx.err.length >= 20 + total - ihl ? ctx.err : ctx.out;
  out.set(pkt.subarray(0, 20), 0);
  out[0] = 0x45;
  wr16(out, 2, 20 + total - ihl);
  wr16(out, 6, 0);
  out[8] = REPLY_HOP_LIMIT;
  out.set(pkt.subarray(16, 20), 12);
  out.set(pkt.subarray(12, 16), 16);
  wr16(out, 10, 0);
  wr16(out, 10, finish(sumWords(out, 0, 20)));
  out.set(pkt.subarray(ihl, total), 20);
  out[20] = ICMP4_ECHO_REPLY;
  wr16(out, 22, adjustChecksum(rd16(pkt, ihl + 2), ICMP4_ECHO_REQUEST << 8, ICMP4_ECHO_REPLY << 8));
  ctx.counters.echoRepliedLocally++;
  emit(out.subarray(0, 20 + total - ihl));
  return true;
}

/** True when the IPv6 packet is for the translator (and was answered or dropped here). */
export function local6(ctx: TranslatorContext, pkt: Uint8Array, emit: Emit): boolean {
  if (pkt.length < 40 || !sameAddress(pkt, 24, ctx.config.ipv6Addr)) return false;
  const total = 40 + rd16(pkt, 4);
  if (pkt[6] !== 58 || total < 48 || total > pkt.length || pkt[40] !== ICMP6_ECHO_REQUEST) {
    ctx.counters.dropToTranslator++;
    return true;
  }
  // Swapping source and destination leaves the pseudo-header sum as it is.
  const out = total <= ctx.out.length ? ctx.out : null;
  if (!out || !validIcmp6(pkt, total)) {
    ctx.counters.dropToTranslator++;
    return true;
  }
  out.set(pkt.subarray(0, total), 0);
  out[7] = REPLY_HOP_LIMIT;
  out.set(pkt.subarray(24, 40), 8);
  out.set(pkt.subarray(8, 24), 24);
  out[40] = ICMP6_ECHO_REPLY;
  wr16(out, 42, adjustChecksum(rd16(pkt, 42), ICMP6_ECHO_REQUEST << 8, ICMP6_ECHO_REPLY << 8));
  ctx.counters.echoRepliedLocally++;
  emit(out.subarray(0, total));
  return true;
}

export function sameAddress(pkt: Uint8Array, at: number, addr: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (pkt[at + i] !== addr[i]) return false;
  return true;
}

/** ICMPv6 checksum over the pseudo-header (RFC 8200 §8.1) and the message. */
function validIcmp6(pkt: Uint8Array, total: number): boolean {
  let sum = sumWords(pkt, 8, 32);
  sum += total - 40 + 58;
  sum = sumWords(pkt, 40, total - 40, sum);
  return finish(sum) === 0;
}
