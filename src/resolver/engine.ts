import type { ResponseCache } from '../cache/response-cache';
import { type ResolverEnv, type ResolverSettings, settingsFromEnv } from '../config/env';
import { EDE, EDNS_OPTION, MAX_MESSAGE_SIZE, RCODE } from '../dns/constants';
import { withOption } from '../dns/edns';
import { parseQuery } from '../dns/query';
import { errorResponse } from '../dns/response';
import { defaultPolicy } from '../dns64/policy';
import { parsePrefix } from '../dns64/prefix';
import { type RateLimitEnv, checkRateLimit } from '../tenant/rate-limit';
import { sameSecret } from '../tenant/secret';
import { type GatewayHealth, type GatewayStates, healthOf, livePrefixes } from '../tenant/gateways';
import type { TenantLookup, TenantStore } from '../tenant/store';
import { type Tenant, openTenant } from '../tenant/tenant';
import type { Exchangers, UpstreamOptions } from '../upstream/doh-client';
import type { UpstreamHealth } from '../upstream/health';
import type { DdrConfig } from './ddr';
import { type QueryEvent, QueryTrace, type QueryTransport } from '../obs/query-event';
import { resolve } from './resolve';

/**
 * The one answer engine: every transport (DoH GET, POST and JSON on Workers and Node, classic
 * DNS over UDP and TCP, DoT) hands it a query's wire bytes and the client, and gets back the
 * response's wire bytes or a verdict it turns into its own form (an HTTP status with a reason,
 * or a DNS RCODE). tenant -> allowQuery -> rate limit -> query -> resolve (cache, upstream,
 * synthesis, response): each once per query. A cache hit for a tenant in memory is answered
 * synchronously.
 */

/** Which tenant a query is for, as its transport names it. */
export type TenantRef =
  /** The deployment's own settings (`/dns-query`). */
  | { readonly kind: 'default' }
  /** `/p/{prefix}/{length}/dns-query`: the default settings with another NAT64 prefix. */
  | { readonly kind: 'prefix'; readonly text: string }
  /** `/t/{id}[/{key}]/dns-query`, or a server's DNS_TENANT (no key: `key` undefined). */
  | { readonly kind: 'tenant'; readonly id: string; readonly key: string | null | undefined };

/** Why a query gets no DNS answer from the engine. */
export type Verdict =
  /** The bytes are not a DNS query (HTTP 400; classic DNS: FORMERR if readable, else drop). */
  | { readonly kind: 'malformed'; readonly reason: string }
  /** More than 65535 bytes (HTTP 413). */
  | { readonly kind: 'too-large'; readonly reason: string }
  /** An invalid `/p/` prefix (HTTP 400). */
  | { readonly kind: 'bad-prefix'; readonly reason: string }
  /** No such tenant (HTTP 404). */
  | { readonly kind: 'unknown-tenant'; readonly reason: string }
  /** A tenant's key missing or wrong (HTTP 403). */
  | { readonly kind: 'forbidden'; readonly reason: string }
  /** The client is outside the server-wide ACL (HTTP 403; classic DNS: REFUSED, EDE 18). */
  | { readonly kind: 'refused'; readonly reason: string }
  /** Over the tenant's rate limit (HTTP 429; classic DNS: `response`, REFUSED with an EDE). */
  | { readonly kind: 'rate-limited'; readonly reason: string; readonly response: Uint8Array | null }
  /** The deployment's settings or a tenant record are broken (HTTP 500). */
  | { readonly kind: 'misconfigured'; readonly reason: string };

export type EngineResult = Uint8Array | Verdict;

/** The deployment's variables and bindings (Workers: the request's env; Node: fixed). */
export type EngineEnv = ResolverEnv & RateLimitEnv;

export interface EngineOptions {
  /** Where tenants live (null: only the default tenant and `/p/` URLs are served). */
  readonly store: (env: EngineEnv) => TenantStore | null;
  readonly cache: ResponseCache | null;
  /** How upstream DoH requests are sent (the Node server's keep-alive client; tests' fakes). */
  readonly fetch?: typeof fetch;
  /** Upstream health table (default: the isolate's shared one). */
  readonly health?: UpstreamHealth;
  /** Told when a tenant's gateway is seen going up or down (logs, metrics). */
  readonly onGatewayChange?: (tenant: string, gateway: string, health: GatewayHealth) => void;
  /** The clock gateway reports are judged by (tests move it). */
  readonly now?: () => number;
  /** This server's encrypted endpoints, answered to `_dns.resolver.arpa` SVCB (RFC 9462). */
  readonly ddr?: DdrConfig | null;
  /**
   * udp://, tcp:// and tls:// upstreams (the Node server's, src/node/upstream-classic.ts).
   * Without them the settings take DoH URLs only (Workers cannot open UDP sockets).
   */
  readonly exchangers?: Exchangers;
  /**
   * Called once per query after its answer or verdict (query log, metrics, Analytics Engine).
   * Without it nothing is measured and a cache hit stays as cheap as it was.
   */
  readonly observe?: (event: QueryEvent, env: EngineEnv) => void;
  /** Who may query at all, whatever the tenant (the self-hosted server's ALLOW_QUERY). */
  readonly allowQuery?: ClientAcl;
}

