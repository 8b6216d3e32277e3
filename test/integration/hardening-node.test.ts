import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64url, decode, query } from '../helpers/dns';
import { fuzzRequest, prng } from '../helpers/fuzz';
import { type NodeServer, type Running, startBind, startDnsdist, startNodeServer } from './servers';

/**
 * Hardening of the self-hosted server (issue 7): DoH fuzzing, and a soak under steady load that
 * must keep memory flat. CI runs them scaled down; full size:
 *   FUZZ_REQUESTS=100000 SOAK_SECONDS=600 npx vitest run --config vitest.integration.config.ts \
 *     test/integration/hardening-node.test.ts
 */
const FUZZ = Number(process.env.FUZZ_REQUESTS || 2000);
const SOAK_S = Number(process.env.SOAK_SECONDS || 20);

let bind: Running;
let dnsdist: Running;
let server: NodeServer;
let base: string;

beforeAll(async () => {
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  server = await startNodeServer({
    UPSTREAMS: `http://127.0.0.1:${dnsdist.port}/dns-query`,
    DNS64_PREFIX: '2001:db8:64::/96',
  });
  base = `http://127.0.0.1:${server.port}`;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await dnsdist?.stop();
  await bind?.stop();
});

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
}

describe('the self-hosted server under hostile and steady load', () => {
  it(`answers ${FUZZ} fuzzed DoH requests with a DNS message or a 4xx and a reason`, async () => {
    const rand = prng(0xd0d0);
    const statuses = new Map<number, number>();
    for (let i = 0; i < FUZZ; i++) {
      const r = fuzzRequest(rand);
      const res = await fetch(`${base}${r.path}`, r.init);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const body = new Uint8Array(await res.arrayBuffer());
      const where = `#${i} ${r.kind} ${r.path.slice(0, 80)}`;
      if (res.status === 200 && res.headers.get('content-type') === 'application/dns-message') {
        expect(() => decode(body), where).not.toThrow();
        const msg = decode(body);
        if (r.id !== null) expect(msg.id, where).toBe(r.id);
      } else if (res.status >= 400 && r.init.method !== 'HEAD') {
        expect([400, 401, 403, 404, 405, 413, 415], where).toContain(res.status);
        expect(new TextDecoder().decode(body), where).toMatch(/^[^\n]+\n$/);
      }
    }
    expect(statuses.get(500) ?? 0).toBe(0);
    expect(server.child.exitCode).toBe(null);
    console.log(
      `node fuzz: ${FUZZ} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  }, 1_800_000);

  it(`keeps its memory flat under ${SOAK_S} s of steady load`, async () => {
    const pid = server.child.pid!;
    const names = ['a-only', 'www', 'dual', 'two', 'mapped', 'txt'].map((n) => `${n}.dns64.test`);
    let sent = 0;
    let n = 0;
    const worker = async (until: number) => {
      while (Date.now() < until) {
        // hits on known names, and a stream of never-seen names (misses, negative answers)
        const name = n % 4 === 0 ? `soak${n}.dns64.test` : names[n % names.length]!;
        n++;
        const res = await fetch(
          `${base}/dns-query?dns=${b64url(query(name, 'AAAA', { id: n & 0xffff }))}`,
        );
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        sent++;
      }
    };
    // warm up, then measure from a settled start
    await Promise.all(Array.from({ length: 8 }, () => worker(Date.now() + 3000)));
    const start = rssKiB(pid);
    const before = sent;
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssKiB(pid)), 5000);
    await Promise.all(Array.from({ length: 8 }, () => worker(Date.now() + SOAK_S * 1000)));
    clearInterval(sampler);
    const end = rssKiB(pid);
    console.log(`soak RSS every 5 s (KiB): ${samples.join(' ')}`);
    const mid = samples[Math.floor(samples.length / 2)] ?? start;
    console.log(
      `soak: ${sent - before} queries in ${SOAK_S} s, RSS ${start} KiB -> ${mid} KiB (half way) -> ${end} KiB`,
    );
    // The first half fills the answer cache (bounded at 10 000 entries) and V8's heap; a leak
    // shows as growth in the second half, which must stay small.
    expect(end - mid).toBeLessThan(24 * 1024);
    expect(server.child.exitCode).toBe(null);
  }, 1_800_000);
});
