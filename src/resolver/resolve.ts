import { EDE, FLAG, RCODE } from '../dns/constants';
import { type ClientEdns, type Ede, clientEdns } from '../dns/edns';
import { type Asker } from '../cache/entry';
import type { ResponseCache } from '../cache/response-cache';
import {
  type Answer,
  type Packet,
  type Question,
  encodeMessage,
  hasFlag,
  isQueryOpcode,
  rcodeOf,
} from '../dns/message';
import { peekQuery } from '../dns/peek';
import { scanMessage } from '../dns/scan';
import { buildResponse, errorResponse, passthroughResponse, writeResponse } from '../dns/response';
import { answerIpv4Only, isIpv4OnlyName } from '../dns64/ipv4only';
import type { Dns64Policy } from '../dns64/policy';
import { synthesizedPtrTarget } from '../dns64/ptr';
import { DEFAULT_SYNTH_TTL, type Dns64Outcome, synthesizeAaaa } from '../dns64/synthesize';
import {
  type UpstreamFailure,
  type UpstreamOptions,
  type UpstreamResult,
  queryUpstreams,
} from '../upstream/doh-client';
import { Deadline } from '../upstream/deadline';
import type { UpstreamQuestion } from '../upstream/wire';

/** Everything one query is answered with: the tenant's policy, its upstreams, the client. */
export interface ResolveContext {
  readonly policy: Dns64Policy;
  readonly upstream: UpstreamOptions;
  /** The client's address (4 or 16 bytes), for the policy's `clients` list; null if unknown. */
  readonly clientAddress: Uint8Array | null;
  /** The answer cache and this tenant's part of it; none = always ask upstream. */
  readonly cache?: {
    readonly store: ResponseCache;
    /** Distinguishes tenants (and their settings) sharing one cache. */
    readonly scope: string;
    /** Keeps background work (a shared-cache write) alive after the response (waitUntil). */
    readonly defer?: (p: Promise<unknown>) => void;
  };
}

/**
 * The data path of one query: question -> local answers -> cache -> upstream -> DNS64
 * synthesis -> response bytes. `raw` is the query as it came (for the cache's fast path).
 * Never throws: every failure becomes a DNS error with an Extended DNS Error.
 */
export async function resolve(
  query: Packet,
  ctx: ResolveContext,
  raw?: Uint8Array,
): Promise<Uint8Array> {
  const edns = clientEdns(query);
  try {
    return await answer(query, edns, ctx, raw);
  } catch (err) {
    const text = `internal error: ${err instanceof Error ? err.message : String(err)}`;
    return errorResponse(query, RCODE.SERVFAIL, edns, [{ code: EDE.OTHER, text }]);
  }
}

async function answer(
  query: Packet,
  edns: ClientEdns,
  ctx: ResolveContext,
  raw: Uint8Array | undefined,
): Promise<Uint8Array> {
  const questions = query.questions ?? [];
  if (!isQueryOpcode(query)) return errorResponse(query, RCODE.NOTIMP, edns);
  if (questions.length !== 1) return errorResponse(query, RCODE.FORMERR, edns);
  if (edns.present && edns.version > 0) return errorResponse(query, RCODE.BADVERS, edns);
  const q = questions[0]!;
  if (q.class !== undefined && q.class !== 'IN') {
    const ede = [{ code: EDE.OTHER, text: 'only class IN is served' }];
    return errorResponse(query, RCODE.REFUSED, edns, ede);
  }

  const local = answerIpv4Only(ctx.policy, q.name, q.type);
  if (local) return buildResponse(query, local, edns);

  const synthesis =
    q.type === 'AAAA' && synthesisApplies(ctx.policy, ctx.clientAddress, query.flags ?? 0, edns);
  const compute = () => fromUpstream(query, q, edns, ctx, synthesis);
  if (!ctx.cache) return compute();
  const key = cacheKey(ctx.cache.scope, q.name, q.type, edns, query.flags ?? 0, synthesis);
  return ctx.cache.store.answer(key, asker(query, raw), compute, ctx.cache.defer);
}

/** The client's ID and wire question, for patching a cached answer. */
function asker(query: Packet, raw: Uint8Array | undefined): Asker {
  const bytes = raw ?? encodeMessage({ ...query, additionals: [], answers: [], authorities: [] });
  const layout = scanMessage(bytes);
  const end = layout && layout.qdcount === 1 ? layout.questionEnd : 12;
  return { id: query.id ?? 0, question: bytes.subarray(12, end) };
}

async function fromUpstream(
  query: Packet,
  q: Question,
  edns: ClientEdns,
  ctx: ResolveContext,
  synthesis: boolean,
): Promise<Uint8Array> {
  const ask = (name: string, type: string): UpstreamQuestion => ({
    name,
    type,
    edns: edns.present,
    dnssecOk: edns.dnssecOk,
    checkingDisabled: hasFlag(query, FLAG.CD),
    padding: edns.padding,
  });

  if (synthesis) {
    // RFC 6147 §5.1.8 allows asking A and AAAA in parallel: one round trip, not two.
    // One deadline (one timer) for both.
    const deadline = new Deadline(ctx.upstream.deadlineMs);
    const [aaaa, a] = await Promise.all([
      queryUpstreams(ask(q.name, 'AAAA'), ctx.upstream, deadline),
      queryUpstreams(ask(q.name, 'A'), ctx.upstream, deadline),
    ]);
    return dns64Response(query, edns, synthesizeAaaa(ctx.policy, q.name, aaaa, a));
  }

  const ptrTarget = q.type === 'PTR' ? synthesizedPtrTarget(ctx.policy, q.name) : null;
  if (ptrTarget) {
    const res = await queryUpstreams(ask(ptrTarget, 'PTR'), ctx.upstream);
    if (!res.ok) return upstreamFailure(query, edns, res);
    return checked(
      query,
      edns,
      buildResponse(query, ptrThroughCname(q.name, ptrTarget, res.packet), edns, [
        { code: EDE.SYNTHESIZED },
      ]),
    );
  }

  const res = await queryUpstreams(ask(q.name, q.type), ctx.upstream);
  return res.ok ? passthroughResponse(query, res.bytes) : upstreamFailure(query, edns, res);
}

