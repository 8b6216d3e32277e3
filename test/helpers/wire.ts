/**
 * Test-side DNS wire tools, written apart from src/ so tests do not check the resolver with its
 * own codec: names as lists of octet labels (any octet, dots included), a message reader that
 * follows compression pointers, and an upstream whose answers are written byte by byte.
 */

/** A name from its labels; each string label is taken octet for octet (latin1), dots included. */
export function wireName(...labels: (string | number[])[]): Uint8Array {
  const bytes: number[] = [];
  for (const label of labels) {
    const octets = typeof label === 'string' ? [...label].map((c) => c.charCodeAt(0)) : label;
    bytes.push(octets.length, ...octets);
  }
  bytes.push(0);
  return Uint8Array.from(bytes);
}

export interface WireRecord {
  /** Labels as latin1 strings (so 'dot.label' is one label holding a dot). */
  owner: string[];
  type: number;
  klass: number;
  ttl: number;
  /** RDATA as received (names in it left compressed). */
  rdata: Uint8Array;
  /** For CNAME/PTR: the target's labels, pointers followed. */
  target?: string[];
}

export interface WireMessage {
  id: number;
  flags: number;
  question: { name: string[]; type: number; klass: number; bytes: Uint8Array }[];
  sections: [WireRecord[], WireRecord[], WireRecord[]];
  length: number;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/** Labels of the name at `at` (pointers followed) and the offset just past it. */
export function readLabels(b: Uint8Array, at: number): [string[], number] {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    const len = b[at]!;
    if (len === 0) return [labels, end < 0 ? at + 1 : end];
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = at + 2;
      at = ((len & 0x3f) << 8) | b[at + 1]!;
      continue;
    }
    labels.push(String.fromCharCode(...b.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  throw new Error('name loops');
}

/** A whole message, every record with its owner's labels. */
export function readMessage(b: Uint8Array): WireMessage {
  const counts = [u16(b, 4), u16(b, 6), u16(b, 8), u16(b, 10)];
  let at = 12;
  const question: WireMessage['question'] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const start = at;
    const [name, end] = readLabels(b, at);
    question.push({
      name,
      type: u16(b, end),
      klass: u16(b, end + 2),
      bytes: b.slice(start, end + 4),
    });
    at = end + 4;
  }
  const sections: WireMessage['sections'] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const [owner, end] = readLabels(b, at);
      const type = u16(b, end);
      const rdlength = u16(b, end + 8);
      const rdataAt = end + 10;
      const rec: WireRecord = {
        owner,
        type,
        klass: u16(b, end + 2),
        ttl: ((b[end + 4]! << 24) | (b[end + 5]! << 16) | (b[end + 6]! << 8) | b[end + 7]!) >>> 0,
        rdata: b.slice(rdataAt, rdataAt + rdlength),
      };
      if (type === 5 || type === 12) rec.target = readLabels(b, rdataAt)[0];
      sections[s]!.push(rec);
      at = rdataAt + rdlength;
    }
  }
  return { id: u16(b, 0), flags: u16(b, 2), question, sections, length: b.length };
}

/** A record of a RawZone: owner labels, type, TTL, RDATA bytes (names in it uncompressed). */
export interface RawRecord {
  owner: Uint8Array;
  type: number;
  ttl: number;
  rdata: Uint8Array;
}

function fold(b: Uint8Array): string {
  return [...b].map((c) => String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c)).join('');
}

/**
 * A recursive upstream over a list of records, answering DoH POSTs byte by byte with no
 * compression: the records for the question's name and type (ASCII letters folded), following
 * CNAMEs; NODATA with an SOA otherwise. `flags` are OR-ed into every answer's header. Each
 * question's raw name is logged.
 */
export function rawUpstream(records: RawRecord[], flags = 0x8180) {
  const log: Uint8Array[] = [];
  const fetchFn = async (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const q = new Uint8Array(await new Response(init?.body).arrayBuffer());
    let end = 12;
    while (q[end] !== 0) end += q[end]! + 1;
    const name = q.slice(12, end + 1);
    const type = u16(q, end + 1);
    log.push(name);
    const answers: RawRecord[] = [];
    let current: Uint8Array = name;
    for (let hops = 0; hops < 8; hops++) {
      const here = records.filter((r) => fold(r.owner) === fold(current));
      const wanted = here.filter((r) => r.type === type);
      if (wanted.length) {
        answers.push(...wanted);
        break;
      }
      const cname = here.find((r) => r.type === 5);
      if (!cname || type === 5) break;
      answers.push(cname);
      current = cname.rdata;
    }
    const out: number[] = [0, 0, flags >> 8, flags & 0xff, 0, 1, 0, answers.length, 0, 0, 0, 0];
    out.push(...q.subarray(12, end + 5));
    for (const r of answers) {
      out.push(...r.owner, r.type >> 8, r.type & 0xff, 0, 1);
      out.push(r.ttl >>> 24, (r.ttl >> 16) & 0xff, (r.ttl >> 8) & 0xff, r.ttl & 0xff);
      out.push(r.rdata.length >> 8, r.rdata.length & 0xff, ...r.rdata);
    }
    return new Response(Uint8Array.from(out), {
      headers: { 'content-type': 'application/dns-message' },
    });
  };
  return { fetch: fetchFn as typeof fetch, log };
}

/** An RDATA of an IPv4 address. */
export function v4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** A query for `name` (wire bytes) and `type`, RD set, with an OPT record when `edns`. */
export function rawQuery(name: Uint8Array, type: number, edns = false, id = 0x4242): Uint8Array {
  const out = [id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0, ...name];
  out.push(type >> 8, type & 0xff, 0, 1);
  if (edns) out.push(0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0);
  return Uint8Array.from(out);
}
