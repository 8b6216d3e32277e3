import { parseAddress } from '../acl/address';
import { CidrSet } from '../acl/cidr';
import { DEFAULT_EXCLUDE, type Dns64Policy } from '../dns64/policy';
import { literalName } from '../dns/name';
import { prefixOf } from '../dns64/prefix';
import type { RateLimitTier, TenantRecord } from './schema';

/** A tenant ready to answer queries: its record compiled into policy and match lists. */
export interface Tenant {
  readonly id: string | null;
  readonly name: string | null;
  readonly policy: Dns64Policy;
  /** Who may use the tenant at all; empty = everyone (others get REFUSED, EDE 18). */
  readonly allowQuery: CidrSet;
  /** Overrides the deployment's upstreams; null = use them. */
  readonly upstreams: readonly string[] | null;
  readonly key: string | null;
  readonly rateLimit: RateLimitTier | null;
  /** The tenant's part of the answer cache: changes with any setting that shapes answers. */
  readonly cacheScope: string;
  /** Write a query log line for each of its queries, whatever QUERY_LOG says. */
  readonly queryLog: boolean;
}

/** Compiles a validated record (see checkTenantRecord). */
export function compileTenant(id: string, rec: TenantRecord): Tenant {
  return {
    id,
    name: rec.name ?? null,
    policy: {
      prefixes: rec.prefixes.map((entry) =>
        typeof entry === 'string'
          ? { prefix: prefixOf(entry), mapped: CidrSet.EMPTY }
          : { prefix: prefixOf(entry.prefix), mapped: CidrSet.parse(entry.mapped ?? []) },
      ),
      exclude: CidrSet.parse(rec.exclude ?? DEFAULT_EXCLUDE),
      suffix: rec.suffix ? parseAddress(rec.suffix, false) : null,
      synthAll: rec.synthAll ?? false,
      ignoreAaaa: (rec.ignoreAaaa ?? []).map(literalName),
      breakDnssec: rec.breakDnssec ?? false,
      recursiveOnly: rec.recursiveOnly ?? false,
      clients: CidrSet.parse(rec.clients ?? []),
    },
    allowQuery: CidrSet.parse(rec.allowQuery ?? []),
    upstreams: rec.upstreams ?? null,
    key: rec.key ?? null,
    // The schema admits only the tiers.
    rateLimit: (rec.rateLimit ?? null) as RateLimitTier | null,
    cacheScope: `t:${id}:${fnv1a(JSON.stringify(rec))}`,
    queryLog: rec.queryLog ?? false,
  };
}

/** The deployment's own tenant (`/dns-query`, `/p/...`): everything open, default upstreams. */
export function openTenant(policy: Dns64Policy): Tenant {
  return {
    id: null,
    name: null,
    policy,
    allowQuery: CidrSet.EMPTY,
    upstreams: null,
    key: null,
    rateLimit: null,
    cacheScope: `o:${policy.prefixes.map((p) => p.prefix.text).join(',')}`,
    queryLog: false,
  };
}

/** FNV-1a, 32 bits, as hex: a short fingerprint (not a security boundary). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
