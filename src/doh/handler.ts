import { MAX_MESSAGE_SIZE } from '../dns/constants';
import { freshnessLifetime } from '../dns/ttl';
import type { Engine, EngineEnv, EngineResult, TenantRef, Verdict } from '../resolver/engine';
import { DNS_JSON, jsonQuestion, toJson } from './json';
import { DNS_MESSAGE, decodeBase64Url } from './request';

/**
 * RFC 8484 over any HTTP server: the one mapping of DoH requests onto the engine and of its
 * results onto HTTP, used by the worker and by the Node server over HTTP/1.1 and HTTP/2 alike.
 * A cache hit is answered synchronously.
 */

/** An HTTP request as the transports see it. */
export interface DohExchange {
  readonly method: string;
  /** The query string without `?` ('' when none). */
  readonly search: string;
  /** A request header by lowercase name. */
  header(name: string): string | null | undefined;
  /** The body, or null as soon as it passes `limit` bytes. */
  body(limit: number): Promise<Uint8Array | null>;
  readonly client: Uint8Array | null;
  readonly env: EngineEnv;
  readonly defer?: (p: Promise<unknown>) => void;
  /** Where this instance runs (Workers: the data centre), for NSID and CH TXT id.server. */
  readonly site?: string | null;
}

/** A complete HTTP response, whatever the protocol: status, lowercase headers, the body. */
export interface HttpReply {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

/** A DoH URL: which tenant, and whether it is Google's JSON API (`/resolve`). */
export interface DohRoute {
  readonly tenant: TenantRef;
  readonly jsonOnly: boolean;
}

const DEFAULT: TenantRef = { kind: 'default' };

/**
 * The DoH route of a path, or null for any other path (pages, admin, 404). A trailing slash is
 * tolerated; path segments are percent-decoded.
 */
export function dohRoute(path: string): DohRoute | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (trimmed === '/dns-query') return { tenant: DEFAULT, jsonOnly: false };
  if (trimmed === '/resolve') return { tenant: DEFAULT, jsonOnly: true };
  if (!trimmed.endsWith('/dns-query')) return null;
  // `/p/{addr}/{len}`, `/t/{id}` or `/t/{id}/{key}` before `/dns-query`.
  const segments = trimmed.split('/').slice(1, -1).map(decodeSegment);
  if (segments.some((s) => !s)) return null;
  const [kind, a, b] = segments as string[];
  if (kind === 'p' && segments.length === 3) {
    return { tenant: { kind: 'prefix', text: `${a}/${b}` }, jsonOnly: false };
  }
  if (kind === 't' && (segments.length === 2 || segments.length === 3)) {
    return { tenant: { kind: 'tenant', id: a!, key: b ?? null }, jsonOnly: false };
  }
  return null;
}

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

const ALLOW = 'GET, HEAD, POST, OPTIONS';
const ALLOW_JSON = 'GET, HEAD, OPTIONS';
const CORS: readonly [string, string] = ['access-control-allow-origin', '*'];
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** One DoH request on a DoH route, answered. Never throws. */
export function handleDoh(
  engine: Engine,
  route: DohRoute,
  ex: DohExchange,
): HttpReply | Promise<HttpReply> {
  const method = ex.method;
  if (method === 'OPTIONS') return preflight();
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
    const allow = route.jsonOnly ? ALLOW_JSON : ALLOW;
    return textReply(405, `method ${method} not allowed`, [['allow', allow]]);
  }
  // The request every DoH client sends, `?dns=<base64url>` alone, needs no query-string parser.
  const plain = plainDnsParam(ex.search);
  if (plain !== null && !route.jsonOnly && method !== 'POST')
    return getWire(engine, route, ex, plain);
  const params = new URLSearchParams(ex.search);
  const json = route.jsonOnly || wantsJson(ex, params);
  if (json) {
    if (method === 'POST') return textReply(405, 'the JSON API takes GET', [['allow', ALLOW_JSON]]);
    const q = jsonQuestion(params);
    if (!q.ok) return textReply(400, q.reason);
    const contentType = route.jsonOnly ? 'application/json' : DNS_JSON;
    return settle(ask(engine, route, ex, q.wire), contentType, method);
  }
  if (method === 'POST') return posted(engine, route, ex);
  return getWire(engine, route, ex, params.get('dns'));
}

/** RFC 8484 §4.1 GET (and HEAD): the query as the `dns` parameter, base64url. */
function getWire(
  engine: Engine,
  route: DohRoute,
  ex: DohExchange,
  param: string | null,
): HttpReply | Promise<HttpReply> {
  if (param === null || param === '') return textReply(400, 'missing dns parameter');
  const wire = decodeBase64Url(param);
  if (!wire) return textReply(400, 'dns parameter is not base64url');
  return settle(ask(engine, route, ex, wire), DNS_MESSAGE, ex.method);
}

