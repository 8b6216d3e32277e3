import { Hono } from 'hono';
import { plainError } from '../doh/errors';
import { healthOf } from './gateways';
import { TENANT_ID, checkTenantRecord } from './schema';
import { sameSecret } from './secret';
import type { TenantStore } from './store';

/**
 * The admin API: PUT/GET/DELETE /admin/tenants/{id}, GET /admin/tenants. Authorized by
 * `Authorization: Bearer <ADMIN_TOKEN>`; with no ADMIN_TOKEN configured it does not exist (404).
 */
export function adminRoutes(
  storeOf: (env: AdminEnv) => TenantStore | null,
  now: () => number = Date.now,
): Hono<{ Bindings: AdminEnv }> {
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
      return (await s.delete(id)) ? c.body(null, 204) : plainError(404, `unknown tenant ${id}`);
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
    const replaced = await s.put(id, check.record);
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

export interface AdminEnv {
  ADMIN_TOKEN?: string;
  TENANTS?: KVNamespace;
}
