import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { parseAddress } from '../acl/address';
import { type ResolverEnv, type ResolverSettings, settingsFromEnv } from '../config/env';
import { parseQuery } from '../dns/query';
import { freshnessLifetime } from '../dns/ttl';
import { defaultPolicy, type Dns64Policy } from '../dns64/policy';
import { parsePrefix } from '../dns64/prefix';
import { resolve } from '../resolver/resolve';
import { DNS_JSON, jsonQuestion, toJson } from './json';
import { DNS_MESSAGE, readWireQuery } from './request';

export type Env = ResolverEnv;
type AppContext = Context<{ Bindings: Env }>;

const ALLOW = 'GET, POST, OPTIONS';

/** One line of text: every HTTP error says why (RFC 8484 leaves the body to the server). */
export function plainError(status: number, reason: string, headers: HeadersInit = {}): Response {
  return new Response(`${reason}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  });
}

export interface AppOptions {
  /** How upstream DoH requests are sent (tests inject a fake upstream here). */
  readonly fetch?: typeof fetch;
}

/** The RFC 8484 front: routes, CORS, and the mapping of DNS answers onto HTTP. */
export function createApp(options: AppOptions = {}): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  app.use(
    '*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Accept'],
      maxAge: 86400,
    }),
  );

  app.all('/dns-query', (c) => dnsEndpoint(c, options, null));
  app.all('/resolve', (c) => dnsEndpoint(c, options, null, true));
  app.all('/p/:addr/:len/dns-query', (c) => {
    const parsed = parsePrefix(`${c.req.param('addr')}/${c.req.param('len')}`);
    if (!parsed.ok) return plainError(400, `invalid prefix: ${parsed.reason}`);
    return dnsEndpoint(c, options, prefixPolicy(parsed.prefix.text));
  });
  app.get('/', (c) =>
    c.text(
      'DNS64 over HTTPS (RFC 8484, RFC 6147). Endpoints: /dns-query, /resolve, ' +
        '/p/{ipv6-prefix}/{length}/dns-query\n',
    ),
  );
  app.notFound(() => plainError(404, 'not found: DoH is served at /dns-query'));
  app.onError((err) => plainError(500, `internal error: ${err.message}`));
  return app;
}

const prefixPolicies = new Map<string, Dns64Policy>();

/** Policies for `/p/{prefix}` URLs, built once per prefix and isolate. */
function prefixPolicy(text: string): Dns64Policy {
  let policy = prefixPolicies.get(text);
  if (!policy) {
    if (prefixPolicies.size > 1000) prefixPolicies.clear();
    policy = defaultPolicy(text);
    prefixPolicies.set(text, policy);
  }
  return policy;
}

function settingsOf(c: AppContext): ResolverSettings | Response {
  try {
    return settingsFromEnv(c.env ?? {});
  } catch (err) {
    return plainError(500, `misconfigured: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The client's address: CF-Connecting-IP on Workers (set by Cloudflare, not by the client). */
function clientAddress(c: AppContext): Uint8Array | null {
  const header = c.req.header('cf-connecting-ip');
  return header ? parseAddress(header) : null;
}

async function dnsEndpoint(
  c: AppContext,
  options: AppOptions,
  policy: Dns64Policy | null,
  jsonOnly = false,
): Promise<Response> {
  const method = c.req.method;
  if (method !== 'GET' && method !== 'POST' && method !== 'HEAD') {
    return plainError(405, `method ${method} not allowed`, { allow: ALLOW });
  }
  const settings = settingsOf(c);
  if (settings instanceof Response) return settings;
  const ctx = {
    policy: policy ?? settings.policy,
    upstream: { urls: settings.upstreams, deadlineMs: settings.deadlineMs, fetch: options.fetch },
    clientAddress: clientAddress(c),
  };

  const url = new URL(c.req.url);
  if (jsonOnly || wantsJson(c.req.raw, url)) {
    if (method !== 'GET' && method !== 'HEAD') {
      return plainError(405, 'the JSON API takes GET', { allow: 'GET, OPTIONS' });
    }
    const q = jsonQuestion(url.searchParams);
    if (!q.ok) return plainError(400, q.reason);
    const bytes = await resolve(q.query, ctx);
    return new Response(JSON.stringify(toJson(bytes)), {
      headers: {
        'content-type': jsonOnly ? 'application/json' : DNS_JSON,
        'cache-control': `max-age=${freshnessLifetime(bytes)}`,
      },
    });
  }

  const wire = await readWireQuery(c.req.raw);
  if (!wire.ok) {
    return plainError(wire.status, wire.reason, wire.status === 405 ? { allow: ALLOW } : {});
  }
  const parsed = parseQuery(wire.bytes);
  if (!parsed.ok) return plainError(400, parsed.reason);
  const bytes = await resolve(parsed.query, ctx);
  return new Response(bytes, {
    headers: {
      'content-type': DNS_MESSAGE,
      'cache-control': `max-age=${freshnessLifetime(bytes)}`,
    },
  });
}

/** JSON when asked by `ct=application/dns-json` or an Accept header without dns-message. */
function wantsJson(req: Request, url: URL): boolean {
  if (url.searchParams.has('dns')) return false;
  if (url.searchParams.get('ct') === DNS_JSON) return true;
  const accept = req.headers.get('accept') ?? '';
  return req.method === 'GET' && accept.includes(DNS_JSON);
}
