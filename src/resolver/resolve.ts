import { Lru } from '../cache/lru';
import type { ResponseCache } from '../cache/response-cache';
import { EDE, FLAG, OPCODE_QUERY, QCLASS_CH, QCLASS_IN, QTYPE, RCODE } from '../dns/constants';
import type { ClientEdns, Ede } from '../dns/edns';
import { literalName, nameKey, sameName } from '../dns/name';
import type { Query } from '../dns/query';
import { type Rr, rrAt } from '../dns/records';
import { errorResponse, relayResponse, writeResponse } from '../dns/response';
import { answerIpv4Only } from '../dns64/ipv4only';
import type { Dns64Policy } from '../dns64/policy';
import { synthesizedPtrTarget } from '../dns64/ptr';
import { DEFAULT_SYNTH_TTL, type Dns64Outcome, synthesizeAaaa } from '../dns64/synthesize';
import { Deadline } from '../upstream/deadline';
import { type DdrConfig, answerDdr } from './ddr';
import {
  type UpstreamFailure,
  type UpstreamOptions,
  type UpstreamResult,
  queryUpstreams,
} from '../upstream/doh-client';
import type { UpstreamQuestion } from '../upstream/question';
import type { QueryTrace } from '../obs/query-event';

/** Everything one query is answered with: the tenant's policy, its upstreams, the client. */
export interface ResolveContext {
  readonly policy: Dns64Policy;
  readonly upstream: UpstreamOptions;
  /** The client's address (4 or 16 bytes), for the policy's `clients` list; null if unknown. */
  readonly clientAddress: Uint8Array | null;
  /** This server's encrypted endpoints for DDR (RFC 9462); none: resolver.arpa has no data. */
  readonly ddr?: DdrConfig | null;
  /** What CH TXT id.server / hostname.bind answer (SERVER_ID, the data centre); null: REFUSED. */
  readonly identity?: string | null;
  /** The answer cache and this tenant's part of it; none = always ask upstream. */
  readonly cache?: {
    readonly store: ResponseCache;
    /** Distinguishes tenants (and their settings) sharing one cache. */
    readonly scope: string;
    /** Keeps background work (a shared-cache write) alive after the response (waitUntil). */
    readonly defer?: (p: Promise<unknown>) => void;
  };
  /** Filled in with cache hit, upstream and synthesis when the engine has an observer. */
  readonly trace?: QueryTrace;
}

/**
 * Cache keys whose answer was synthesized, so a cache hit (or an answer shared with a
 * concurrent asker) is reported as synthesized too. Kept only when queries are traced.
 */
const synthesizedKeys = new Lru<string, true>(10_000);

/**
 * The data path of one query: checks -> local answers -> cache -> upstream -> DNS64 synthesis
 * -> response bytes. A cache hit is answered synchronously. Never throws (nor rejects): every
 * failure becomes a DNS error with an Extended DNS Error.
 */
export function resolve(query: Query, ctx: ResolveContext): Uint8Array | Promise<Uint8Array> {
  const edns = query.edns;
  if (query.opcode !== OPCODE_QUERY) return errorResponse(query, RCODE.NOTIMP, edns);
  if (query.qdcount !== 1 || query.badOpt) return errorResponse(query, RCODE.FORMERR, edns);
  if (edns.present && edns.version > 0) return errorResponse(query, RCODE.BADVERS, edns);
  if (query.qclass === QCLASS_CH) {
    const chaos = identityAnswer(query, ctx.identity ?? null);
    if (chaos) return chaos;
  }
  if (query.qclass !== QCLASS_IN) {
    const ede = [{ code: EDE.OTHER, text: 'only class IN is served' }];
    return errorResponse(query, RCODE.REFUSED, edns, ede);
  }

  const trace = ctx.trace;
  const ipv4only = answerIpv4Only(ctx.policy, query.qname, query.qtype);
  if (ipv4only) {
    // RFC 7050 §3: the well-known AAAA records of ipv4only.arpa are the DNS64's own synthesis.
    if (trace) trace.synthesized = query.qtype === QTYPE.AAAA;
    return writeResponse(query, ipv4only, edns);
  }
  const ddr = answerDdr(ctx.ddr ?? null, query.qname, query.qtype);
  if (ddr) return writeResponse(query, ddr, edns);

  const synthesis =
    query.qtype === QTYPE.AAAA && synthesisApplies(ctx.policy, ctx.clientAddress, query);
  const cache = ctx.cache;
  if (!cache) return computed(query, ctx, synthesis);
  const key = cacheKey(cache.scope, query, synthesis);
  // The query is its own Asker: its ID and question bytes.
  const hit = cache.store.peek(key, query);
  if (hit) {
    if (trace) {
      trace.cacheHit = true;
      trace.synthesized = synthesizedKeys.get(key) !== undefined;
    }
    return hit;
  }
  if (!trace)
    return cache.store.fill(key, query, () => computed(query, ctx, synthesis), cache.defer);
  let asked = false;
  const tracedCompute = () => {
    asked = true;
    return computed(query, ctx, synthesis).then((bytes) => {
      if (trace.synthesized) synthesizedKeys.set(key, true);
      else synthesizedKeys.delete(key);
      return bytes;
    });
  };
  return cache.store.fill(key, query, tracedCompute, cache.defer).then((bytes) => {
    // Answered by the shared cache or by another client's upstream query for the same key.
    if (!asked) {
      trace.cacheHit = true;
      trace.synthesized = synthesizedKeys.get(key) !== undefined;
    }
    return bytes;
  });
}