/** The value of a query string that is `dns=<value>` alone with nothing to percent-decode. */
function plainDnsParam(search: string): string | null {
  if (!search.startsWith('dns=')) return null;
  for (let i = 4; i < search.length; i++) {
    const c = search.charCodeAt(i);
    if (c === 0x26 /* & */ || c === 0x25 /* % */ || c === 0x2b /* + */) return null;
  }
  return search.slice(4);
}

/** RFC 8484 §4.1 POST: an `application/dns-message` body of at most 65535 bytes. */
async function posted(engine: Engine, route: DohRoute, ex: DohExchange): Promise<HttpReply> {
  const type = (ex.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== DNS_MESSAGE) {
    return textReply(415, `content-type must be ${DNS_MESSAGE}, not ${type || 'missing'}`);
  }
  const declared = Number(ex.header('content-length') ?? '0');
  if (declared > MAX_MESSAGE_SIZE) return textReply(413, 'body exceeds 65535 bytes');
  const body = await ex.body(MAX_MESSAGE_SIZE).catch(() => null);
  if (!body) return textReply(413, 'body exceeds 65535 bytes');
  return settle(ask(engine, route, ex, body), DNS_MESSAGE, 'POST');
}

function ask(
  engine: Engine,
  route: DohRoute,
  ex: DohExchange,
  wire: Uint8Array,
): EngineResult | Promise<EngineResult> {
  return engine.answer({
    wire,
    tenant: route.tenant,
    client: ex.client,
    env: ex.env,
    defer: ex.defer,
    site: ex.site,
  });
}

/**
 * The reply for an engine result in `contentType` (the DNS message, or JSON), without a promise
 * when the result came without one.
 */
function settle(
  result: EngineResult | Promise<EngineResult>,
  contentType: string,
  method: string,
): HttpReply | Promise<HttpReply> {
  return result instanceof Promise
    ? result.then((r) => resultReply(r, contentType, method))
    : resultReply(result, contentType, method);
}

function resultReply(r: EngineResult, contentType: string, method: string): HttpReply {
  if (!(r instanceof Uint8Array)) return verdictReply(r);
  if (contentType === DNS_MESSAGE) return reply(200, contentType, r, r, method);
  return reply(200, contentType, encoder.encode(JSON.stringify(toJson(r))), r, method);
}

/** The HTTP form of a verdict: a status and a one-line reason. */
export function verdictReply(v: Verdict): HttpReply {
  switch (v.kind) {
    case 'malformed':
    case 'bad-prefix':
      return textReply(400, v.reason);
    case 'too-large':
      return textReply(413, v.reason);
    case 'unknown-tenant':
      return textReply(404, v.reason);
    case 'forbidden':
    case 'refused':
      return textReply(403, v.reason);
    case 'rate-limited':
      return textReply(429, v.reason, [['retry-after', '60']]);
    case 'misconfigured':
      return textReply(500, v.reason);
  }
}

/**
 * RFC 8484 §5.1: an answer is fresh for as long as its smallest TTL. HEAD gets the headers GET
 * would, without the body (RFC 9110 §9.3.2).
 */
function reply(
  status: number,
  contentType: string,
  body: Uint8Array,
  message: Uint8Array,
  method: string,
): HttpReply {
  return {
    status,
    headers: [
      ['content-type', contentType],
      ['content-length', String(body.length)],
      ['cache-control', `max-age=${freshnessLifetime(message)}`],
      CORS,
    ],
    body: method === 'HEAD' ? EMPTY : body,
  };
}

/** One line of text: every HTTP error says why (RFC 8484 leaves the body to the server). */
export function textReply(
  status: number,
  reason: string,
  extra: readonly (readonly [string, string])[] = [],
): HttpReply {
  const body = encoder.encode(`${reason}\n`);
  return {
    status,
    headers: [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(body.length)],
      CORS,
      ...extra,
    ],
    body,
  };
}

/** 500 for a failure no request should cause (the transports' last resort). */
export function internalErrorReply(err: unknown): HttpReply {
  return textReply(500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}

/** A CORS preflight: browser-based DoH clients may use any origin. */
function preflight(): HttpReply {
  return {
    status: 204,
    headers: [
      CORS,
      ['access-control-allow-methods', 'GET,POST,OPTIONS'],
      ['access-control-allow-headers', 'Content-Type,Accept'],
      ['access-control-max-age', '86400'],
    ],
    body: EMPTY,
  };
}

/** JSON when asked by `ct=application/dns-json` or an Accept header without dns-message. */
function wantsJson(ex: DohExchange, params: URLSearchParams): boolean {
  if (params.has('dns')) return false;
  if (params.get('ct') === DNS_JSON) return true;
  return ex.method !== 'POST' && (ex.header('accept') ?? '').includes(DNS_JSON);
}
