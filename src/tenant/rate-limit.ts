import { formatAddress } from '../acl/address';
import { RATE_LIMIT_TIERS, type RateLimitTier } from './schema';
import type { Tenant } from './tenant';

/**
 * Per-tenant rate limits with the Workers rate-limiting binding (one binding per tier, as the
 * binding's limit is fixed in wrangler.toml): `RATE_LIMIT_60` ... `RATE_LIMIT_6000`, counted
 * per tenant and client address over 60 seconds. Self-hosted, src/node/limits.ts stands in.
 */
export type RateLimitEnv = Partial<Record<`RATE_LIMIT_${RateLimitTier}`, RateLimit>>;

export const RATE_LIMIT_PERIOD_S = 60;

export type RateLimitVerdict =
  { kind: 'rate-limited'; reason: string } | { kind: 'misconfigured'; reason: string };

/** null when the query may go on; otherwise why not. */
export async function checkRateLimit(
  env: RateLimitEnv,
  tenant: Tenant,
  client: Uint8Array | null,
): Promise<RateLimitVerdict | null> {
  if (tenant.rateLimit === null) return null;
  const tier: RateLimitTier = tenant.rateLimit;
  const binding = env[`RATE_LIMIT_${tier}`];
  if (!binding) {
    return {
      kind: 'misconfigured',
      reason: `misconfigured: no RATE_LIMIT_${tier} binding (tiers: ${RATE_LIMIT_TIERS.join(', ')})`,
    };
  }
  const key = `${tenant.id ?? ''}/${client ? formatAddress(client) : 'unknown'}`;
  const { success } = await binding.limit({ key });
  return success
    ? null
    : { kind: 'rate-limited', reason: `rate limit of ${tier} queries per minute exceeded` };
}
