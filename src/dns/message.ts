import * as dnsPacket from 'dns-packet';
import { Buffer } from 'node:buffer';
import rrTypes from 'dns-packet/types.js';
import { FLAG, OPCODE_QUERY } from './constants';

export type Packet = dnsPacket.Packet;
export type Answer = dnsPacket.Answer;
export type Question = dnsPacket.Question;
export type OptAnswer = dnsPacket.OptAnswer;

export type Decoded = { ok: true; packet: Packet } | { ok: false; reason: string };

/** Decodes a DNS message; never throws (dns-packet throws on malformed input). */
export function decodeMessage(bytes: Uint8Array): Decoded {
  try {
    const packet = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { ok: true, packet };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

export function encodeMessage(packet: Packet): Uint8Array {
  const buf = dnsPacket.encode(packet);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function rcodeOf(packet: Packet): number {
  return (packet.flags ?? 0) & 0xf;
}

export function opcodeOf(packet: Packet): number {
  return ((packet.flags ?? 0) >> 11) & 0xf;
}

export function isQueryOpcode(packet: Packet): boolean {
  return opcodeOf(packet) === OPCODE_QUERY;
}

export function hasFlag(packet: Packet, flag: number): boolean {
  return ((packet.flags ?? 0) & flag) !== 0;
}

export function isResponse(packet: Packet): boolean {
  return packet.type === 'response' || hasFlag(packet, FLAG.QR);
}

export function findOpt(packet: Packet): OptAnswer | undefined {
  return packet.additionals?.find((r): r is OptAnswer => r.type === 'OPT');
}

/** Numeric RR type of a dns-packet type name ('AAAA' -> 28, 'UNKNOWN_65' -> 65). */
export function typeNumber(type: string): number {
  // dns-packet's table first (it also reads UNKNOWN_n); TYPEn is RFC 3597's text form.
  const known = rrTypes.toType(type.toUpperCase());
  if (known !== 0) return known;
  const m = /^TYPE(\d+)$/i.exec(type);
  return m ? Number(m[1]) : 0;
}

/** dns-packet's name of an RR type number (28 -> 'AAAA'; unknown -> 'UNKNOWN_n'). */
export function typeName(type: number): string {
  return rrTypes.toString(type);
}

/** Case-insensitive DNS name equality, ignoring a trailing dot (RFC 4343). */
export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/** Sets the message ID in place (RFC 8484 §4.1: upstream queries carry ID 0). */
export function patchId(bytes: Uint8Array, id: number): Uint8Array {
  bytes[0] = (id >> 8) & 0xff;
  bytes[1] = id & 0xff;
  return bytes;
}
