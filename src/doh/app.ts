import { Hono, type Context, type ExecutionContext } from 'hono';
import { parseAddress } from '../acl/address';
import { defaultEdgeCache } from '../cache/edge-cache';
import { ResponseCache } from '../cache/response-cache';
import { type ResolverEnv, type ResolverSettings, settingsFromEnv } from '../config/env';
import { type Dns64Policy, defaultPolicy } from '../dns64/policy';
import { parsePrefix } from '../dns64/prefix';
import { pageRoutes } from '../pages/routes';
import type { SetupInfo } from '../pages/types';
import { type AdminEnv, adminRoutes } from '../tenant/admin';
import { checkRateLimit, type RateLimitEnv } from '../tenant/rate-limit';
import { sameSecret } from '../tenant/secret';
import { TenantStore, kvBackend } from '../tenant/store';
import { type Tenant, openTenant } from '../tenant/tenant';
import type { UpstreamHealth } from '../upstream/health';
import { type EndpointContext, dnsEndpoint, wireGetEndpoint } from './endpoint';
import { wireGetParam } from './request';
import { openCors, withOpenCors } from './cors';
import { plainError } from './errors';

export { plainError };

export interface Env extends ResolverEnv, AdminEnv, RateLimitEnv {}

type AppContext = Context<{ Bindings: Env }>;

export interface AppOptions {
  /** How upstream DoH requests are sent (tests inject a fake upstream here). */
  readonly fetch?: typeof fetch;
  /** Where tenants live; default: the TENANTS KV binding. */
  readonly store?: (env: Env) => TenantStore | null;
  /** Upstream health table; default: the isolate's shared one (tests give each app its own). */
  readonly health?: UpstreamHealth;
  /** The answer cache; default: an in-isolate LRU backed by the Workers Cache API; null: none. */
  readonly cache?: ResponseCache | null;
  /** The client's address; default: CF-Connecting-IP, which Cloudflare sets (not the client). */
  readonly clientAddress?: (req: Request) => Uint8Array | null;
}

const kvStores = new WeakMap<KVNamespace, TenantStore>();

/** One TenantStore (and so one memo) per KV binding and isolate. */
function kvStore(env: Env): TenantStore | null {
  const kv = env?.TENANTS;
  if (!kv) return null;
  let store = kvStores.get(kv);
  if (!store) {
    store = new TenantStore(kvBackend(kv));
    kvStores.set(kv, store);
  }
  return store;
}

/**
 * waitUntil where the runtime has an execution context (Workers); elsewhere (Node, tests) the
 * background work simply runs on.
 */
function backgroundOf(executionCtx: ExecutionContext | undefined): (p: Promise<unknown>) => void {
  return (p) => {
    try {
      executionCtx?.waitUntil(p);
    } catch {
      // no usable execution context: the promise runs on by itself
    }
  };
}

/** Hono's execution context, or undefined where there is none (it throws then). */
function executionOf(c: AppContext): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

function cfConnectingIp(req: Request): Uint8Array | null {
  const header = req.headers.get('cf-connecting-ip');
  return header ? parseAddress(header) : null;
}

