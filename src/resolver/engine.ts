import type { ResponseCache } from '../cache/response-cache';
import { type ResolverEnv, type ResolverSettings, settingsFromEnv } from '../config/env';
import { EDE, MAX_MESSAGE_SIZE, RCODE } from '../dns/constants';
import { parseQuery } from '../dns/query';
import { errorResponse } from '../dns/response';
import { defaultPolicy } from '../dns64/policy';
import { parsePrefix } from '../dns64/prefix';
import { type RateLimitEnv, checkRateLimit } from '../tenant/rate-limit';
import { sameSecret } from '../tenant/secret';
import type { TenantLookup, TenantStore } from '../tenant/store';
import { type Tenant, openTenant } from '../tenant/tenant';
import type { UpstreamHealth } from '../upstream/health';
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
}

export class Engine {
  /** `/p/` tenants, by the URL's prefix text. */
  private readonly prefixTenants = new Map<string, Tenant>();
  /** The default tenant of the settings last seen (settings are memoized, so compared by identity). */
  private defaultTenant: { settings: ResolverSettings; tenant: Tenant } | null = null;

  readonly counts: EngineCounts = { refused: 0 };

  constructor(private readonly opts: EngineOptions) {}

  /** The answer to one query, or why there is none. Never throws. */
  answer(q: EngineQuery): EngineResult | Promise<EngineResult> {
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
        return tenant.then((t) => this.forTenant(q, t, settings)).catch(internalVerdict);
      }
      return this.forTenant(q, tenant, settings);
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
          return 'policy' in found && ref.key !== undefined ? checkKey(found, ref.key) : found;
        };
        const known = store.remembered(ref.id);
        return known ? admit(known) : store.lookup(ref.id).then(admit);
      }
    }
  }

  /** The deployment's settings, or what is wrong with them. */
  settings(env: EngineEnv): ResolverSettings | Verdict {
    try {
      return settingsFromEnv(env);
    } catch (err) {
      return { kind: 'misconfigured', reason: `misconfigured: ${errorText(err)}` };
    }
  }

  private forTenant(
    q: EngineQuery,
    tenant: Tenant | Verdict,
    settings: ResolverSettings,
  ): EngineResult | Promise<EngineResult> {
    if (!('policy' in tenant)) return tenant;
    if (tenant.rateLimit === null) return this.resolveFor(q, tenant, settings);
    return checkRateLimit(q.env, tenant, q.client).then((limited) => {
      if (!limited) return this.resolveFor(q, tenant, settings);
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
  ): EngineResult | Promise<EngineResult> {
    const parsed = parseQuery(q.wire);
    if (!parsed.ok) return { kind: 'malformed', reason: parsed.reason };
    const query = parsed.query;
    if (!tenant.allowQuery.isEmpty && !(q.client && tenant.allowQuery.contains(q.client))) {
      const text = `client not allowed by tenant ${tenant.id ?? '(default)'}`;
      return errorResponse(query, RCODE.REFUSED, query.edns, [{ code: EDE.PROHIBITED, text }]);
    }
    const cache = this.opts.cache;
    return resolve(query, {
      policy: tenant.policy,
      clientAddress: q.client,
      upstream: {
        urls: tenant.upstreams ?? settings.upstreams,
        deadlineMs: settings.deadlineMs,
        fetch: this.opts.fetch,
        health: this.opts.health,
      },
      cache: cache ? { store: cache, scope: tenant.cacheScope, defer: q.defer } : undefined,
    });
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
