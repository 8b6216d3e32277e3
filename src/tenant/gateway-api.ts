import type { Context } from 'hono';
import { plainError } from '../doh/errors';
import { type GatewayState, GatewayReportSchema } from './gateways';
import { GATEWAY_NAME } from './schema';
import { sameSecret } from './secret';
import type { TenantStore } from './store';

/**
 * `PUT /t/{id}/gateways/{gateway}` (a report) and `DELETE` (an orderly stop), authorized by
 * `Authorization: Bearer <gatewayKey>` (issue 15). 204 when taken; 401 for a missing or wrong
 * key; 404 for an unknown tenant or a gateway no prefix of the tenant names; 400 naming every
 * bad field of a report.
 */
export function gatewayReport(
  storeOf: (c: Context) => TenantStore | null,
  now: () => number = Date.now,
): (c: Context) => Promise<Response> {
  return async (c) => {
    if (c.req.method !== 'PUT' && c.req.method !== 'DELETE') {
      return plainError(405, `method ${c.req.method} not allowed`, { allow: 'PUT, DELETE' });
    }
    const id = c.req.param('id') ?? '';
    const gateway = c.req.param('gateway') ?? '';
    const store = storeOf(c);
    if (!store) return plainError(404, `unknown tenant ${id}: no tenant store is configured`);
    const found = await store.lookup(id);
    if (found.kind !== 'found') return plainError(404, `unknown tenant ${id}`);
    const tenant = found.tenant;
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? '';
    if (tenant.gatewayKey === null || !given || !(await sameSecret(given, tenant.gatewayKey))) {
      return plainError(
        401,
        `gateway reports for tenant ${id} need Authorization: Bearer <gatewayKey>`,
        {
          'www-authenticate': 'Bearer realm="gateways"',
        },
      );
    }
    if (!GATEWAY_NAME.test(gateway) || !tenant.gateways.includes(gateway)) {
      return plainError(404, `tenant ${id} has no gateway ${gateway}`);
    }
    let state: GatewayState;
    if (c.req.method === 'DELETE') {
      state = { at: now(), report: {}, stopped: true };
    } else {
      const text = await c.req.text();
      let body: unknown = {};
      try {
        if (text.trim()) body = JSON.parse(text);
      } catch (err) {
        return plainError(
          400,
          `body is not JSON: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      const report = GatewayReportSchema.safeParse(body);
      if (!report.success) {
        const problems = report.error.issues.map(
          (i) => `${i.path.length ? i.path.join('.') : '(report)'}: ${i.message}`,
        );
        return plainError(400, `invalid gateway report: ${problems.join('; ')}`);
      }
      state = { at: now(), report: report.data, stopped: false };
    }
    await store.recordGateway(id, gateway, state);
    return c.body(null, 204);
  };
}