/** A server-wide query ACL: checked before anything else, for every transport and tenant. */
export interface ClientAcl {
  allows(client: Uint8Array | null): boolean;
}

/** What the engine turned away before resolving, for metrics. */
export interface EngineCounts {
  /** Queries refused by `allowQuery`. */
  refused: number;
}

export interface EngineQuery {
  readonly wire: Uint8Array;
  readonly tenant: TenantRef;
  /** The client's address, 4 or 16 bytes; null when unknown. */
  readonly client: Uint8Array | null;
  readonly env: EngineEnv;
  /** Keeps background work alive after the answer (Workers' waitUntil). */
  readonly defer?: (p: Promise<unknown>) => void;
  /** Where this instance runs (Workers: the data centre, `request.cf.colo`), for its identity. */
  readonly site?: string | null;
  /** How the query came (for the observer); default `doh`. */
  readonly transport?: QueryTransport;
}

export class Engine {
  /** `/p/` tenants, by the URL's prefix text. */
  private readonly prefixTenants = new Map<string, Tenant>();
  /** The default tenant of the settings last seen (settings are memoized, so compared by identity). */
  private defaultTenant: { settings: ResolverSettings; tenant: Tenant } | null = null;
  /** Per tenant with gateways: its prefixes in use last time, as a tenant. */
  private readonly liveTenants = new WeakMap<Tenant, { key: string; tenant: Tenant }>();
  /** The health each gateway was last seen in, `tenant/gateway` -> health. */
  private readonly gatewayHealth = new Map<string, GatewayHealth>();
  /** Per tenant: its upstream options under the settings last seen. */
  private readonly upstreams = new WeakMap<
    Tenant,
    { settings: ResolverSettings; options: UpstreamOptions }
  >();

  readonly counts: EngineCounts = { refused: 0 };

  constructor(private readonly opts: EngineOptions) {}

  /** The answer to one query, or why there is none. Never throws. */
  answer(q: EngineQuery): EngineResult | Promise<EngineResult> {
    const observe = this.opts.observe;
    if (!observe) return this.answerTraced(q, null);
    const started = performance.now();
    const trace = new QueryTrace();
    const result = this.answerTraced(q, trace);
    if (!(result instanceof Promise)) {
      emit(observe, q, trace, result, started);
      return result;
    }
    return result.then((r) => {
      emit(observe, q, trace, r, started);
      return r;
    });
  }

  private answerTraced(
    q: EngineQuery,
    trace: QueryTrace | null,
  ): EngineResult | Promise<EngineResult> {
    try {
      if (q.wire.length > MAX_MESSAGE_SIZE) {
        return { kind: 'too-large', reason: `query of ${q.wire.length} bytes exceeds 65535` };
      }
      if (this.opts.allowQuery && !this.opts.allowQuery.allows(q.client)) {
        this.counts.refused++;
        return { kind: 'refused', reason: 'client not allowed to query this server' };
      }
      const settings = this.settings(q.env);
      if (!('policy' in settings)) return settings;
      const tenant = this.tenant(q.tenant, q.env, settings);
      if (tenant instanceof Promise) {
        return tenant.then((t) => this.forTenant(q, t, settings, trace)).catch(internalVerdict);
      }
      return this.forTenant(q, tenant, settings, trace);
    } catch (err) {
      return internalVerdict(err);
    }
  }

  /** A tenant by reference, or the verdict for a missing one (setup pages use this too). */
  tenant(
    ref: TenantRef,
    env: EngineEnv,
    settings: ResolverSettings,
  ): Tenant | Verdict | Promise<Tenant | Verdict> {
    switch (ref.kind) {
      case 'default': {
        if (this.defaultTenant?.settings !== settings) {
          this.defaultTenant = { settings, tenant: openTenant(settings.policy) };
        }
        return this.defaultTenant.tenant;
      }
      case 'prefix':
        return this.prefixTenant(ref.text);
      case 'tenant': {
        const store = this.opts.store(env);
        if (!store) {
          return unknown(`unknown tenant ${ref.id}: no tenant store is configured`);
        }
        const admit = (lookup: TenantLookup) => {
          const found = checkFound(ref.id, lookup);
          if (!('policy' in found) || lookup.kind !== 'found') return found;
          const live = found.gateways.length ? this.live(found, lookup.gateways) : found;
          return ref.key !== undefined ? checkKey(live, ref.key) : live;
        };
        const known = store.remembered(ref.id);
        return known ? admit(known) : store.lookup(ref.id).then(admit);
      }
    }
  }

