import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailable, nsRun } from '../../packages/nat64d/test/helpers/netns.js';
import {
  GW_SITE,
  startGatewaySite,
  type GatewayName,
  type GatewaySite,
  type ResolverKind,
} from '../../scripts/site/gateways.js';
import { requireCommand } from './servers';

/**
 * Issue 15's "Done when", end to end: two real nat64d gateways in network namespaces, each with
 * its own prefix, report to the resolver; an IPv6-only client's answers follow their health.
 * Both up: both prefixes. One killed (SIGKILL, no goodbye): within gatewayTimeout only the live
 * prefix, and the page still loads by name. It comes back: its prefix returns. One stopped in
 * order (SIGTERM, DELETE): the very next answer leaves its prefix out. Once with the self-hosted
 * server (classic DNS from the client, as the tenant), once with the worker under wrangler dev
 * (its tenant DoH URL); the self-hosted one has TLS, so the gateways report over https and the
 * client finds the tenant's DoH endpoint by DDR. Convergence is polled with a bounded deadline;
 * only final states are asserted.
 */
const skip = netnsUnavailable(['ip', 'curl', 'dig']);

const A = GW_SITE.gateways['gw-a'];
const B = GW_SITE.gateways['gw-b'];
/** The deadline for a killed gateway to leave the answers: gatewayTimeout plus one TTL. */
const DOWN_DEADLINE_MS = (GW_SITE.gatewayTimeout + 60) * 1000;

