import { Buffer } from 'node:buffer';
import { EDNS_OPTION, EDNS_UDP_SIZE, QTYPE } from './constants';
import { type OptAnswer, type Packet, encodeMessage, findOpt } from './message';
import type { WireWriter } from './write';

/** What the client's OPT record asked for (RFC 6891). */
export interface ClientEdns {
  readonly present: boolean;
  readonly version: number;
  /** DNSSEC OK (RFC 3225). */
  readonly dnssecOk: boolean;
  /** The query carried an EDNS(0) Padding option (RFC 7830), so the response is padded too. */
  readonly padding: boolean;
  readonly udpSize: number;
}

export const NO_EDNS: ClientEdns = {
  present: false,
  version: 0,
  dnssecOk: false,
  padding: false,
  udpSize: 512,
};

export function clientEdns(query: Packet): ClientEdns {
  const opt = findOpt(query);
  if (!opt) return NO_EDNS;
  return {
    present: true,
    version: opt.ednsVersion ?? 0,
    dnssecOk: opt.flag_do === true || ((opt.flags ?? 0) & 0x8000) !== 0,
    padding: optionsOf(query).some((o) => o.code === EDNS_OPTION.PADDING),
    udpSize: Math.max(512, opt.udpPayloadSize ?? 512),
  };
}

/** An EDNS option as dns-packet decodes any code (its typings list only a few). */
export interface RawOption {
  readonly code: number;
  readonly data?: Buffer;
  /** Padding (code 12) only: the number of zero octets. */
  readonly length?: number;
}

export function optionsOf(packet: Packet): readonly RawOption[] {
  return (findOpt(packet)?.options ?? []) as readonly RawOption[];
}

/** An Extended DNS Error (RFC 8914 §2): info code and optional UTF-8 text. */
export interface Ede {
  readonly code: number;
  readonly text?: string;
}

export function edeOption(ede: Ede): { code: number; data: Buffer } {
  const text = Buffer.from(ede.text ?? '', 'utf8');
  const data = Buffer.alloc(2 + text.length);
  data.writeUInt16BE(ede.code, 0);
  text.copy(data, 2);
  return { code: EDNS_OPTION.EXTENDED_ERROR, data };
}

/** Reads the EDE options of a message (for tests and for passing an upstream's EDE on). */
export function edeOf(packet: Packet): Ede[] {
  const out: Ede[] = [];
  for (const o of optionsOf(packet)) {
    if (o.code !== EDNS_OPTION.EXTENDED_ERROR || !o.data || o.data.length < 2) continue;
    const text = o.data.subarray(2).toString('utf8');
    out.push(text ? { code: o.data.readUInt16BE(0), text } : { code: o.data.readUInt16BE(0) });
  }
  return out;
}

/** An OPT record (RFC 6891 §6.1.2) advertising our payload size, EDNS version 0. */
export function optRecord(
  dnssecOk: boolean,
  options: RawOption[] = [],
  extendedRcode = 0,
): OptAnswer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: EDNS_UDP_SIZE,
    extendedRcode,
    ednsVersion: 0,
    flags: dnssecOk ? 0x8000 : 0,
    flag_do: dnssecOk,
    options: options as OptAnswer['options'],
  };
}

/**
 * The OPT record of a response. `extendedRcode` carries the upper 8 bits of a 12-bit RCODE
 * (RFC 6891 §6.1.3); the DO bit is copied from the query (RFC 3225 §3).
 */
export function responseOpt(edns: ClientEdns, ede: readonly Ede[], extendedRcode = 0): OptAnswer {
  return optRecord(edns.dnssecOk, ede.map(edeOption), extendedRcode);
}

/**
 * Encodes `packet` with a Padding option (RFC 7830) added to its OPT record `opt`, so the whole
 * message is a multiple of `block` octets (RFC 8467 §4.1: 128 for queries, 468 for responses).
 */
export function encodePadded(packet: Packet, opt: OptAnswer, block: number): Uint8Array {
  const unpadded = encodeMessage(packet);
  const padding = {
    code: EDNS_OPTION.PADDING,
    data: Buffer.alloc(paddingLength(unpadded.length, block)),
  };
  opt.options = [...opt.options, padding] as OptAnswer['options'];
  return encodeMessage(packet);
}

/**
 * Writes the OPT record `optRecord(dnssecOk, options)` describes, as the last record of a message
 * written so far in `w`; with `padBlock`, a Padding option (RFC 7830) after `options` brings the
 * whole message to a multiple of that many octets (RFC 8467 §4.1), as encodePadded does.
 */
export function writeOpt(
  w: WireWriter,
  dnssecOk: boolean,
  options: readonly { code: number; data: Uint8Array }[] = [],
  padBlock = 0,
): void {
  w.u8(0); // the root
  w.u16(QTYPE.OPT);
  w.u16(EDNS_UDP_SIZE);
  w.u8(0); // extended RCODE
  w.u8(0); // version
  w.u16(dnssecOk ? 0x8000 : 0);
  const rdlengthAt = w.length;
  w.u16(0);
  for (const o of options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
  if (padBlock > 0) {
    const n = paddingLength(w.length, padBlock);
    w.u16(EDNS_OPTION.PADDING);
    w.u16(n);
    w.zeros(n);
  }
  w.setU16(rdlengthAt, w.length - rdlengthAt - 2);
}

/** RFC 8467 §4.1: responses are padded to a multiple of 468 octets. */
export const RESPONSE_PADDING_BLOCK = 468;

/** Bytes of padding data that bring a message of `length` (without the option) to the block. */
export function paddingLength(length: number, block = RESPONSE_PADDING_BLOCK): number {
  const withHeader = length + 4; // option code + option length
  return (block - (withHeader % block)) % block;
}