  /** The deployment's settings, or what is wrong with them. */
  settings(env: EngineEnv): ResolverSettings | Verdict {
    try {
      return settingsFromEnv(env, this.opts.exchangers !== undefined);
    } catch (err) {
      return { kind: 'misconfigured', reason: `misconfigured: ${errorText(err)}` };
    }
  }

  private forTenant(
    q: EngineQuery,
    tenant: Tenant | Verdict,
    settings: ResolverSettings,
    trace: QueryTrace | null,
  ): EngineResult | Promise<EngineResult> {
    if (!('policy' in tenant)) return tenant;
    if (trace) {
      trace.tenant = tenant.id;
      trace.queryLog = tenant.queryLog;
    }
    if (tenant.rateLimit === null) return this.resolveFor(q, tenant, settings, trace);
    return checkRateLimit(q.env, tenant, q.client).then((limited) => {
      if (!limited) return this.resolveFor(q, tenant, settings, trace);
      if (limited.kind === 'misconfigured') return limited;
      const parsed = parseQuery(q.wire);
      const response = parsed.ok
        ? errorResponse(parsed.query, RCODE.REFUSED, parsed.query.edns, [
            { code: EDE.OTHER, text: limited.reason },
          ])
        : null;
      return { ...limited, response };
    });
  }

  private resolveFor(
    q: EngineQuery,
    tenant: Tenant,
    settings: ResolverSettings,
    trace: QueryTrace | null,
  ): EngineResult | Promise<EngineResult> {
    const parsed = parseQuery(q.wire);
    if (!parsed.ok) return { kind: 'malformed', reason: parsed.reason };
    const query = parsed.query;
    const identity = identityOf(settings.serverId, q.site);
    if (trace) {
      trace.name = query.qname;
      trace.qtype = query.qtype;
      trace.badVersion = query.edns.present && query.edns.version > 0;
    }
    if (!tenant.allowQuery.isEmpty && !(q.client && tenant.allowQuery.contains(q.client))) {
      if (trace) trace.refused = true;
      const text = `client not allowed by tenant ${tenant.id ?? '(default)'}`;
      return errorResponse(query, RCODE.REFUSED, query.edns, [{ code: EDE.PROHIBITED, text }]);
    }
    const cache = this.opts.cache;
    const answer = resolve(query, {
      policy: tenant.policy,
      clientAddress: q.client,
      identity,
      upstream: this.upstreamOf(tenant, settings),
      cache: cache ? { store: cache, scope: tenant.cacheScope, defer: q.defer } : undefined,
      ddr: this.opts.ddr,
      trace: trace ?? undefined,
    });
    // RFC 5001 §2.3: the identifier in the response's OPT when the query asked for it; added
    // after the cache, which instances may share.
    if (!query.edns.nsid || identity === null) return answer;
    const nsid = { code: EDNS_OPTION.NSID, data: new TextEncoder().encode(identity) };
    return answer instanceof Promise
      ? answer.then((bytes) => withOption(bytes, nsid))
      : withOption(answer, nsid);
  }

  /** How a tenant's upstreams are asked, built once per tenant and settings. */
  private upstreamOf(tenant: Tenant, settings: ResolverSettings): UpstreamOptions {
    const memo = this.upstreams.get(tenant);
    if (memo?.settings === settings) return memo.options;
    const options: UpstreamOptions = {
      urls: tenant.upstreams ?? settings.upstreams,
      deadlineMs: settings.deadlineMs,
      fetch: this.opts.fetch,
      health: this.opts.health,
      exchangers: this.opts.exchangers,
    };
    this.upstreams.set(tenant, { settings, options });
    return options;
  }

  /**
   * A tenant whose prefixes name gateways, with only the prefixes in use now (issue 15); the
   * selection is part of its cache scope, so a change shows in new answers at once.
   */
  private live(tenant: Tenant, states: GatewayStates): Tenant {
    const now = (this.opts.now ?? Date.now)();
    const live = livePrefixes(tenant.policy.prefixes, states, tenant.gatewayTimeoutMs, now);
    this.noteGatewayHealth(tenant, states, now);
    const last = this.liveTenants.get(tenant);
    if (last?.key === live.key) return last.tenant;
    const derived: Tenant = {
      ...tenant,
      policy: { ...tenant.policy, prefixes: live.rules },
      cacheScope: `${tenant.cacheScope}|g${live.key}`,
    };
    this.liveTenants.set(tenant, { key: live.key, tenant: derived });
    return derived;
  }

