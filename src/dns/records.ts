import { QTYPE } from './constants';
import { nameEnd, nameKey, readName } from './name';
import { type MessageLayout, type RecordPosition, readU32, scanMessage } from './scan';
import type { WireWriter } from './write';

/**
 * Resource records with their names uncompressed (RFC 1035 §3.2.1), read from messages we
 * receive and written into messages we send, so records pass through byte for byte whatever
 * octets their names hold.
 */
export interface Rr {
  readonly owner: Uint8Array;
  readonly type: number;
  readonly klass: number;
  readonly ttl: number;
  /** The RDATA with any names in it uncompressed. */
  readonly rdata: Uint8Array;
}

/**
 * Where names sit in a type's RDATA: octets before the first name, how many names follow one
 * another, and whether they may be compressed when we write them. RFC 3597 §4: only RFC 1035's
 * types may be compressed; names in the others are decompressed when received (some senders
 * compress them anyway) and written out whole.
 */
interface NameLayout {
  readonly before: number;
  readonly names: number;
  readonly compress: boolean;
}

const ONE_NAME: NameLayout = { before: 0, names: 1, compress: true };
const TWO_NAMES: NameLayout = { before: 0, names: 2, compress: true };

const NAME_LAYOUTS = new Map<number, NameLayout>([
  [QTYPE.NS, ONE_NAME],
  [3, ONE_NAME], // MD
  [4, ONE_NAME], // MF
  [QTYPE.CNAME, ONE_NAME],
  [QTYPE.SOA, TWO_NAMES], // MNAME, RNAME, then 20 octets
  [7, ONE_NAME], // MB
  [8, ONE_NAME], // MG
  [9, ONE_NAME], // MR
  [QTYPE.PTR, ONE_NAME],
  [14, TWO_NAMES], // MINFO
  [QTYPE.MX, { before: 2, names: 1, compress: true }],
  [17, { before: 0, names: 2, compress: false }], // RP
  [18, { before: 2, names: 1, compress: false }], // AFSDB
  [21, { before: 2, names: 1, compress: false }], // RT
  [24, { before: 18, names: 1, compress: false }], // SIG: signer's name
  [26, { before: 2, names: 2, compress: false }], // PX
  [30, { before: 0, names: 1, compress: false }], // NXT
  [33, { before: 6, names: 1, compress: false }], // SRV
  [36, { before: 2, names: 1, compress: false }], // KX
  [QTYPE.DNAME, { before: 0, names: 1, compress: false }],
  [QTYPE.RRSIG, { before: 18, names: 1, compress: false }],
  [47, { before: 0, names: 1, compress: false }], // NSEC
]);

const NAPTR = 35;

/**
 * Offset of the first name in the RDATA at `rdata` (of `rdlength` octets), or -1 when the type
 * holds none or the RDATA is too short. NAPTR's name follows three character-strings.
 */
function firstNameAt(type: number, msg: Uint8Array, rdata: number, rdlength: number): number {
  if (type === NAPTR) {
    let at = rdata + 4;
    for (let i = 0; i < 3; i++) {
      if (at >= rdata + rdlength) return -1;
      at += 1 + msg[at]!;
    }
    return at <= rdata + rdlength ? at : -1;
  }
  const layout = NAME_LAYOUTS.get(type);
  if (!layout || layout.before > rdlength) return -1;
  return rdata + layout.before;
}

function namesIn(type: number): number {
  return type === NAPTR ? 1 : (NAME_LAYOUTS.get(type)?.names ?? 0);
}

/** True when the type's names may be compressed by us (RFC 3597 §4). */
function compressible(type: number): boolean {
  return NAME_LAYOUTS.get(type)?.compress ?? false;
}

/**
 * Lays out a message whose every name is well formed: owner names and the names inside the
 * RDATA of the types above, each within its RDATA. Null when anything is malformed.
 */
