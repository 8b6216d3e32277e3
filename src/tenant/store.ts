import {
  type GatewayState,
  type GatewayStates,
  gatewayRecordKey,
  readGatewayStates,
} from './gateways';
import { TENANT_ID, type TenantRecord, checkTenantRecord } from './schema';
import { type Tenant, compileTenant } from './tenant';

/** Where tenant records live: Workers KV on the edge, a JSON file or memory when self-hosted. */
export interface RecordBackend {
  read(id: string): Promise<string | null>;
  write(id: string, json: string): Promise<void>;
  remove(id: string): Promise<void>;
  ids(): Promise<string[]>;
}

export type TenantLookup =
  | { kind: 'found'; tenant: Tenant; gateways: GatewayStates }
  | { kind: 'missing' }
  | { kind: 'invalid'; errors: string[] };

const NO_GATEWAYS: GatewayStates = new Map();

/** How long a tenant (or its absence) is remembered in the isolate before KV is read again. */
export const MEMO_MS = 5000;
const MEMO_MAX = 10000;

interface Memo {
  lookup: TenantLookup;
  expires: number;
}

/**
 * Tenant records with a short in-isolate memo, so a hot tenant costs no KV read per query.
 * Changes made through this store are visible at once on this isolate, elsewhere within
 * MEMO_MS plus the backend's own propagation time.
 */
export class TenantStore {
  private readonly memo = new Map<string, Memo>();

  constructor(
    private readonly backend: RecordBackend,
    private readonly now: () => number = Date.now,
  ) {}

  /** The remembered lookup of `id` while it is fresh, without reading the backend. */
  remembered(id: string): TenantLookup | undefined {
    const hit = this.memo.get(id);
    return hit && hit.expires > this.now() ? hit.lookup : undefined;
  }

  async lookup(id: string): Promise<TenantLookup> {
    const hit = this.remembered(id);
    if (hit) return hit;
    const json = await this.backend.read(id);
    const lookup = json === null ? { kind: 'missing' as const } : compileStored(id, json);
    const withGateways = await this.withGateways(lookup);
    this.remember(id, withGateways);
    return withGateways;
  }

  /** A found tenant with the states of its gateways (read only for tenants that have some). */
  private async withGateways(lookup: TenantLookup): Promise<TenantLookup> {
    if (lookup.kind !== 'found' || lookup.tenant.gateways.length === 0) return lookup;
    return { ...lookup, gateways: await readGatewayStates(this.backend, lookup.tenant) };
  }

  /**
   * Stores what a gateway said (a report, or that it stopped); visible at once on this isolate,
   * elsewhere when their memo expires (plus the backend's propagation time).
   */
  async recordGateway(id: string, gateway: string, state: GatewayState): Promise<void> {
    await this.backend.write(gatewayRecordKey(id, gateway), JSON.stringify(state));
    const known = this.remembered(id);
    if (known?.kind === 'found') {
      const gateways = new Map(known.gateways);
      gateways.set(gateway, state);
      this.remember(id, { ...known, gateways });
    }
  }

  async getRecord(id: string): Promise<TenantRecord | null> {
    const json = await this.backend.read(id);
    if (json === null) return null;
    const check = checkTenantRecord(safeJson(json));
    return check.ok ? check.record : null;
  }

  /** Stores a validated record; returns true when it replaced one. */
  async put(id: string, record: TenantRecord): Promise<boolean> {
    const existed = (await this.backend.read(id)) !== null;
    await this.backend.write(id, JSON.stringify(record));
    const found = {
      kind: 'found' as const,
      tenant: compileTenant(id, record),
      gateways: NO_GATEWAYS,
    };
    this.remember(id, await this.withGateways(found));
    return existed;
  }

  async delete(id: string): Promise<boolean> {
    const json = await this.backend.read(id);
    if (json !== null) {
      const found = compileStored(id, json);
      await this.backend.remove(id);
      // Its gateways' states go with it.
      if (found.kind === 'found') {
        for (const gw of found.tenant.gateways) await this.backend.remove(gatewayRecordKey(id, gw));
      }
    }
    this.remember(id, { kind: 'missing' });
    return json !== null;
  }

  /** The tenant ids (the gateways' state records beside them are not tenants). */
  async list(): Promise<string[]> {
    return (await this.backend.ids()).filter((id) => TENANT_ID.test(id));
  }

  /** Forgets every remembered lookup (the records were replaced: a reload). */
  forget(): void {
    this.memo.clear();
  }

  private remember(id: string, lookup: TenantLookup): void {
    if (this.memo.size >= MEMO_MAX) this.memo.clear();
    this.memo.set(id, { lookup, expires: this.now() + MEMO_MS });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function compileStored(id: string, json: string): TenantLookup {
  const check = checkTenantRecord(safeJson(json));
  if (!check.ok) return { kind: 'invalid', errors: check.errors };
  return { kind: 'found', tenant: compileTenant(id, check.record), gateways: NO_GATEWAYS };
}

/** Workers KV as the backend (binding `TENANTS`). */
export function kvBackend(kv: KVNamespace): RecordBackend {
  return {
    read: (id) => kv.get(id),
    write: (id, json) => kv.put(id, json),
    remove: (id) => kv.delete(id),
    async ids() {
      const out: string[] = [];
      let cursor: string | undefined;
      do {
        const page: KVNamespaceListResult<unknown, string> = await kv.list(
          cursor ? { cursor } : {},
        );
        out.push(...page.keys.map((k) => k.name));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return out;
    },
  };
}

/** An in-memory backend (tests, and a TENANTS_FILE loaded by the self-hosted server). */
export function memoryBackend(initial: Record<string, unknown> = {}): RecordBackend {
  const data = new Map(Object.entries(initial).map(([k, v]) => [k, JSON.stringify(v)]));
  return {
    read: async (id) => data.get(id) ?? null,
    write: async (id, json) => void data.set(id, json),
    remove: async (id) => void data.delete(id),
    ids: async () => [...data.keys()].sort(),
  };
}