/** The answer from upstream (and synthesis); never rejects. */
function computed(query: Query, ctx: ResolveContext, synthesis: boolean): Promise<Uint8Array> {
  return fromUpstream(query, ctx, synthesis).catch((err) => internalError(query, err));
}

const IDENTITY_NAMES = [literalName('id.server'), literalName('hostname.bind')];

/**
 * CH TXT `id.server` (RFC 4892 §2.2) and `hostname.bind` (BIND's older name): the server's
 * identity, or REFUSED when none is configured (as Unbound's hide-identity answers). Null for
 * any other CHAOS name (REFUSED like every class but IN).
 */
function identityAnswer(query: Query, identity: string | null): Uint8Array | null {
  if (!IDENTITY_NAMES.some((n) => sameName(n, query.qname))) return null;
  if (identity === null) {
    const ede = [{ code: EDE.OTHER, text: 'server identity not disclosed (SERVER_ID is unset)' }];
    return errorResponse(query, RCODE.REFUSED, query.edns, ede);
  }
  const answers: Rr[] = [];
  if (query.qtype === QTYPE.TXT || query.qtype === QTYPE.ANY) {
    const text = new TextEncoder().encode(identity).subarray(0, 255);
    const rdata = new Uint8Array(1 + text.length);
    rdata[0] = text.length;
    rdata.set(text, 1);
    answers.push({ owner: query.qname, type: QTYPE.TXT, klass: QCLASS_CH, ttl: 0, rdata });
  }
  return writeResponse(query, { rcode: RCODE.NOERROR, flags: FLAG.AA, answers }, query.edns);
}

function internalError(query: Query, err: unknown): Uint8Array {
  const text = `internal error: ${err instanceof Error ? err.message : String(err)}`;
  return errorResponse(query, RCODE.SERVFAIL, query.edns, [{ code: EDE.OTHER, text }]);
}

async function fromUpstream(query: Query, ctx: ResolveContext, synthesis: boolean) {
  const edns = query.edns;
  const ask = (name: Uint8Array, type: number): UpstreamQuestion => ({
    name,
    type,
    edns: edns.present,
    dnssecOk: edns.dnssecOk,
    checkingDisabled: (query.flags & FLAG.CD) !== 0,
    padding: edns.padding,
  });

  if (synthesis) {
    // RFC 6147 §5.1.8 allows asking A and AAAA in parallel: one round trip, not two.
    // One deadline (one timer) for both.
    const deadline = new Deadline(ctx.upstream.deadlineMs);
    const [aaaa, a] = await Promise.all([
      queryUpstreams(ask(query.qname, QTYPE.AAAA), ctx.upstream, deadline),
      queryUpstreams(ask(query.qname, QTYPE.A), ctx.upstream, deadline),
    ]);
    const outcome = synthesizeAaaa(ctx.policy, query.qname, aaaa, a);
    if (ctx.trace) {
      ctx.trace.upstream = answeredBy(aaaa, a);
      ctx.trace.synthesized = outcome.kind === 'written' && outcome.synthesized;
    }
    return dns64Response(query, outcome);
  }

  const ptrTarget =
    query.qtype === QTYPE.PTR ? synthesizedPtrTarget(ctx.policy, query.qname) : null;
  if (ptrTarget) {
    const res = await queryUpstreams(ask(ptrTarget, QTYPE.PTR), ctx.upstream);
    if (ctx.trace) ctx.trace.upstream = answeredBy(res);
    if (!res.ok) return upstreamFailure(query, res);
    if (ctx.trace) ctx.trace.synthesized = true;
    const ptr = ptrThroughCname(query.qname, ptrTarget, res, ctx.policy.maxSynthTtl);
    return writeResponse(query, ptr, edns, [{ code: EDE.SYNTHESIZED }]);
  }

  const res = await queryUpstreams(ask(query.qname, query.qtype), ctx.upstream);
  if (ctx.trace) ctx.trace.upstream = answeredBy(res);
  return res.ok ? relayResponse(query, res.bytes) : upstreamFailure(query, res);
}

