import { EDE, RCODE } from '../dns/constants';
import { clientEdns } from '../dns/edns';
import type { Packet } from '../dns/message';
import { parseQuery } from '../dns/query';
import { errorResponse } from '../dns/response';
import { freshnessLifetime } from '../dns/ttl';
import type { ResponseCache } from '../cache/response-cache';
import { cachedAnswer, resolve, type ResolveContext } from '../resolver/resolve';
import type { Tenant } from '../tenant/tenant';
import type { UpstreamOptions } from '../upstream/doh-client';
import { plainError } from './errors';
import { DNS_JSON, jsonQuestion, toJson } from './json';
import { DNS_MESSAGE, plainWireQuery, readWireQuery } from './request';

const ALLOW = 'GET, POST, OPTIONS';
/** What the JSON API (`/resolve`, `?ct=application/dns-json`) takes. */
const JSON_ALLOW = 'GET, OPTIONS';

export interface EndpointContext {
  readonly tenant: Tenant;
  readonly clientAddress: Uint8Array | null;
  readonly upstream: UpstreamOptions;
  readonly cache: ResponseCache | null;
  readonly defer?: (p: Promise<unknown>) => void;
}

/**
 * One DoH request (wire or JSON) for a tenant, answered with a DNS message or an HTTP error.
 * A GET whose answer is in the in-memory cache is answered synchronously (no awaits on the
 * hottest path); everything else goes through wireEndpoint() or jsonEndpoint().
 */
export function dnsEndpoint(
  req: Request,
  ctx: EndpointContext,
  jsonOnly = false,
): Response | Promise<Response> {
  const method = req.method;
  if (method !== 'GET' && method !== 'POST' && method !== 'HEAD') {
    return plainError(405, `method ${method} not allowed`, {
      allow: jsonOnly ? JSON_ALLOW : ALLOW,
    });
  }
  const url = new URL(req.url);
  if (jsonOnly || wantsJson(req, url)) return jsonEndpoint(method, url, ctx, jsonOnly);
  if (method === 'GET') {
    const param = url.searchParams.get('dns');
    const raw = param ? plainWireQuery(param) : null;
    if (raw) return wireGetAnswer(raw, ctx);
  }
  return wireEndpoint(req, url, ctx);
}

/**
 * A GET already known to be `/dns-query?dns=<param>` and nothing else (wireGetParam), so the URL
 * need not be parsed; a parameter that is not plain base64url of a message takes dnsEndpoint(),
 * with its exact errors.
 */
export function wireGetEndpoint(
  req: Request,
  param: string,
  ctx: EndpointContext,
): Response | Promise<Response> {
  const raw = param ? plainWireQuery(param) : null;
  return raw ? wireGetAnswer(raw, ctx) : dnsEndpoint(req, ctx);
}

/** The cache first; a miss goes on with the bytes already decoded and the cache already asked. */
function wireGetAnswer(raw: Uint8Array, ctx: EndpointContext): Response | Promise<Response> {
  const hit = cachedWire(raw, ctx);
  return hit ? wireResponse(hit) : wireAnswer(uncachedWire(raw, ctx));
}

async function wireEndpoint(req: Request, url: URL, ctx: EndpointContext): Promise<Response> {
  const wire = await readWireQuery(req, url.searchParams);
  if (!wire.ok) {
    return plainError(wire.status, wire.reason, wire.status === 405 ? { allow: ALLOW } : {});
  }
  return wireAnswer(answerWire(wire.bytes, ctx));
}

async function wireAnswer(pending: Promise<Uint8Array | string>): Promise<Response> {
  const bytes = await pending;
  if (typeof bytes === 'string') return plainError(400, bytes);
  return wireResponse(bytes);
}

/**
 * RFC 8484 §5.1: a DNS message, fresh for as long as its smallest TTL. The headers are set one
 * by one: in workerd that costs half of converting a `headers` dictionary in the constructor.
 */