export function checkMessage(msg: Uint8Array): MessageLayout | null {
  const layout = scanMessage(msg);
  if (!layout) return null;
  for (let at = 12, i = 0; i < layout.qdcount; i++) {
    at = nameEnd(msg, at);
    if (at < 0) return null;
    at += 4;
  }
  for (const rec of layout.records) {
    if (nameEnd(msg, rec.nameOffset) < 0) return null;
    const n = namesIn(rec.type);
    if (n === 0) continue;
    const end = rec.rdataOffset + rec.rdlength;
    let at = firstNameAt(rec.type, msg, rec.rdataOffset, rec.rdlength);
    if (at < 0) return null;
    for (let i = 0; i < n; i++) {
      at = nameEnd(msg, at);
      if (at < 0 || at > end) return null;
    }
    if (rec.type === QTYPE.SOA && at + 20 !== end) return null;
  }
  return layout;
}

/** The record at `pos` of a message checkMessage() accepted, its names uncompressed. */
export function rrAt(msg: Uint8Array, pos: RecordPosition): Rr {
  const owner = readName(msg, pos.nameOffset)!.name;
  const end = pos.rdataOffset + pos.rdlength;
  const n = namesIn(pos.type);
  let rdata: Uint8Array;
  if (n === 0) {
    rdata = msg.slice(pos.rdataOffset, end);
  } else {
    const first = firstNameAt(pos.type, msg, pos.rdataOffset, pos.rdlength);
    const parts: Uint8Array[] = [msg.subarray(pos.rdataOffset, first)];
    let at = first;
    for (let i = 0; i < n; i++) {
      const read = readName(msg, at)!;
      parts.push(read.name);
      at = read.end;
    }
    parts.push(msg.subarray(at, end));
    rdata = concat(parts);
  }
  return { owner, type: pos.type, klass: pos.klass, ttl: readU32(msg, pos.ttlOffset), rdata };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let w = 0;
  for (const p of parts) {
    out.set(p, w);
    w += p.length;
  }
  return out;
}

/** Writes a record, compressing its owner name and the names in RFC 1035 types' RDATA. */
export function writeRr(w: WireWriter, rr: Rr): void {
  w.name(rr.owner);
  w.u16(rr.type);
  w.u16(rr.klass);
  w.u32(rr.ttl);
  if (!compressible(rr.type)) {
    w.u16(rr.rdata.length);
    w.bytes(rr.rdata);
    return;
  }
  const rdlengthAt = w.length;
  w.u16(0);
  const first = firstNameAt(rr.type, rr.rdata, 0, rr.rdata.length);
  w.bytes(rr.rdata.subarray(0, first));
  let at = first;
  for (let i = 0; i < namesIn(rr.type); i++) {
    const end = nameEnd(rr.rdata, at);
    w.name(rr.rdata.subarray(at, end));
    at = end;
  }
  w.bytes(rr.rdata.subarray(at));
  w.setU16(rdlengthAt, w.length - rdlengthAt - 2);
}

/**
 * What makes two records the same RR (RFC 2181 §5): owner, type, class and RDATA, names
 * compared without regard to ASCII case (RFC 4343); the TTL is not part of it.
 */
function rrIdentity(rr: Rr): string {
  const { rdata } = rr;
  let data = '';
  let from = 0;
  const n = namesIn(rr.type);
  if (n > 0) {
    let at = firstNameAt(rr.type, rdata, 0, rdata.length);
    data += latin1(rdata, 0, at);
    for (let i = 0; i < n; i++) {
      const end = nameEnd(rdata, at);
      data += nameKey(rdata.subarray(at, end));
      at = end;
    }
    from = at;
  }
  data += latin1(rdata, from, rdata.length);
  return `${nameKey(rr.owner)}|${rr.type}|${rr.klass}|${data}`;
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** A section's records without repeats of an RR (RFC 2181 §5: an RRset has no duplicate RRs). */
export function distinctRrs(rrs: readonly Rr[]): Rr[] {
  if (rrs.length < 2) return [...rrs];
  const seen = new Set<string>();
  const out: Rr[] = [];
  for (const rr of rrs) {
    const id = rrIdentity(rr);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(rr);
  }
  return out;
}
