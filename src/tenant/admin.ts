import { Hono } from 'hono';
import { formatAddress } from '../acl/address';
import { plainError } from '../doh/errors';
import { healthOf } from './gateways';
import type { Logger } from '../obs/log';
import { TENANT_ID, checkTenantRecord } from './schema';
import { sameSecret } from './secret';
import type { TenantStore } from './store';

/**
 * The admin API: PUT/GET/DELETE /admin/tenants/{id}, GET /admin/tenants. Authorized by
 * `Authorization: Bearer <ADMIN_TOKEN>`; with no ADMIN_TOKEN configured it does not exist (404).
 */
export function adminRoutes(
  storeOf: (env: AdminEnv) => TenantStore | null,
  audit?: AdminAudit,
  now: () => number = Date.now,
): Hono<{ Bindings: AdminEnv }> {
  /** The audit line of a change: which tenant, which fields (names only: keys stay out), who. */
  const record = (
    req: Request,
    action: 'create' | 'replace' | 'delete',
    id: string,
    fields: string[],
  ) => {
    if (!audit) return;
    try {
      const addr = audit.client(req);
      const client = addr ? formatAddress(addr) : null;
      audit
        .log()
        .info(
          { event: 'admin', action, tenant: id, fields, client },
          `admin: tenant ${id} ${action === 'create' ? 'created' : action === 'replace' ? 'replaced' : 'deleted'} by ${client ?? 'an unknown client'}${fields.length ? ` (${fields.join(', ')})` : ''}`,
        );
    } catch {
      // a log that fails does not undo the change
    }
  };
  const admin = new Hono<{ Bindings: AdminEnv }>();

  admin.use('*', async (c, next) => {
    const token = c.env?.ADMIN_TOKEN;
    if (!token) return plainError(404, 'not found: DoH is served at /dns-query');
    const header = c.req.header('authorization') ?? '';
    const given = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? '';
    if (!given || !(await sameSecret(given, token))) {
      return plainError(401, 'admin API needs Authorization: Bearer <ADMIN_TOKEN>', {
        'www-authenticate': 'Bearer realm="admin"',
      });
    }
    await next();
  });

  const store = (env: AdminEnv): TenantStore | Response =>
    storeOf(env) ?? plainError(503, 'no tenant store: bind a KV namespace as TENANTS');

  admin.get('/tenants', async (c) => {
    const s = store(c.env);
    if (s instanceof Response) return s;
    return c.json({ tenants: await s.list() });
  });

  admin.on(['GET', 'PUT', 'DELETE'], '/tenants/:id', async (c) => {
    const id = c.req.param('id');
    if (!TENANT_ID.test(id)) {
      return plainError(
        400,
        `tenant id ${id} must be 1 to 63 of a-z 0-9 - (not starting or ending with -)`,
      );
    }
    const s = store(c.env);
    if (s instanceof Response) return s;
    if (c.req.method === 'GET') {
      const rec = await s.getRecord(id);
      return rec ? c.json(rec) : plainError(404, `unknown tenant ${id}`);
    }
    if (c.req.method === 'DELETE') {
      const old = audit ? await s.getRecord(id) : null;
      if (!(await s.delete(id))) return plainError(404, `unknown tenant ${id}`);
      record(c.req.raw, 'delete', id, old ? Object.keys(old).sort() : []);
      return c.body(null, 204);
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (err) {
      return plainError(
        400,
        `body is not JSON: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const check = checkTenantRecord(body);
    if (!check.ok) return plainError(400, `invalid tenant record: ${check.errors.join('; ')}`);
    const old = audit ? await s.getRecord(id) : null;
    const replaced = await s.put(id, check.record);
    record(c.req.raw, replaced ? 'replace' : 'create', id, changedFields(old, check.record));
    return c.json(check.record, replaced ? 200 : 201);
  });

  // Each gateway's health and last report (issue 15).
  admin.get('/tenants/:id/gateways', async (c) => {
    const id = c.req.param('id');
    const s = store(c.env);
    if (s instanceof Response) return s;
    const found = await s.lookup(id);
    if (found.kind !== 'found') return plainError(404, `unknown tenant ${id}`);
    const { tenant, gateways } = found;
    const at = now();
    const view = Object.fromEntries(
      tenant.gateways.map((name) => {
        const state = gateways.get(name);
        return [
          name,
          {
            state: healthOf(state, tenant.gatewayTimeoutMs, at),
            lastReport: state ? new Date(state.at).toISOString() : null,
            report: state?.report ?? null,
            prefixes: tenant.policy.prefixes
              .filter((p) => p.gateway === name)
              .map((p) => p.prefix.text),
          },
        ];
      }),
    );
    return c.json({ gatewayTimeout: tenant.gatewayTimeoutMs / 1000, gateways: view });
  });

  admin.all('*', () =>
    plainError(404, 'not found: the admin API is /admin/tenants[/{id}[/gateways]]'),
  );
  return admin;
}

/** Where admin changes are logged, and who made them. */
export interface AdminAudit {
  readonly log: () => Logger;
  readonly client: (req: Request) => Uint8Array | null;
}

/** Top-level fields added, removed or changed between two records (all of them when new). */
export function changedFields(before: unknown, after: Record<string, unknown>): string[] {
  const old = (typeof before === 'object' && before !== null ? before : {}) as Record<
    string,
    unknown
  >;
  const names = new Set([...Object.keys(old), ...Object.keys(after)]);
  return [...names].filter((n) => JSON.stringify(old[n]) !== JSON.stringify(after[n])).sort();
}

export interface AdminEnv {
  ADMIN_TOKEN?: string;
  TENANTS?: KVNamespace;
}
