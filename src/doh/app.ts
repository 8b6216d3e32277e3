import { Hono, type Context, type ExecutionContext } from 'hono';
import { parseAddress } from '../acl/address';
import { defaultEdgeCache } from '../cache/edge-cache';
import { ResponseCache } from '../cache/response-cache';
import type { ResolverEnv } from '../config/env';
import { refusalPage, wantsHtml } from '../pages/error-page';
import { pageRoutes } from '../pages/routes';
import type { GatewayView, ServedTransports, SetupInfo } from '../pages/types';
import { Engine, type EngineEnv, type TenantRef } from '../resolver/engine';
import { type AdminEnv, adminRoutes } from '../tenant/admin';
import { gatewayReport } from '../tenant/gateway-api';
import { type GatewayState, healthOf } from '../tenant/gateways';
import type { RateLimitEnv } from '../tenant/rate-limit';
import { TenantStore, kvBackend } from '../tenant/store';
import { type Tenant } from '../tenant/tenant';
import type { UpstreamHealth } from '../upstream/health';
import { type Logger, consoleLogger } from '../obs/log';
import { ObservedHealth } from '../obs/observed-health';
import { type ObsEnv, WorkerLogLevel, workerObserver } from '../obs/observers';
import { openCors } from './cors';
import { plainError } from './errors';
import { type DohExchange, type HttpReply, dohRoute, handleDoh, verdictReply } from './handler';
import { readLimited } from './request';

export { plainError };

export interface Env extends ResolverEnv, AdminEnv, RateLimitEnv, ObsEnv {}

/** The worker's own logging: console JSON lines at the request's LOG_LEVEL (Workers Logs). */
const workerLevel = new WorkerLogLevel();
const workerLog: Logger = consoleLogger(() => workerLevel.level);
/** The worker's upstream health table: logs failures and health changes. */
const workerHealth = new ObservedHealth(() => workerLog);

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
  /** The engine (the Node server shares one between DoH and classic DNS); default: a new one. */
  readonly engine?: Engine;
  /** The clock gateway reports are stamped and judged with (tests move it). */
  readonly now?: () => number;
  /** What the server serves besides DoH, for the setup page; default: nothing (a Worker). */
  readonly transports?: ServedTransports;
  /** Believe X-Forwarded-Proto for the setup page's URLs (the Node server's TRUST_PROXY). */
  readonly trustProxy?: boolean;
  /** Where admin changes are logged; default: the worker's console logger. */
  readonly log?: Logger;
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

function cfConnectingIp(req: Request): Uint8Array | null {
  const header = req.headers.get('cf-connecting-ip');
  return header ? parseAddress(header) : null;
}

/**
 * The worker: DoH URLs go to the engine through the shared DoH handler (src/doh/handler.ts)
 * before Hono's router; the setup pages, the admin API and 404s are Hono routes.
 */