/** The RFC 8484 front: routes, tenants, CORS, and the mapping of DNS answers onto HTTP. */
export function createApp(options: AppOptions = {}): Hono<{ Bindings: Env }> {
  // strict: false lets `/t/{id}/` and `/t/{id}` (and `/dns-query/`) mean the same.
  const app = new Hono<{ Bindings: Env }>({ strict: false });
  const storeOf = options.store ?? kvStore;
  const clientOf = options.clientAddress ?? cfConnectingIp;
  const cache =
    options.cache === undefined ? new ResponseCache({ shared: defaultEdgeCache() }) : options.cache;

  app.use('*', openCors());

  /**
   * request -> tenant -> (rate limit) -> the DNS endpoint. Stays synchronous as far as it can,
   * so that a cache hit for the default tenant is answered without a single await.
   */
  const serve = (
    c: AppContext,
    pick: (settings: ResolverSettings) => Promise<Tenant | Response> | Tenant | Response,
    jsonOnly = false,
  ): Response | Promise<Response> => {
    let settings: ResolverSettings;
    try {
      settings = settingsFromEnv(c.env ?? {});
    } catch (err) {
      return plainError(500, `misconfigured: ${err instanceof Error ? err.message : String(err)}`);
    }
    const picked = pick(settings);
    const go = (tenant: Tenant | Response) =>
      tenant instanceof Response
        ? tenant
        : forTenant(c.req.raw, c.env ?? {}, executionOf(c), tenant, settings, jsonOnly);
    return picked instanceof Promise ? picked.then(go) : go(picked);
  };

  const forTenant = (
    req: Request,
    env: Env,
    executionCtx: ExecutionContext | undefined,
    tenant: Tenant,
    settings: ResolverSettings,
    jsonOnly: boolean,
    /** The `dns` value of a request known to be RFC 8484's GET form, else null. */
    wireParam: string | null = null,
  ): Response | Promise<Response> => {
    const clientAddress = clientOf(req);
    const ctx: EndpointContext = {
      tenant,
      clientAddress,
      cache,
      defer: backgroundOf(executionCtx),
      upstream: {
        urls: tenant.upstreams ?? settings.upstreams,
        deadlineMs: settings.deadlineMs,
        fetch: options.fetch,
        health: options.health,
      },
    };
    const endpoint = () =>
      wireParam === null ? dnsEndpoint(req, ctx, jsonOnly) : wireGetEndpoint(req, wireParam, ctx);
    if (tenant.rateLimit === null) return endpoint();
    return checkRateLimit(env, tenant, clientAddress).then((limited) => limited ?? endpoint());
  };

  app.all('/dns-query', (c) => serve(c, (s) => openTenant(s.policy)));
  app.all('/resolve', (c) => serve(c, (s) => openTenant(s.policy), true));
  app.all('/p/:addr/:len/dns-query', (c) =>
    serve(c, () => {
      const parsed = parsePrefix(`${c.req.param('addr')}/${c.req.param('len')}`);
      if (!parsed.ok) return plainError(400, `invalid prefix: ${parsed.reason}`);
      return openTenant(prefixPolicy(parsed.prefix.text));
    }),
  );

  const tenantFor = (c: AppContext, key: string | null) => () =>
    findTenant(storeOf(c.env ?? {}), c.req.param('id') ?? '', key);
  app.all('/t/:id/dns-query', (c) => serve(c, tenantFor(c, null)));
  app.all('/t/:id/:key/dns-query', (c) => serve(c, tenantFor(c, c.req.param('key'))));

  app.route('/admin', adminRoutes(storeOf));

  // The client setup page and Apple profile: for each tenant beside its DoH URL, and at `/`.
  const tenantPage = (withKey: boolean) => async (c: Context) => {
    const id = c.req.param('id') ?? '';
    const key = withKey ? (c.req.param('key') ?? '') : null;
    const tenant = await findTenant(storeOf((c.env ?? {}) as Env), id, key);
    if (tenant instanceof Response) return tenant;
    const path = `/t/${id}${key === null ? '' : `/${key}`}/dns-query`;
    return setupInfo(c, tenant, path);
  };
  app.route('/t/:id', pageRoutes(tenantPage(false)));
  app.route('/t/:id/:key', pageRoutes(tenantPage(true)));
  app.route(
    '/',
    pageRoutes(async (c) => {
      try {
        return setupInfo(c, openTenant(settingsFromEnv((c.env ?? {}) as Env).policy), '/dns-query');
      } catch (err) {
        return plainError(
          500,
          `misconfigured: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }),
  );
  app.notFound(() => plainError(404, 'not found: DoH is served at /dns-query'));
  app.onError((err) => plainError(500, `internal error: ${err.message}`));
  /**
   * RFC 8484 `GET /dns-query?dns=` for the default tenant, the hottest request, is answered
   * before Hono's router and middleware (as the Node server's fast path does); the same endpoint,
   * the same CORS header. Anything else, or a misconfiguration to report, goes through Hono.
   */
  const routed = app.fetch;
  app.fetch = (request, env, executionCtx) => {
    const param = request.method === 'GET' ? wireGetParam(pathAndQuery(request.url)) : null;
    if (param === null) return routed(request, env, executionCtx);
    let settings: ResolverSettings;
    try {
      settings = settingsFromEnv((env ?? {}) as Env);
    } catch {
      return routed(request, env, executionCtx);
    }
    const tenant = openTenant(settings.policy);
    const res = forTenant(
      request,
      (env ?? {}) as Env,
      executionCtx,
      tenant,
      settings,
      false,
      param,
    );
    return res instanceof Promise ? res.then(withOpenCors) : withOpenCors(res);
  };
  return app;
}

/** The path and query of an absolute URL (`/dns-query?dns=...`). */
function pathAndQuery(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start < 0 ? '/' : url.slice(start);
}

function setupInfo(c: Context, tenant: Tenant, path: string): SetupInfo {
  const url = new URL(c.req.url);
  return {
    tenantId: tenant.id,
    displayName: tenant.name ?? url.hostname,
    dohUrl: `${url.origin}${path}`,
    prefixes: tenant.policy.prefixes.map((p) => p.prefix.text),
    host: url.hostname,
  };
}

/** `/t/{id}[/{key}]`: 404 for an unknown tenant, 403 for a missing or wrong key. */
export async function findTenant(
  store: TenantStore | null,
  id: string,
  key: string | null,
): Promise<Tenant | Response> {
  if (!store) return plainError(404, `unknown tenant ${id}: no tenant store is configured`);
  const found = await store.lookup(id);
  if (found.kind === 'missing') return plainError(404, `unknown tenant ${id}`);
  if (found.kind === 'invalid') {
    return plainError(500, `tenant ${id} has an invalid record: ${found.errors.join('; ')}`);
  }
  const tenant = found.tenant;
  if (tenant.key === null) {
    return key === null ? tenant : plainError(403, `tenant ${id} takes no key in its URL`);
  }
  if (key === null) return plainError(403, `tenant ${id} needs its key: /t/${id}/{key}/dns-query`);
  if (!(await sameSecret(key, tenant.key))) return plainError(403, `wrong key for tenant ${id}`);
  return tenant;
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