/** The response to the client for what the DNS64 decided (EDE 29 when it synthesized). */
export function dns64Response(query: Packet, edns: ClientEdns, outcome: Dns64Outcome): Uint8Array {
  switch (outcome.kind) {
    case 'upstream':
      return passthroughResponse(query, outcome.bytes);
    case 'wire':
      return writeResponse(query, outcome.answer, edns, synthesizedEde(outcome.synthesized));
    case 'built': {
      const ede = synthesizedEde(outcome.synthesized);
      return checked(query, edns, buildResponse(query, outcome.packet, edns, ede));
    }
    case 'failed':
      return failure(query, edns, outcome.timeout, outcome.detail);
  }
}

function synthesizedEde(synthesized: boolean): Ede[] {
  return synthesized ? [{ code: EDE.SYNTHESIZED }] : [];
}

/** Whether this client and this query get DNS64 at all (BIND's clients/recursive-only). */
function synthesisApplies(
  policy: Dns64Policy,
  clientAddress: Uint8Array | null,
  flags: number,
  edns: ClientEdns,
): boolean {
  if (!policy.clients.isEmpty && (!clientAddress || !policy.clients.contains(clientAddress))) {
    return false;
  }
  if (policy.recursiveOnly && (flags & FLAG.RD) === 0) return false;
  // RFC 6147 §5.5: a validating client (DO=1, CD=1) gets the real data, unsynthesized.
  if (edns.dnssecOk && (flags & FLAG.CD) !== 0 && !policy.breakDnssec) return false;
  return true;
}

/** Everything that shapes an answer, apart from the ID and the name's letter case. */
function cacheKey(
  scope: string,
  qname: string,
  qtype: string,
  edns: ClientEdns,
  flags: number,
  synthesis: boolean,
): string {
  return [
    scope,
    qname.toLowerCase().replace(/\.$/, ''),
    qtype,
    edns.present ? `e${edns.dnssecOk ? 'd' : ''}${edns.padding ? 'p' : ''}` : '',
    flags & (FLAG.RD | FLAG.CD),
    synthesis ? 's' : '',
  ].join('|');
}

/**
 * The cache-hit path: the answer for a plain query straight from the in-memory cache, read off
 * the wire without decoding it; null (decode and resolve) for anything else. The same key and
 * the same rules as resolve(), so a hit here is the answer resolve() would give.
 */
export function cachedAnswer(raw: Uint8Array, ctx: ResolveContext): Uint8Array | null {
  if (!ctx.cache) return null;
  const shape = peekQuery(raw);
  if (!shape || isIpv4OnlyName(shape.qname)) return null;
  const synthesis =
    shape.qtype === 'AAAA' &&
    synthesisApplies(ctx.policy, ctx.clientAddress, shape.flags, shape.edns);
  const key = cacheKey(
    ctx.cache.scope,
    shape.qname,
    shape.qtype,
    shape.edns,
    shape.flags,
    synthesis,
  );
  return ctx.cache.store.peek(key, { id: shape.id, question: shape.question });
}

/** RFC 6147 §5.3.1: CNAME to the in-addr.arpa name, then that name's answer. */
function ptrThroughCname(qname: string, target: string, res: Packet): Packet {
  const ttls = (res.answers ?? []).map((r) => ('ttl' in r ? (r.ttl ?? 0) : 0));
  const cname: Answer = {
    type: 'CNAME',
    name: qname,
    class: 'IN',
    ttl: Math.min(DEFAULT_SYNTH_TTL, ...ttls),
    data: target,
  };
  return {
    type: 'response',
    flags: rcodeOf(res),
    answers: [cname, ...(res.answers ?? [])],
    authorities: res.authorities ?? [],
    additionals: res.additionals ?? [],
  };
}

function upstreamFailure(query: Packet, edns: ClientEdns, res: UpstreamResult & UpstreamFailure) {
  return failure(query, edns, res.kind === 'timeout', res.detail);
}

/**
 * A response rebuilt from decoded upstream data must still be a well-formed message (names
 * dns-packet cannot carry, such as labels that are not UTF-8, would not be): else SERVFAIL.
 */
function checked(query: Packet, edns: ClientEdns, bytes: Uint8Array): Uint8Array {
  if (scanMessage(bytes)) return bytes;
  const ede = [{ code: EDE.OTHER, text: 'upstream data could not be re-encoded' }];
  return errorResponse(query, RCODE.SERVFAIL, edns, ede);
}

/** RFC 8914: 22 (No Reachable Authority) when the upstreams timed out, else 23 (Network Error). */
function failure(query: Packet, edns: ClientEdns, timeout: boolean, detail: string): Uint8Array {
  const code = timeout ? EDE.NO_REACHABLE_AUTHORITY : EDE.NETWORK_ERROR;
  const text = `upstream ${timeout ? 'timed out' : 'failed'}: ${detail}`.slice(0, 200);
  return errorResponse(query, RCODE.SERVFAIL, edns, [{ code, text }]);
}

export type { UpstreamResult };
