import { z } from 'zod';
import { parseAddress } from '../acl/address';
import { parseCidr } from '../acl/cidr';
import { parsePrefix, prefixOf, suffixOverlaps } from '../dns64/prefix';
import { parseUpstream } from '../upstream/target';

/**
 * A tenant record: one operator's DNS64 settings (BIND's dns64 options) and access rules, as
 * stored in KV and sent to the admin API. Validated with zod; every bad field is reported.
 */

/** Queries per minute per client address that the rate-limit bindings offer (wrangler.toml). */
export const RATE_LIMIT_TIERS = [60, 300, 600, 1200, 3000, 6000] as const;
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number];

const prefixText = z.string().superRefine((s, ctx) => {
  const parsed = parsePrefix(s);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const cidrText = z.string().superRefine((s, ctx) => {
  const parsed = parseCidr(s);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const ipv4Cidr = cidrText.refine((s) => !s.includes(':'), { message: 'must be an IPv4 range' });
const ipv6Cidr = cidrText.refine((s) => s.includes(':'), { message: 'must be an IPv6 range' });

const domain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\.|([a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?)$/i, 'must be a domain name');

/** A DoH URL; on the self-hosted server also udp://, tcp:// or tls:// (src/upstream/target.ts). */
const upstreamUrl = z.string().superRefine((s, ctx) => {
  const parsed = parseUpstream(s);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

/** A secret in a URL or an Authorization header: a tenant's key, its gateways' key. */
const secret = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,128}$/, 'must be 16 to 128 characters of A-Z a-z 0-9 _ -');

/** The name of the NAT64 gateway behind a prefix, as it reports itself (issue 15). */
export const GATEWAY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const PrefixEntrySchema = z.union([
  prefixText,
  z.strictObject({
    prefix: prefixText,
    mapped: z.array(ipv4Cidr).max(64).optional(),
    gateway: z
      .string()
      .regex(GATEWAY_NAME, 'must be 1 to 63 of a-z 0-9 - (not starting or ending with -)')
      .optional(),
  }),
]);

export const TenantRecordSchema = z
  .strictObject({
    /** Shown on the setup page. */
    name: z.string().min(1).max(100).optional(),
    prefixes: z.array(PrefixEntrySchema).min(1).max(8),
    exclude: z.array(ipv6Cidr).max(64).optional(),
    suffix: z
      .string()
      .refine((s) => parseAddress(s, false)?.length === 16, { message: 'must be an IPv6 address' })
      .optional(),
    synthAll: z.boolean().optional(),
    ignoreAaaa: z.array(domain).max(256).optional(),
    breakDnssec: z.boolean().optional(),
    recursiveOnly: z.boolean().optional(),
    clients: z.array(cidrText).max(256).optional(),
    allowQuery: z.array(cidrText).max(256).optional(),
    upstreams: z.array(upstreamUrl).min(1).max(6).optional(),
    key: secret.optional(),
    /** The secret the tenant's gateways report with (`PUT /t/{id}/gateways/{gateway}`). */
    gatewayKey: secret.optional(),
    /**
     * Seconds without a report after which a gateway's prefixes leave synthesized answers. At
     * least 30: nat64d reports every 20 s (the next report 20 s after the last one ended, and one
     * may take up to 10 s), so a shorter timeout would take a live gateway for a dead one
     * between two reports.
     */
    gatewayTimeout: z
      .number()
      .int()
      .min(30, {
        message: 'must be at least 30 (nat64d reports every 20 s; a report may take 10 s)',
      })
      .max(3600)
      .optional(),
    rateLimit: z
      .number()
      .refine((n): n is RateLimitTier => (RATE_LIMIT_TIERS as readonly number[]).includes(n), {
        message: `must be one of ${RATE_LIMIT_TIERS.join(', ')} (queries per minute per client)`,
      })
      .optional(),
    /** A query log line for each query of this tenant, whatever QUERY_LOG says. */
    queryLog: z.boolean().optional(),
  })
  .superRefine((rec, ctx) => {
    const gateways = rec.prefixes.some((e) => typeof e !== 'string' && e.gateway !== undefined);
    if (gateways && rec.gatewayKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['gatewayKey'],
        message: 'is required when a prefix names a gateway (the gateways report with it)',
      });
    }
    // BIND's suffix: bits after the embedded IPv4 address only.
    if (!rec.suffix) return;
    const suffix = parseAddress(rec.suffix, false);
    if (!suffix) return;
    rec.prefixes.forEach((entry) => {
      const text = typeof entry === 'string' ? entry : entry.prefix;
      if (!parsePrefix(text).ok) return;
      if (suffixOverlaps(prefixOf(text), suffix)) {
        ctx.addIssue({
          code: 'custom',
          path: ['suffix'],
          message: `overlaps the prefix, the IPv4 address or the u-octet of ${text}`,
        });
      }
    });
  });

export type TenantRecord = z.infer<typeof TenantRecordSchema>;

export const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type RecordCheck = { ok: true; record: TenantRecord } | { ok: false; errors: string[] };

/** Validates a record; errors read `field.path: reason`, one per bad field. */
export function checkTenantRecord(input: unknown): RecordCheck {
  const result = TenantRecordSchema.safeParse(input);
  if (result.success) return { ok: true, record: result.data };
  const errors = result.error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(record)';
    return `${path}: ${issue.message}`;
  });
  return { ok: false, errors };
}