function wireResponse(bytes: Uint8Array): Response {
  const res = new Response(bytes);
  res.headers.set('content-type', DNS_MESSAGE);
  res.headers.set('cache-control', `max-age=${freshnessLifetime(bytes)}`);
  return res;
}

async function jsonEndpoint(
  method: string,
  url: URL,
  ctx: EndpointContext,
  jsonOnly: boolean,
): Promise<Response> {
  if (method === 'POST') return plainError(405, 'the JSON API takes GET', { allow: JSON_ALLOW });
  const q = jsonQuestion(url.searchParams);
  if (!q.ok) return plainError(400, q.reason);
  const bytes = await answer(q.query, ctx);
  return new Response(JSON.stringify(toJson(bytes)), {
    headers: {
      'content-type': jsonOnly ? 'application/json' : DNS_JSON,
      'cache-control': `max-age=${freshnessLifetime(bytes)}`,
    },
  });
}

/**
 * The cache-hit path alone: the answer to a wire query straight from the in-memory cache, or
 * null (the query needs answerWire()). Synchronous, so a server can answer hits at once.
 */
export function cachedWire(raw: Uint8Array, ctx: EndpointContext): Uint8Array | null {
  return allowed(ctx) && ctx.cache ? cachedAnswer(raw, resolveContext(ctx)) : null;
}

/**
 * A wire query: the cache-hit path first (no decoding), else decoded and answered; a string is
 * the reason the bytes are not a DNS query (HTTP 400).
 */
export async function answerWire(
  raw: Uint8Array,
  ctx: EndpointContext,
): Promise<Uint8Array | string> {
  return cachedWire(raw, ctx) ?? uncachedWire(raw, ctx);
}

/** A wire query the in-memory cache has no answer for: decoded and answered. */
export async function uncachedWire(
  raw: Uint8Array,
  ctx: EndpointContext,
): Promise<Uint8Array | string> {
  const parsed = parseQuery(raw);
  if (!parsed.ok) return parsed.reason;
  return answer(parsed.query, ctx, raw);
}

function allowed({ tenant, clientAddress }: EndpointContext): boolean {
  return (
    tenant.allowQuery.isEmpty ||
    (clientAddress !== null && tenant.allowQuery.contains(clientAddress))
  );
}

function resolveContext(ctx: EndpointContext): ResolveContext {
  const cache = ctx.cache
    ? { store: ctx.cache, scope: ctx.tenant.cacheScope, defer: ctx.defer }
    : undefined;
  return {
    policy: ctx.tenant.policy,
    upstream: ctx.upstream,
    clientAddress: ctx.clientAddress,
    cache,
  };
}

/** The tenant's `allowQuery` (others get REFUSED with EDE 18, Prohibited), then resolution. */
export async function answer(
  query: Packet,
  ctx: EndpointContext,
  raw?: Uint8Array,
): Promise<Uint8Array> {
  const { tenant, clientAddress } = ctx;
  if (!tenant.allowQuery.isEmpty && !(clientAddress && tenant.allowQuery.contains(clientAddress))) {
    const text = `client not allowed by tenant ${tenant.id ?? '(default)'}`;
    return errorResponse(query, RCODE.REFUSED, clientEdns(query), [{ code: EDE.PROHIBITED, text }]);
  }
  const cache = ctx.cache
    ? { store: ctx.cache, scope: tenant.cacheScope, defer: ctx.defer }
    : undefined;
  return resolve(
    query,
    { policy: tenant.policy, upstream: ctx.upstream, clientAddress, cache },
    raw,
  );
}

/** JSON when asked by `ct=application/dns-json` or an Accept header without dns-message. */
function wantsJson(req: Request, url: URL): boolean {
  if (url.searchParams.has('dns')) return false;
  if (url.searchParams.get('ct') === DNS_JSON) return true;
  const accept = req.headers.get('accept') ?? '';
  // HEAD is answered as GET is (RFC 9110 §9.3.2).
  return (req.method === 'GET' || req.method === 'HEAD') && accept.includes(DNS_JSON);
}
