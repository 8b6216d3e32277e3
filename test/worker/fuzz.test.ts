import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { decode } from '../helpers/dns';
import { fuzzRequest, prng } from '../helpers/fuzz';
import { harness } from './setup';

/**
 * DoH fuzzing (issue 7): random and mutated requests against the worker's app, each answered
 * with a DNS message (200) or a 4xx with a one-line reason; never a 5xx, never a throw.
 * CI runs FUZZ_REQUESTS (default 4000); `FUZZ_REQUESTS=100000 npm run test:unit` runs it full size.
 */
const COUNT = Number((env as { FUZZ_REQUESTS?: string }).FUZZ_REQUESTS || 4000);

describe('DoH fuzzing', () => {
  it(`answers ${COUNT} hostile requests with a DNS message or a 4xx and a reason`, async () => {
    const { get } = harness();
    const rand = prng(0x5eed);
    const byStatus = new Map<number, number>();
    for (let i = 0; i < COUNT; i++) {
      const r = fuzzRequest(rand);
      const res = await get(r.path, r.init);
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      const body = new Uint8Array(await res.arrayBuffer());
      const where = `#${i} ${r.kind} ${r.path.slice(0, 80)}`;
      if (res.status === 200) {
        const type = res.headers.get('content-type') ?? '';
        if (type === 'application/dns-message') {
          expect(() => decode(body), where).not.toThrow();
          const msg = decode(body);
          if (r.id !== null) expect(msg.id, where).toBe(r.id);
        } else if (type.startsWith('text/html') || type.includes('json')) {
          expect(body.length, where).toBeGreaterThan(0);
        } else {
          expect.fail(`${where}: 200 with ${type}`);
        }
      } else if (res.status !== 204 && r.init.method !== 'HEAD') {
        expect([400, 401, 403, 404, 405, 413, 415], where).toContain(res.status);
        const text = new TextDecoder().decode(body);
        expect(text, where).toMatch(/^[^\n]+\n$/);
      } else if (r.init.method === 'HEAD') {
        expect([400, 404, 405], where).toContain(res.status);
      }
    }
    expect(byStatus.get(500) ?? 0).toBe(0);
    // every class of input was reached
    expect([...byStatus.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 405, 413, 415]));
  }, 600_000);
});
