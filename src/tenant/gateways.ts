import { z } from 'zod';
import type { PrefixRule } from '../dns64/policy';
import type { RecordBackend } from './store';
import type { Tenant } from './tenant';

/**
 * The health of the NAT64 gateways behind a tenant's prefixes (issue 15): each gateway reports
 * with `PUT /t/{id}/gateways/{gateway}`; a prefix whose gateway has not reported within the
 * tenant's gatewayTimeout leaves synthesized answers, unless every gateway is down (a dead
 * control plane must never black out DNS). Live prefixes are ordered by free capacity.
 */

/** What a gateway says of itself; every field optional. */
export const GatewayReportSchema = z.strictObject({
  version: z.string().max(64).optional(),
  /** Seconds since the gateway started. */
  uptime: z.number().nonnegative().optional(),
  /** Stateful sessions now. */
  sessions: z.number().int().nonnegative().optional(),
  /** Free pool4 ports, all protocols (stateful NAT64). */
  pool4PortsFree: z.number().int().nonnegative().optional(),
  /** Free dynamic-pool addresses (stateless NAT64). */
  dynamicPoolFree: z.number().int().nonnegative().optional(),
});

export type GatewayReport = z.infer<typeof GatewayReportSchema>;

/** The last word of a gateway: when, what, and whether it said it stopped (DELETE). */
export interface GatewayState {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly report: GatewayReport;
  readonly stopped: boolean;
}

export type GatewayStates = ReadonlyMap<string, GatewayState>;

/** Where a gateway's state is kept beside the tenant records (`:` never occurs in tenant ids). */
export function gatewayRecordKey(tenantId: string, gateway: string): string {
  return `gw:${tenantId}:${gateway}`;
}

/** The states of a tenant's gateways (one backend read each; only when the tenant is read). */
export async function readGatewayStates(
  backend: RecordBackend,
  tenant: Tenant,
): Promise<GatewayStates> {
  const out = new Map<string, GatewayState>();
  await Promise.all(
    tenant.gateways.map(async (name) => {
      const json = await backend.read(gatewayRecordKey(tenant.id ?? '', name));
      const state = json === null ? null : parseState(json);
      if (state) out.set(name, state);
    }),
  );
  return out;
}

function parseState(json: string): GatewayState | null {
  try {
    const v = JSON.parse(json) as Partial<GatewayState>;
    if (typeof v.at !== 'number' || typeof v.stopped !== 'boolean') return null;
    const report = GatewayReportSchema.safeParse(v.report ?? {});
    return { at: v.at, stopped: v.stopped, report: report.success ? report.data : {} };
  } catch {
    return null;
  }
}

export type GatewayHealth = 'up' | 'down' | 'stopped' | 'unknown';

/** Up: reported within the timeout; stopped: said so (DELETE); down: silent too long. */
export function healthOf(
  state: GatewayState | undefined,
  timeoutMs: number,
  now: number,
): GatewayHealth {
  if (!state) return 'unknown';
  if (state.stopped) return 'stopped';
  return now - state.at <= timeoutMs ? 'up' : 'down';
}

/** Free capacity a gateway last reported (pool4 ports or dynamic-pool addresses); -1: unknown. */
function capacity(state: GatewayState | undefined): number {
  return state?.report.pool4PortsFree ?? state?.report.dynamicPoolFree ?? -1;
}

/**
 * The prefixes in use now, in order: those without a gateway always, those whose gateway is
 * up, ordered by the free capacity their gateway reported (unknown last, the record's order
 * among equals); every prefix when no gateway is up. `key` names the selection for the cache.
 */
export function livePrefixes(
  rules: readonly PrefixRule[],
  states: GatewayStates,
  timeoutMs: number,
  now: number,
): { rules: readonly PrefixRule[]; key: string } {
  const up = rules.map(
    (r) => !r.gateway || healthOf(states.get(r.gateway), timeoutMs, now) === 'up',
  );
  const anyGatewayUp = rules.some((r, i) => r.gateway && up[i]);
  const chosen = rules
    .map((rule, index) => ({ rule, index }))
    .filter(({ index }) => !anyGatewayUp || up[index])
    .sort((a, b) => {
      const ca = a.rule.gateway ? capacity(states.get(a.rule.gateway)) : -1;
      const cb = b.rule.gateway ? capacity(states.get(b.rule.gateway)) : -1;
      return cb - ca || a.index - b.index;
    });
  return { rules: chosen.map((c) => c.rule), key: chosen.map((c) => c.index).join(',') };
}
