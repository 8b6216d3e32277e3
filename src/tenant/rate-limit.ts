import { formatAddress } from '../acl/address';
import { plainError } from '../doh/errors';
import { RATE_LIMIT_TIERS, type RateLimitTier } from './schema';
import type { Tenant } from './tenant';

/**
 * Per-tenant rate limits with the Workers rate-limiting binding (one binding per tier, as the
 * binding's limit is fixed in wrangler.toml): `RATE_LIMIT_60` ... `RATE_LIMIT_6000`, counted
 * per tenant and client address over 60 seconds.
 */
export type RateLimitEnv = Partial<Record<`RATE_LIMIT_${RateLimitTier}`, RateLimit>>;

export const RATE_LIMIT_PERIOD_S = 60;

/** null when the query may go on; a 429 (or a 500 for a missing binding) otherwise. */
export async function checkRateLimit(
  env: RateLimitEnv,
  tenant: Tenant,
  client: Uint8Array | null,
): Promise<Response | null> {
  if (tenant.rateLimit === null) return null;
  const tier: RateLimitTier = tenant.rateLimit;
  const binding = env[`RATE_LIMIT_${tier}`];
  if (!binding) {
    return plainError(
      500,
      `misconfigured: no RATE_LIMIT_${tier} binding (tiers: ${RATE_LIMIT_TIERS.join(', ')})`,
    );
  }
  const key = `${tenant.id ?? ''}/${client ? formatAddress(client) : 'unknown'}`;
  const { success } = await binding.limit({ key });
  if (success) return null;
  return plainError(429, `rate limit of ${tier} queries per minute exceeded`, {
    'retry-after': String(RATE_LIMIT_PERIOD_S),
  });
}