async function poll<T>(
  get: () => T | Promise<T>,
  done: (v: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Answer {
  readonly addrs: string[];
  readonly ttls: number[];
}

for (const kind of ['node', 'worker'] as ResolverKind[]) {
  const title =
    kind === 'node' ? 'the self-hosted resolver (classic DNS)' : 'the worker in wrangler dev (DoH)';
  describe.skipIf(skip !== null)(
    `two nat64d gateways reporting to ${title}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      let site: GatewaySite;
      const client = (args: string[], timeout = 15_000) => nsRun(site.client, args, timeout);
      /** The resolver's HTTP side as the client sees it. */
      const base = () => `${site.scheme}://[${GW_SITE.resolver6}]:${GW_SITE.dohPort}`;
      /** curl, trusting the resolver's certificate when it has one. */
      const curl = (...args: string[]) =>
        client([
          'curl',
          '-s',
          '--max-time',
          '10',
          ...(site.caFile ? ['--cacert', site.caFile] : []),
          ...args,
        ]);
      /** The tenant's DoH JSON answer (sorted addresses, their TTLs). */
      const dohAaaa = (): Answer => {
        const r = curl(
          '-H',
          'accept: application/dns-json',
          `${base()}/t/${GW_SITE.tenant}/dns-query?name=www.site.test&type=AAAA`,
        );
        let body: { Answer?: { type: number; data: string; TTL: number }[] } = {};
        try {
          body = JSON.parse(r.stdout) as typeof body;
        } catch {
          // not an answer yet
        }
        const rows = body.Answer ?? [];
        return {
          addrs: rows.map((a) => `${a.type === 28 ? 'AAAA' : a.type} ${a.data}`).sort(),
          ttls: rows.map((a) => a.TTL),
        };
      };
      const phases: string[] = [];
      let t0 = 0;
      const mark = (what: string) => {
        phases.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        t0 = Date.now();
      };

      /** The client's AAAA answer for www.site.test (sorted addresses, their TTLs). */
      const aaaa = (): Answer => {
        if (kind === 'node') {
          const r = client([
            'dig',
            '+noall',
            '+answer',
            '+time=2',
            '+tries=1',
            `@${GW_SITE.resolver6}`,
            'www.site.test',
            'AAAA',
          ]);
          const rows = r.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split(/\s+/));
          return {
            addrs: rows.map((f) => `${f[3]} ${f[4]}`).sort(),
            ttls: rows.map((f) => Number(f[1])),
          };
        }
        return dohAaaa();
      };
      const expectAddrs = (...addrs: string[]) => addrs.map((a) => `AAAA ${a}`).sort();
      const same = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify(b);

      const states = (): Record<string, string> => {
        const r = curl(
          '-H',
          `authorization: Bearer ${GW_SITE.adminToken}`,
          `${base()}/admin/tenants/${GW_SITE.tenant}/gateways`,
        );
        try {
          const body = JSON.parse(r.stdout) as { gateways: Record<string, { state: string }> };
          return Object.fromEntries(
            Object.entries(body.gateways).map(([name, g]) => [name, g.state]),
          );
        } catch {
          return { error: r.stdout };
        }
      };

      /**
       * curl of the page by name. Node: through the client's resolver (resolv.conf, classic DNS
       * as the tenant). Worker: curl's --doh-url takes https:// only and wrangler dev serves
       * plain HTTP here, so the name is resolved with the tenant's DoH URL and handed to curl
       * with --resolve (the first address, as a stub would take it).
       */
      const fetchPage = () => {
        const resolve: string[] = [];
        if (kind === 'worker') {
          const first = aaaa().addrs[0]?.replace(/^AAAA /, '') ?? '';
          resolve.push('--resolve', `www.site.test:80:[${first}]`);
        }
        return client([
          'curl',
          '-s',
          '--max-time',
          '10',
          '-w',
          '\n%{remote_ip}',
          ...resolve,
          'http://www.site.test/',
        ]);
      };

      const gatewayOutput = (name: GatewayName) =>
        Object.entries(site.processes)
          .filter(([k]) => k.startsWith(`nat64d ${name} `))
          .map(([, p]) => p.output())
          .join('');

      beforeAll(async () => {
        for (const [cmd, pkg] of [
          ['named', 'bind9'],
          ['dig', 'bind9-dnsutils'],
          ['curl', 'curl'],
          ...(kind === 'worker' ? [['dnsdist', 'dnsdist']] : []),
          ...(kind === 'node' ? [['openssl', 'openssl']] : []),
        ]) {
          requireCommand(cmd!, pkg!);
        }
        t0 = Date.now();
        site = await startGatewaySite(kind);
        await site.startGateway('gw-a');
        await site.startGateway('gw-b');
        mark('site up');
      }, 150_000);

      afterAll(async () => {
        await site?.stop();
        console.log(`${title}: ${phases.join('; ')}`);
      });

      it('both gateways report: both prefixes, TTL at most 60, the page loads by name', async () => {
        const s = await poll(states, (v) => v['gw-a'] === 'up' && v['gw-b'] === 'up', 30_000);
        expect(s).toEqual({ 'gw-a': 'up', 'gw-b': 'up' });
        const both = expectAddrs(A.server6, B.server6);
        const answer = await poll(aaaa, (v) => same(v.addrs, both), 15_000);
        expect(answer.addrs).toEqual(both);
        for (const ttl of answer.ttls) expect(ttl).toBeLessThanOrEqual(60);
        const page = fetchPage();
        expect(page.stdout.split('\n').slice(0, -1).join('\n')).toBe(GW_SITE.page);
        expect([A.server6, B.server6]).toContain(page.stdout.split('\n').at(-1));
        mark('both up');
      }, 60_000);

      it(
        'gw-a killed (SIGKILL): only gw-b within gatewayTimeout, gw-a down, the page loads through gw-b',
        async () => {
          await site.stopGateway('gw-a', 'SIGKILL');
          expect(gatewayOutput('gw-a')).not.toContain('withdrawn');
          const onlyB = expectAddrs(B.server6);
          const answer = await poll(aaaa, (v) => same(v.addrs, onlyB), DOWN_DEADLINE_MS);
          expect(answer.addrs).toEqual(onlyB);
          expect(states()).toEqual({ 'gw-a': 'down', 'gw-b': 'up' });
          const page = fetchPage();
          expect(page.stdout).toBe(`${GW_SITE.page}\n${B.server6}`);
          mark('gw-a killed -> only gw-b');
        },
        DOWN_DEADLINE_MS + 30_000,
      );

      it('gw-a restarted: its prefix returns', async () => {
        await site.startGateway('gw-a');
        const both = expectAddrs(A.server6, B.server6);
        const answer = await poll(aaaa, (v) => same(v.addrs, both), 30_000);
        expect(answer.addrs).toEqual(both);
        expect(states()).toEqual({ 'gw-a': 'up', 'gw-b': 'up' });
        mark('gw-a restarted -> both');
      }, 60_000);

      it('gw-b stopped in order (SIGTERM, DELETE): the very next answer has only gw-a', async () => {
        await site.stopGateway('gw-b', 'SIGTERM');
        expect(gatewayOutput('gw-b')).toContain('withdrawn from');
        const answer = aaaa();
        expect(answer.addrs).toEqual(expectAddrs(A.server6));
        expect(states()).toEqual({ 'gw-a': 'up', 'gw-b': 'stopped' });
        const page = fetchPage();
        expect(page.stdout).toBe(`${GW_SITE.page}\n${A.server6}`);
        mark('gw-b stopped -> only gw-a');
      }, 30_000);

      it.skipIf(kind !== 'node')(
        "DDR: the client finds the tenant's DoH endpoint, which gives the same answer, and curl by name over it works",
        () => {
          const r = client([
            'dig',
            '+noall',
            '+answer',
            `@${GW_SITE.resolver6}`,
            '_dns.resolver.arpa',
            'SVCB',
          ]);
          const name = `${GW_SITE.serverName}.`;
          expect(
            r.stdout
              .trim()
              .split('\n')
              .map((l) => l.split(/\s+/).join(' ')),
          ).toEqual([
            `_dns.resolver.arpa. 300 IN SVCB 1 ${name} alpn="h2" port=${GW_SITE.dohPort} key7="/t/${GW_SITE.tenant}/dns-query{?dns}"`,
            `_dns.resolver.arpa. 300 IN SVCB 2 ${name} alpn="dot" port=${GW_SITE.dotPort}`,
          ]);
          // Over the advertised path (the certificate also names the router's address): the
          // same live set as classic DNS, gw-b still stopped.
          expect(dohAaaa().addrs).toEqual(expectAddrs(A.server6));
          const page = curl(
            '--doh-url',
            `${base()}/t/${GW_SITE.tenant}/dns-query`,
            '-w',
            '\n%{remote_ip}',
            'http://www.site.test/',
          );
          expect(page.stdout).toBe(`${GW_SITE.page}\n${A.server6}`);
        },
      );
    },
  );
}
