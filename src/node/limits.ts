import { RATE_LIMIT_PERIOD_S, type RateLimitEnv } from '../tenant/rate-limit';
import { RATE_LIMIT_TIERS } from '../tenant/schema';

/**
 * In-process stand-ins for the Workers rate-limit bindings (`RATE_LIMIT_60` ... ), so tenants
 * with a `rateLimit` work self-hosted: a fixed 60-second window per key, per process.
 */
export function memoryRateLimits(now: () => number = Date.now): RateLimitEnv {
  const env: RateLimitEnv = {};
  for (const tier of RATE_LIMIT_TIERS) env[`RATE_LIMIT_${tier}`] = windowLimiter(tier, now);
  return env;
}

function windowLimiter(limit: number, now: () => number) {
  const periodMs = RATE_LIMIT_PERIOD_S * 1000;
  let windowStart = now();
  let counts = new Map<string, number>();
  return {
    async limit({ key }: { key: string }): Promise<{ success: boolean }> {
      const t = now();
      if (t - windowStart >= periodMs) {
        windowStart = t;
        counts = new Map();
      }
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return { success: n <= limit };
    },
  };
}