/** The upstreams whose answers were used, space-separated; null when none answered. */
function answeredBy(...results: UpstreamResult[]): string | null {
  const urls = new Set<string>();
  for (const r of results) if (r.ok) urls.add(r.upstream);
  return urls.size ? [...urls].join(' ') : null;
}

/** The response to the client for what the DNS64 decided (EDE 29 when it synthesized). */
function dns64Response(query: Query, outcome: Dns64Outcome): Uint8Array {
  switch (outcome.kind) {
    case 'relay':
      return relayResponse(query, outcome.bytes);
    case 'written': {
      const ede: Ede[] = outcome.synthesized ? [{ code: EDE.SYNTHESIZED }] : [];
      return writeResponse(query, outcome.parts, query.edns, ede);
    }
    case 'failed':
      return failure(query, outcome.timeout, outcome.detail);
  }
}

/** Whether this client and this query get DNS64 at all (BIND's clients/recursive-only). */
function synthesisApplies(
  policy: Dns64Policy,
  clientAddress: Uint8Array | null,
  query: Query,
): boolean {
  if (!policy.clients.isEmpty && (!clientAddress || !policy.clients.contains(clientAddress))) {
    return false;
  }
  if (policy.recursiveOnly && (query.flags & FLAG.RD) === 0) return false;
  // RFC 6147 §5.5: a validating client (DO=1, CD=1) gets the real data, unsynthesized.
  if (query.edns.dnssecOk && (query.flags & FLAG.CD) !== 0 && !policy.breakDnssec) return false;
  return true;
}

/**
 * Everything that shapes an answer, apart from the ID and the name's letter case: the tenant's
 * scope, then the folded name, QTYPE, RD and CD, EDNS (present, DO, padding) and whether DNS64
 * applies, as one string of octets built without intermediate strings.
 */
function cacheKey(scope: string, query: Query, synthesis: boolean): string {
  const edns: ClientEdns = query.edns;
  const bits =
    (edns.present ? 1 : 0) |
    (edns.present && edns.dnssecOk ? 2 : 0) |
    (edns.present && edns.padding ? 4 : 0) |
    (synthesis ? 8 : 0) |
    ((query.flags & FLAG.RD) !== 0 ? 16 : 0) |
    ((query.flags & FLAG.CD) !== 0 ? 32 : 0);
  return scope + '|' + nameKey(query.qname, [query.qtype >> 8, query.qtype, bits]);
}

/** RFC 6147 §5.3.1: CNAME to the in-addr.arpa name, then that name's answer. */
function ptrThroughCname(
  qname: Uint8Array,
  target: Uint8Array,
  res: UpstreamResult & { ok: true },
  maxTtl = DEFAULT_SYNTH_TTL,
) {
  const sections: Rr[][] = [[], [], []];
  for (const r of res.layout.records) {
    if (r.type !== QTYPE.OPT) sections[r.section]!.push(rrAt(res.bytes, r));
  }
  const cname: Rr = {
    owner: qname,
    type: QTYPE.CNAME,
    klass: QCLASS_IN,
    ttl: Math.min(DEFAULT_SYNTH_TTL, maxTtl, ...sections[0]!.map((r) => r.ttl)),
    rdata: target,
  };
  return {
    rcode: res.layout.flags & 0xf,
    answers: [cname, ...sections[0]!],
    authorities: sections[1],
    additionals: sections[2],
  };
}

function upstreamFailure(query: Query, res: UpstreamFailure) {
  return failure(query, res.kind === 'timeout', res.detail);
}

/**
 * RFC 8914: 22 (No Reachable Authority) when the upstreams timed out, else 23 (Network Error).
 * The text keeps every question's and every upstream's cause (each upstream's reason is
 * shortened instead, src/upstream/doh-client.ts); over UDP a response too large for the client
 * is truncated and comes whole over TCP.
 */
function failure(query: Query, timeout: boolean, detail: string): Uint8Array {
  const code = timeout ? EDE.NO_REACHABLE_AUTHORITY : EDE.NETWORK_ERROR;
  const text = `upstream ${timeout ? 'timed out' : 'failed'}: ${detail}`;
  return errorResponse(query, RCODE.SERVFAIL, query.edns, [{ code, text }]);
}

export type { UpstreamResult };