  private noteGatewayHealth(tenant: Tenant, states: GatewayStates, now: number): void {
    const tell = this.opts.onGatewayChange;
    if (!tell) return;
    for (const gateway of tenant.gateways) {
      const health = healthOf(states.get(gateway), tenant.gatewayTimeoutMs, now);
      const key = `${tenant.id ?? ''}/${gateway}`;
      const before = this.gatewayHealth.get(key);
      if (before === health) continue;
      if (this.gatewayHealth.size > 10_000) this.gatewayHealth.clear();
      this.gatewayHealth.set(key, health);
      if (before !== undefined || health === 'up') tell(tenant.id ?? '', gateway, health);
    }
  }

  /** `/p/` tenants, built once per prefix (at most 1000 remembered). */
  private prefixTenant(text: string): Tenant | Verdict {
    let tenant = this.prefixTenants.get(text);
    if (!tenant) {
      const parsed = parsePrefix(text);
      if (!parsed.ok) return { kind: 'bad-prefix', reason: `invalid prefix: ${parsed.reason}` };
      if (this.prefixTenants.size >= 1000) this.prefixTenants.clear();
      tenant = openTenant(defaultPolicy(parsed.prefix.text));
      this.prefixTenants.set(text, tenant);
    }
    return tenant;
  }
}

/**
 * The identity NSID and CH TXT id.server answer with: SERVER_ID, and on Workers the data centre
 * after it (`edge/AMS`, or `AMS` alone); null when neither is known (not disclosed).
 */
function identityOf(serverId: string | null, site: string | null | undefined): string | null {
  if (!site) return serverId;
  return serverId === null ? site : `${serverId}/${site}`;
}

/** Hands the observer its event; an observer's failure never reaches the query. */
function emit(
  observe: NonNullable<EngineOptions['observe']>,
  q: EngineQuery,
  trace: QueryTrace,
  result: EngineResult,
  started: number,
): void {
  try {
    const bytes = result instanceof Uint8Array ? result : null;
    let rcode: number | null = null;
    if (bytes && bytes.length >= 4) {
      rcode = bytes[3]! & 0xf;
      // RFC 6891 §6.1.3: BADVERS is 16, its upper bits in the OPT record, 0 in the header.
      if (rcode === 0 && trace.badVersion) rcode = RCODE.BADVERS;
    }
    const verdict = bytes ? null : (result as Verdict);
    if (verdict?.kind === 'rate-limited' && verdict.response) rcode = RCODE.REFUSED;
    observe(
      {
        transport: q.transport ?? 'doh',
        // Before the tenant is found (a wrong key, say), the id its URL named.
        tenant: trace.tenant ?? (q.tenant.kind === 'tenant' ? q.tenant.id : null),
        client: q.client,
        name: trace.name,
        qtype: trace.qtype,
        rcode,
        verdict: verdict ? verdict.kind : null,
        refused: trace.refused,
        synthesized: trace.synthesized,
        cacheHit: trace.cacheHit,
        upstream: trace.upstream,
        ms: performance.now() - started,
        queryLog: trace.queryLog,
      },
      q.env,
    );
  } catch {
    // the observer's problem, not the client's
  }
}

function unknown(reason: string): Verdict {
  return { kind: 'unknown-tenant', reason };
}

function checkFound(id: string, lookup: TenantLookup): Tenant | Verdict {
  if (lookup.kind === 'missing') return unknown(`unknown tenant ${id}`);
  if (lookup.kind === 'invalid') {
    return {
      kind: 'misconfigured',
      reason: `tenant ${id} has an invalid record: ${lookup.errors.join('; ')}`,
    };
  }
  return lookup.tenant;
}

/**
 * `/t/{id}[/{key}]`: the key must be there exactly when the tenant has one; it is compared in
 * constant time (so only then asynchronously).
 */
function checkKey(
  tenant: Tenant,
  key: string | null,
): Tenant | Verdict | Promise<Tenant | Verdict> {
  const id = tenant.id ?? '';
  if (tenant.key === null) {
    return key === null ? tenant : forbidden(`tenant ${id} takes no key in its URL`);
  }
  if (key === null) return forbidden(`tenant ${id} needs its key: /t/${id}/{key}/dns-query`);
  return sameSecret(key, tenant.key).then((same) =>
    same ? tenant : forbidden(`wrong key for tenant ${id}`),
  );
}

function forbidden(reason: string): Verdict {
  return { kind: 'forbidden', reason };
}

function internalVerdict(err: unknown): Verdict {
  return { kind: 'misconfigured', reason: `internal error: ${errorText(err)}` };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