export function createApp(options: AppOptions = {}): Hono<{ Bindings: Env }> {
  // strict: false lets `/t/{id}/` and `/t/{id}` mean the same.
  const app = new Hono<{ Bindings: Env }>({ strict: false });
  const storeOf = options.store ?? kvStore;
  const clientOf = options.clientAddress ?? cfConnectingIp;
  const log = options.log ?? workerLog;
  const engine =
    options.engine ??
    new Engine({
      store: (env) => storeOf(env as Env),
      cache:
        options.cache === undefined
          ? new ResponseCache({ shared: defaultEdgeCache() })
          : options.cache,
      fetch: options.fetch,
      health: options.health ?? workerHealth,
      now: options.now,
      observe: workerObserver(() => workerLog),
      onGatewayChange: (tenant, gateway, state) =>
        log.warn(
          { event: 'gateway', tenant, gateway, state },
          `gateway ${gateway} of ${tenant} is ${state}`,
        ),
    });

  app.use('*', openCors());
  app.route('/admin', adminRoutes(storeOf, { log: () => log, client: clientOf }, options.now));
  app.all(
    '/t/:id/gateways/:gateway',
    gatewayReport((c) => storeOf((c.env ?? {}) as Env), options.now),
  );

  /**
   * The tenant a page is for, or the HTTP error its DoH URL would give: a one-line text/plain
   * reason, or for a browser (Accept: text/html) a short HTML page with the same 403 or 404.
   */
  const pageTenant = async (c: Context, ref: TenantRef): Promise<Tenant | Response> => {
    const env = (c.env ?? {}) as EngineEnv;
    const settings = engine.settings(env);
    if (!('policy' in settings)) return toResponse(verdictReply(settings), 'GET');
    const tenant = await engine.tenant(ref, env, settings);
    if ('policy' in tenant) return tenant;
    const status = tenant.kind === 'forbidden' ? 403 : tenant.kind === 'unknown-tenant' ? 404 : 0;
    if (status !== 0 && ref.kind === 'tenant' && wantsHtml(c.req.header('accept'))) {
      const keyGiven = ref.key !== null && ref.key !== undefined;
      return refusalPage({ status, tenantId: ref.id, keyGiven, reason: tenant.reason });
    }
    return toResponse(verdictReply(tenant), 'GET');
  };
  const pageInfo = (c: Context, tenant: Tenant, path: string) =>
    setupInfo(c, tenant, path, options, storeOf((c.env ?? {}) as Env));
  // The client setup page and Apple profile: for each tenant beside its DoH URL, and at `/`.
  const tenantPage = (withKey: boolean) => async (c: Context) => {
    const id = c.req.param('id') ?? '';
    const key = withKey ? (c.req.param('key') ?? '') : null;
    const tenant = await pageTenant(c, { kind: 'tenant', id, key });
    if (tenant instanceof Response) return tenant;
    return pageInfo(c, tenant, `/t/${id}${key === null ? '' : `/${key}`}/dns-query`);
  };
  app.route('/t/:id', pageRoutes(tenantPage(false)));
  app.route('/t/:id/:key', pageRoutes(tenantPage(true)));
  app.route(
    '/',
    pageRoutes(async (c) => {
      const tenant = await pageTenant(c, { kind: 'default' });
      return tenant instanceof Response ? tenant : pageInfo(c, tenant, '/dns-query');
    }),
  );
  app.notFound(() => plainError(404, 'not found: DoH is served at /dns-query'));
  app.onError((err) => plainError(500, `internal error: ${err.message}`));

  const routed = app.fetch;
  app.fetch = (request, env, executionCtx) => {
    if (!options.log) workerLevel.update(env as ObsEnv | undefined, workerLog);
    const url = request.url;
    const pathStart = url.indexOf('/', url.indexOf('//') + 2);
    const queryStart = url.indexOf('?', pathStart);
    const path =
      pathStart < 0 ? '/' : url.slice(pathStart, queryStart < 0 ? undefined : queryStart);
    const route = dohRoute(path);
    if (!route) return routed(request, env, executionCtx);
    const exchange: DohExchange = {
      method: request.method,
      search: queryStart < 0 ? '' : url.slice(queryStart + 1),
      header: (name) => request.headers.get(name),
      body: (limit) => readLimited(request, limit),
      client: clientOf(request),
      env: (env ?? {}) as EngineEnv,
      defer: backgroundOf(executionCtx),
      site: coloOf(request),
    };
    const reply = handleDoh(engine, route, exchange);
    return reply instanceof Promise
      ? reply.then((r) => toResponse(r, request.method))
      : toResponse(reply, request.method);
  };
  return app;
}

/** The Cloudflare data centre that runs this request (`request.cf.colo`, e.g. `AMS`), if any. */
function coloOf(request: Request): string | null {
  const colo = (request as { cf?: { colo?: unknown } }).cf?.colo;
  return typeof colo === 'string' && /^[A-Za-z0-9-]{1,16}$/.test(colo) ? colo : null;
}

/**
 * A reply as a Web Response. The headers are set one by one: in workerd that costs half of
 * converting a `headers` dictionary in the constructor.
 */
function toResponse(reply: HttpReply, method: string): Response {
  const empty = method === 'HEAD' || reply.status === 204;
  const res = new Response(empty ? null : reply.body, { status: reply.status });
  for (const [name, value] of reply.headers) res.headers.set(name, value);
  return res;
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

/**
 * What the page shows for a tenant. The DoH URL has the scheme and authority the page was
 * reached with; behind a proxy that terminates TLS (TRUST_PROXY) the first X-Forwarded-Proto
 * value gives the scheme, so the page does not call an https:// URL http://.
 */
function setupInfo(
  c: Context,
  tenant: Tenant,
  path: string,
  options: AppOptions,
  store: TenantStore | null,
): SetupInfo {
  const gateways = gatewayViews(store, tenant, (options.now ?? Date.now)());
  const url = new URL(c.req.url);
  let origin = url.origin;
  if (options.trustProxy) {
    const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
    if (proto === 'https' || proto === 'http') origin = `${proto}://${url.host}`;
  }
  return {
    tenantId: tenant.id,
    displayName: tenant.name ?? url.hostname,
    dohUrl: `${origin}${path}`,
    prefixes: tenant.policy.prefixes.map((p) => p.prefix.text),
    host: url.hostname,
    ...(options.transports ? { transports: options.transports } : {}),
    ...(gateways ? { gateways } : {}),
  };
}

/** The tenant's gateways as its memo holds them (the page's tenant lookup has just filled it). */
function gatewayViews(
  store: TenantStore | null,
  tenant: Tenant,
  now: number,
): GatewayView[] | undefined {
  if (!tenant.id || tenant.gateways.length === 0) return undefined;
  const found = store?.remembered(tenant.id);
  const states = found?.kind === 'found' ? found.gateways : new Map<string, GatewayState>();
  return tenant.gateways.map((name) => {
    const state = states.get(name);
    return {
      name,
      state: healthOf(state, tenant.gatewayTimeoutMs, now),
      lastReport: state ? new Date(state.at).toISOString() : null,
      prefixes: tenant.allPrefixes.filter((p) => p.gateway === name).map((p) => p.prefix.text),
    };
  });
}
