import * as dnsPacket from 'dns-packet';
import { Buffer } from 'node:buffer';

/** Test-only DoH upstream: a tiny recursive view of a zone, answering RFC 8484 POSTs. */
export interface FakeName {
  A?: string[];
  AAAA?: string[];
  CNAME?: string;
  PTR?: string;
  ttl?: number;
  /** Per-type RCODE overrides, e.g. { AAAA: 'SERVFAIL' }. */
  rcode?: Partial<Record<string, string>>;
  /** Per-type extra behaviour, e.g. { AAAA: 'hang' }. */
  fault?: Partial<Record<string, Fault>>;
  /** Upstream sets AD on this name's answers. */
  ad?: boolean;
  additional?: dnsPacket.Answer[];
}

export type Fault =
  'hang' | 'slow' | 'http502' | 'garbage' | 'wrong-id' | 'wrong-question' | 'truncated';

export const SOA: dnsPacket.Answer = {
  type: 'SOA',
  name: 'test',
  ttl: 3600,
  class: 'IN',
  data: {
    mname: 'ns.test',
    rname: 'admin.test',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 300,
  },
};

export interface UpstreamLog {
  url: string;
  id: number;
  flags: number;
  name: string;
  type: string;
  dnssecOk: boolean;
  paddingLength: number | null;
  /** Octets of the query on the wire. */
  queryLength: number;
}

export interface FakeUpstream {
  fetch: typeof fetch;
  log: UpstreamLog[];
  maxInFlight: number;
}

/**
 * `faults[url]` applies to every question sent to that URL; zone faults apply per name/type.
 */
export function fakeUpstream(
  zone: Record<string, FakeName>,
  faults: Record<string, Fault> = {},
  delayMs = 5,
): FakeUpstream {
  const state: FakeUpstream = {
    fetch: undefined as unknown as typeof fetch,
    log: [],
    maxInFlight: 0,
  };
  let inFlight = 0;
  state.fetch = async (
    input: Parameters<typeof fetch>[0],
    init?: RequestInit,
  ): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    const body = new Uint8Array(await new Response(init?.body).arrayBuffer());
    const q = dnsPacket.decode(Buffer.from(body));
    const question = q.questions![0]!;
    const opt = q.additionals?.find((r) => r.type === 'OPT') as dnsPacket.OptAnswer | undefined;
    const pad = (opt?.options ?? []).find((o) => o.code === 12) as { data?: Buffer } | undefined;
    state.log.push({
      url,
      id: q.id ?? -1,
      flags: q.flags ?? 0,
      name: question.name,
      type: question.type,
      dnssecOk: opt?.flag_do ?? false,
      paddingLength: pad ? (pad.data?.length ?? 0) : null,
      queryLength: body.length,
    });
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    try {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const entry = zone[question.name.toLowerCase()];
      const fault = faults[url] ?? entry?.fault?.[question.type];
      if (fault === 'hang') {
        await new Promise((_, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
        });
      }
      if (fault === 'slow') {
        // a real answer, but long after the resolver's deadline (ENV: 300 ms)
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 1500);
          init?.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(new Error('aborted'));
          });
        });
      }
      if (fault === 'http502') return new Response('bad gateway', { status: 502 });
      if (fault === 'garbage') {
        return new Response(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), {
          headers: { 'content-type': 'application/dns-message' },
        });
      }
      const res = answer(zone, q, question);
      if (fault === 'wrong-id') res.id = 4242;
      if (fault === 'wrong-question') res.questions = [{ name: 'other.test', type: 'A' }];
      if (fault === 'truncated') res.flags = (res.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE;
      return new Response(dnsPacket.encode(res), {
        headers: { 'content-type': 'application/dns-message' },
      });
    } finally {
      inFlight--;
    }
  };
  return state;
}

function answer(
  zone: Record<string, FakeName>,
  q: dnsPacket.Packet,
  question: dnsPacket.Question,
): dnsPacket.Packet {
  const answers: dnsPacket.Answer[] = [];
  let name = question.name;
  let entry = zone[name.toLowerCase()];
  let ad = entry?.ad ?? false;
  for (let hops = 0; entry?.CNAME && question.type !== 'CNAME' && hops < 8; hops++) {
    answers.push({ type: 'CNAME', name, ttl: entry.ttl ?? 3600, class: 'IN', data: entry.CNAME });
    name = entry.CNAME;
    entry = zone[name.toLowerCase()];
    ad = ad && (entry?.ad ?? false);
  }
  const rcodeName = entry?.rcode?.[question.type];
  const base = {
    type: 'response' as const,
    id: q.id,
    questions: [question],
    additionals: [...(entry?.additional ?? [])],
  };
  const rd = (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  const cd = (q.flags ?? 0) & dnsPacket.CHECKING_DISABLED;
  const flags = rd | cd | dnsPacket.RECURSION_AVAILABLE | (ad ? dnsPacket.AUTHENTIC_DATA : 0);
  if (rcodeName) {
    return { ...base, flags: flags | rcodeNumber(rcodeName), answers: [] };
  }
  if (!entry) return { ...base, flags: flags | 3, answers, authorities: [SOA] };
  const ttl = entry.ttl ?? 3600;
  const data = (entry as Record<string, unknown>)[question.type];
  const values = Array.isArray(data) ? data : typeof data === 'string' ? [data] : [];
  for (const v of values) {
    answers.push({ type: question.type as 'A', name, ttl, class: 'IN', data: String(v) });
  }
  const hasOwn = values.length > 0;
  return { ...base, flags, answers, authorities: hasOwn ? [] : [SOA] };
}

function rcodeNumber(name: string): number {
  return { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 }[name] ?? 2;
}
