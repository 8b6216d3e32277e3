import { parseAddress } from '../acl/address';
import { CidrSet } from '../acl/cidr';
import { DEFAULT_EXCLUDE, type Dns64Policy, type PrefixRule } from '../dns64/policy';
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
  /** What its gateways report with (issue 15); null when no prefix names a gateway. */
  readonly gatewayKey: string | null;
  /** How long a gateway's prefixes stay in use after its last report. */
  readonly gatewayTimeoutMs: number;
  /** The gateways its prefixes name, each once, in order. */
  readonly gateways: readonly string[];
  /** Every prefix of the record (policy.prefixes holds those in use now). */
  readonly allPrefixes: readonly PrefixRule[];
  /** Write a query log line for each of its queries, whatever QUERY_LOG says. */
  readonly queryLog: boolean;
}

/** RFC 6147 §5.1.7 allows any TTL; while gateways come and go, answers must not outlive them. */
export const GATEWAY_SYNTH_TTL = 60;
export const DEFAULT_GATEWAY_TIMEOUT_S = 90;

/** Compiles a validated record (see checkTenantRecord). */
export function compileTenant(id: string, rec: TenantRecord): Tenant {
  const prefixes: PrefixRule[] = rec.prefixes.map((entry) =>
    typeof entry === 'string'
      ? { prefix: prefixOf(entry), mapped: CidrSet.EMPTY }
      : {
          prefix: prefixOf(entry.prefix),
          mapped: CidrSet.parse(entry.mapped ?? []),
          gateway: entry.gateway ?? null,
        },
  );
  const gateways = [
    ...new Set(
      rec.prefixes.flatMap((e) => (typeof e !== 'string' && e.gateway ? [e.gateway] : [])),
    ),
  ];
  return {
    id,
    name: rec.name ?? null,
    policy: {
      prefixes,
      exclude: CidrSet.parse(rec.exclude ?? DEFAULT_EXCLUDE),
      suffix: rec.suffix ? parseAddress(rec.suffix, false) : null,
      synthAll: rec.synthAll ?? false,
      ignoreAaaa: (rec.ignoreAaaa ?? []).map(literalName),
      breakDnssec: rec.breakDnssec ?? false,
      recursiveOnly: rec.recursiveOnly ?? false,
      clients: CidrSet.parse(rec.clients ?? []),
      ...(gateways.length > 0 ? { maxSynthTtl: GATEWAY_SYNTH_TTL } : {}),
    },
    allowQuery: CidrSet.parse(rec.allowQuery ?? []),
    upstreams: rec.upstreams ?? null,
    key: rec.key ?? null,
    // The schema admits only the tiers.
    rateLimit: (rec.rateLimit ?? null) as RateLimitTier | null,
    cacheScope: `t:${id}:${fnv1a(JSON.stringify(rec))}`,
    gatewayKey: rec.gatewayKey ?? null,
    gatewayTimeoutMs: (rec.gatewayTimeout ?? DEFAULT_GATEWAY_TIMEOUT_S) * 1000,
    gateways,
    allPrefixes: prefixes,
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
    gatewayKey: null,
    gatewayTimeoutMs: DEFAULT_GATEWAY_TIMEOUT_S * 1000,
    gateways: [],
    allPrefixes: policy.prefixes,
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
