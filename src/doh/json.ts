import rrTypes from 'dns-packet/types.js';
import { EDNS_UDP_SIZE, FLAG, QCLASS_IN, QTYPE } from '../dns/constants';
import { edeOf } from '../dns/edns';
import { nameEnd, nameToText, readName, textToName } from '../dns/name';
import { type Rr, checkMessage, rrAt } from '../dns/records';
import { Section, readU16, readU32 } from '../dns/scan';
import { WireWriter } from '../dns/write';
import { formatAddress } from '../acl/address';

/**
 * The JSON API of Google's and Cloudflare's DoH services (`application/dns-json`): a question
 * from URL parameters, the answer as JSON with the fields those clients read. Names are in
 * master-file form both ways (`\.` for a dot inside a label, `\\`, `\DDD`; RFC 1035 §5.1).
 */
export const DNS_JSON = 'application/dns-json';

export type JsonQuestion = { ok: true; wire: Uint8Array } | { ok: false; reason: string };

/** The wire query a JSON API request stands for: RD, CD and DO as asked, with an OPT record. */
export function jsonQuestion(params: URLSearchParams): JsonQuestion {
  const nameText = params.get('name');
  if (!nameText) return { ok: false, reason: 'missing name parameter' };
  const name = textToName(nameText);
  if (!name.ok) return { ok: false, reason: name.reason };
  const typeText = (params.get('type') ?? 'A').trim();
  const type = /^\d+$/.test(typeText) ? Number(typeText) : typeNumber(typeText);
  if (!Number.isInteger(type) || type < 1 || type > 65535) {
    return { ok: false, reason: `type ${typeText} is not an RR type` };
  }
  const w = new WireWriter(64);
  w.u16(0);
  w.u16(FLAG.RD | (isTrue(params.get('cd')) ? FLAG.CD : 0));
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(1);
  w.question(name.name, type);
  // The OPT record: the root, our payload size, EDNS version 0, DO as asked.
  w.u8(0);
  w.u16(QTYPE.OPT);
  w.u16(EDNS_UDP_SIZE);
  w.u32(isTrue(params.get('do')) ? 0x8000 : 0);
  w.u16(0);
  return { ok: true, wire: w.finish() };
}

/** The number of an RR type mnemonic (`AAAA`, RFC 3597's `TYPE65`), 0 when unknown. */
function typeNumber(type: string): number {
  const known = rrTypes.toType(type.toUpperCase());
  if (known !== 0) return known;
  const m = /^TYPE(\d+)$/i.exec(type);
  return m ? Number(m[1]) : 0;
}

function isTrue(v: string | null): boolean {
  return v !== null && ['1', 'true', 'yes'].includes(v.toLowerCase());
}

interface JsonRecord {
  name: string;
  type: number;
  TTL: number;
  data: string;
}

export interface JsonAnswer {
  Status: number;
  TC: boolean;
  RD: boolean;
  RA: boolean;
  AD: boolean;
  CD: boolean;
  Question: { name: string; type: number }[];
  Answer?: JsonRecord[];
  Authority?: JsonRecord[];
  Additional?: JsonRecord[];
  Comment?: string[];
}

/** The JSON form of a wire response (one the engine wrote or relayed, so well formed). */
export function toJson(bytes: Uint8Array): JsonAnswer {
  const layout = checkMessage(bytes);
  if (!layout) throw new Error('response is not a well-formed DNS message');
  const flags = layout.flags;
  const sections: JsonRecord[][] = [[], [], []];
  let extendedRcode = 0;
  for (const pos of layout.records) {
    if (pos.type === QTYPE.OPT) {
      extendedRcode = bytes[pos.ttlOffset]!;
      continue;
    }
    const rr = rrAt(bytes, pos);
    sections[pos.section]!.push({
      name: nameToText(rr.owner),
      type: rr.type,
      TTL: rr.ttl,
      data: rdataText(rr),
    });
  }
  const question: JsonAnswer['Question'] = [];
  for (let at = 12, i = 0; i < layout.qdcount; i++) {
    const q = readName(bytes, at)!;
    question.push({ name: nameToText(q.name), type: readU16(bytes, q.end) });
    at = q.end + 4;
  }
  const out: JsonAnswer = {
    Status: (extendedRcode << 4) | (flags & 0xf),
    TC: (flags & FLAG.TC) !== 0,
    RD: (flags & FLAG.RD) !== 0,
    RA: (flags & FLAG.RA) !== 0,
    AD: (flags & FLAG.AD) !== 0,
    CD: (flags & FLAG.CD) !== 0,
    Question: question,
  };
  if (sections[Section.Answer]!.length) out.Answer = sections[Section.Answer];
  if (sections[Section.Authority]!.length) out.Authority = sections[Section.Authority];
  if (sections[Section.Additional]!.length) out.Additional = sections[Section.Additional];
  const ede = edeOf(bytes);
  if (ede.length) {
    out.Comment = ede.map((e) => `EDE(${e.code})${e.text ? `: ${e.text}` : ''}`);
  }
  return out;
}

/**
 * Presentation format of RDATA (RFC 1035 §5.1, names in master-file form) for the common types,
 * RFC 3597's `\# length hex` for the rest.
 */
function rdataText(rr: Rr): string {
  const d = rr.rdata;
  const name = (at: number) => nameToText(d.subarray(at, nameEnd(d, at)));
  const afterName = (at: number) => nameEnd(d, at);
  if (rr.klass === QCLASS_IN && rr.type === QTYPE.A && d.length === 4) return formatAddress(d);
  if (rr.klass === QCLASS_IN && rr.type === QTYPE.AAAA && d.length === 16) {
    return formatAddress(d);
  }
  switch (rr.type) {
    case QTYPE.CNAME:
    case QTYPE.DNAME:
    case QTYPE.NS:
    case QTYPE.PTR:
      return name(0);
    case QTYPE.MX:
      return `${readU16(d, 0)} ${name(2)}`;
    case SRV:
      return `${readU16(d, 0)} ${readU16(d, 2)} ${readU16(d, 4)} ${name(6)}`;
    case QTYPE.SOA: {
      const rname = afterName(0);
      const fields = afterName(rname);
      const numbers = [0, 4, 8, 12, 16].map((o) => readU32(d, fields + o));
      return [name(0), name(rname), ...numbers].join(' ');
    }
    case QTYPE.TXT:
      return characterStrings(d);
    default:
      return `\\# ${d.length}${d.length ? ' ' : ''}${hex(d)}`;
  }
}

const SRV = 33;

/** TXT RDATA as quoted character-strings, `"` and `\` escaped, other non-printables `\DDD`. */
function characterStrings(d: Uint8Array): string {
  const parts: string[] = [];
  for (let at = 0; at < d.length; at += 1 + d[at]!) {
    let s = '';
    for (let i = at + 1; i <= at + d[at]! && i < d.length; i++) {
      const c = d[i]!;
      if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
      else if (c < 0x20 || c > 0x7e) s += `\\${String(c).padStart(3, '0')}`;
      else s += String.fromCharCode(c);
    }
    parts.push(`"${s}"`);
  }
  return parts.join(' ');
}

function hex(d: Uint8Array): string {
  let s = '';
  for (const b of d) s += b.toString(16).padStart(2, '0');
  return s;
}
