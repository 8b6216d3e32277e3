import { Buffer } from 'node:buffer';
import { FLAG } from '../dns/constants';
import { edeOf, optRecord } from '../dns/edns';
import {
  type Answer,
  type Packet,
  decodeMessage,
  findOpt,
  typeName,
  typeNumber,
} from '../dns/message';

/**
 * The JSON API of Google's and Cloudflare's DoH services (`application/dns-json`): a question
 * from URL parameters, the answer as JSON with the fields those clients read.
 */
export const DNS_JSON = 'application/dns-json';

export type JsonQuestion = { ok: true; query: Packet } | { ok: false; reason: string };

export function jsonQuestion(params: URLSearchParams): JsonQuestion {
  const name = params.get('name');
  if (!name) return { ok: false, reason: 'missing name parameter' };
  const nameError = checkName(name);
  if (nameError) return { ok: false, reason: nameError };
  const typeText = (params.get('type') ?? 'A').trim();
  const type = /^\d+$/.test(typeText) ? Number(typeText) : typeNumber(typeText);
  if (!Number.isInteger(type) || type < 1 || type > 65535) {
    return { ok: false, reason: `type ${typeText} is not an RR type` };
  }
  const dnssecOk = isTrue(params.get('do'));
  const cd = isTrue(params.get('cd'));
  const query: Packet = {
    type: 'query',
    id: 0,
    flags: FLAG.RD | (cd ? FLAG.CD : 0),
    questions: [{ name: name.replace(/\.$/, '') || '.', type: typeName(type) as 'A', class: 'IN' }],
    additionals: [optRecord(dnssecOk)],
  };
  return { ok: true, query };
}

function isTrue(v: string | null): boolean {
  return v !== null && ['1', 'true', 'yes'].includes(v.toLowerCase());
}

function checkName(name: string): string | null {
  const trimmed = name.replace(/\.$/, '');
  // Lengths on the wire are in octets of the UTF-8 encoding (RFC 1035 §2.3.4).
  const octets = (t: string) => new TextEncoder().encode(t).length;
  if (octets(trimmed) > 253) return 'name is longer than 253 octets';
  if (trimmed === '') return null;
  for (const label of trimmed.split('.')) {
    if (label.length === 0) return `name ${name} has an empty label`;
    if (octets(label) > 63) return `name ${name} has a label longer than 63 octets`;
  }
  return null;
}

interface JsonRecord {
  name: string;
  type: number;
  TTL?: number;
  data?: string;
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

/** The JSON form of a wire response. */
export function toJson(bytes: Uint8Array): JsonAnswer {
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) throw new Error(`response did not decode: ${decoded.reason}`);
  const p = decoded.packet;
  const flags = p.flags ?? 0;
  const opt = findOpt(p);
  const out: JsonAnswer = {
    Status: ((opt?.extendedRcode ?? 0) << 4) | (flags & 0xf),
    TC: (flags & FLAG.TC) !== 0,
    RD: (flags & FLAG.RD) !== 0,
    RA: (flags & FLAG.RA) !== 0,
    AD: (flags & FLAG.AD) !== 0,
    CD: (flags & FLAG.CD) !== 0,
    Question: (p.questions ?? []).map((q) => ({ name: fqdn(q.name), type: typeNumber(q.type) })),
  };
  const section = (list: Answer[] | undefined) =>
    (list ?? []).filter((r) => r.type !== 'OPT').map(toJsonRecord);
  if (p.answers?.length) out.Answer = section(p.answers);
  if (p.authorities?.length) out.Authority = section(p.authorities);
  const additional = section(p.additionals);
  if (additional.length) out.Additional = additional;
  const ede = edeOf(p);
  if (ede.length) {
    out.Comment = ede.map((e) => `EDE(${e.code})${e.text ? `: ${e.text}` : ''}`);
  }
  return out;
}

function fqdn(name: string): string {
  return name === '.' || name === '' ? '.' : `${name.replace(/\.$/, '')}.`;
}

function toJsonRecord(r: Answer): JsonRecord {
  return {
    name: fqdn(r.name),
    type: typeNumber(r.type),
    TTL: 'ttl' in r ? (r.ttl ?? 0) : 0,
    data: rdataText(r),
  };
}

/** Presentation format of RDATA (RFC 1035 §5.1), RFC 3597 `\# len hex` when unknown. */
export function rdataText(r: Answer): string {
  const d: unknown = 'data' in r ? r.data : undefined;
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return String(d);
    case 'CNAME':
    case 'DNAME':
    case 'NS':
    case 'PTR':
      return fqdn(String(d));
    case 'MX': {
      const mx = d as { preference?: number; exchange: string };
      return `${mx.preference ?? 0} ${fqdn(mx.exchange)}`;
    }
    case 'SRV': {
      const s = d as { priority?: number; weight?: number; port: number; target: string };
      return `${s.priority ?? 0} ${s.weight ?? 0} ${s.port} ${fqdn(s.target)}`;
    }
    case 'SOA': {
      const s = d as Record<string, string | number>;
      return [
        fqdn(String(s.mname)),
        fqdn(String(s.rname)),
        s.serial,
        s.refresh,
        s.retry,
        s.expire,
        s.minimum,
      ].join(' ');
    }
    case 'TXT': {
      const parts = Array.isArray(d) ? d : [d];
      return parts.map((p) => `"${Buffer.isBuffer(p) ? p.toString('utf8') : String(p)}"`).join(' ');
    }
    case 'CAA': {
      const c = d as { flags?: number; tag: string; value: string };
      return `${c.flags ?? 0} ${c.tag} "${c.value}"`;
    }
    default:
      if (Buffer.isBuffer(d)) return `\\# ${d.length} ${d.toString('hex')}`;
      return JSON.stringify(d, (_k, v: unknown) =>
        v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
          ? Buffer.from((v as { data: number[] }).data).toString('base64')
          : v,
      );
  }
}
