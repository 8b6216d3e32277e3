import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailable, nsRun } from '../../packages/nat64d/test/helpers/netns.js';
import { SITE, type NatMode, type Site, startSite } from '../../scripts/site/site.js';
import { requireCommand } from './servers';

/**
 * The seeds' test, end to end (issue 7): on an IPv6-only host, names with only A records resolve
 * (DoH and classic DNS) to addresses in the NAT64 prefix, and a web page and ping by name work
 * through nat64d, once stateless and once stateful. RFC 7050 prefix discovery works too.
 */
const skip = netnsUnavailable(['ip', 'ping']);

for (const mode of ['stateless', 'stateful'] as NatMode[]) {
  describe.skipIf(skip !== null)(
    `the IPv6-only site, ${mode} nat64d${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      let site: Site;
      const client = (args: string[], timeout = 15_000) => nsRun(site.topo.client, args, timeout);

      beforeAll(async () => {
        for (const [cmd, pkg] of [
          ['named', 'bind9'],
          ['dnsdist', 'dnsdist'],
          ['dig', 'bind9-dnsutils'],
          ['curl', 'curl'],
        ]) {
          requireCommand(cmd!, pkg!);
        }
        site = await startSite(mode);
      }, 120_000);

      afterAll(async () => {
        await site?.stop();
      });

      it('resolves an A-only name over DoH to its address in the NAT64 prefix', () => {
        const r = client([
          'curl',
          '-s',
          `http://[${SITE.gateway6}]:${SITE.dohPort}/resolve?name=www.site.test&type=AAAA`,
        ]);
        const body = JSON.parse(r.stdout) as { Answer: { data: string; TTL: number }[] };
        expect(body.Answer).toEqual([
          { name: 'www.site.test.', type: 28, TTL: 60, data: SITE.server6 },
        ]);
      });

      it('resolves it over classic DNS (UDP, port 53) too', () => {
        const r = client(['dig', '+short', `@${SITE.gateway6}`, 'www.site.test', 'AAAA']);
        expect(r.stdout).toBe(`${SITE.server6}\n`);
      });

      it('discovers the NAT64 prefix through ipv4only.arpa (RFC 7050)', () => {
        const r = client(['dig', '+short', `@${SITE.gateway6}`, 'ipv4only.arpa', 'AAAA']);
        expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([
          '2001:db8:64::c000:aa',
          '2001:db8:64::c000:ab',
        ]);
      });

      it('fetches the page from the IPv4-only server by name with curl', () => {
        const r = client(['curl', '-s', '--max-time', '10', 'http://www.site.test/']);
        expect(r.stdout).toBe(SITE.page);
      });

      it('pings the IPv4-only server by name', () => {
        const r = client(['ping', '-c', '2', '-i', '0.3', '-W', '3', 'www.site.test']);
        expect(r.stdout).toMatch(new RegExp(`^PING www\\.site\\.test\\(${SITE.server6}\\)`));
        expect(r.stdout).toContain('2 packets transmitted, 2 received');
      });

      it.runIf(mode === 'stateful')(
        "stateful: the page came from pool4 on the gateway's own address, beside its own DNS traffic",
        () => {
          // The gateway's dnsdist reached BIND from 203.0.113.1 too (the answers above).
          const r = nsRun(site.topo.gateway, [
            process.execPath,
            new URL('../../packages/nat64d/bin/nat64d.js', import.meta.url).pathname,
            'bib',
            '--proto',
            'tcp',
            '--addr',
            SITE.client,
          ]);
          expect(r.code).toBe(0);
          const lines = r.stdout.trimEnd().split('\n');
          expect(lines.at(-1)).toMatch(/^\d+ of \d+ bindings?$/);
          expect(lines.length).toBeGreaterThanOrEqual(3);
          for (const line of lines.slice(1, -1)) {
            expect(line).toMatch(
              /^tcp +2001:db8:1::2#\d+ +203\.0\.113\.1#(6[1-5]\d{3}) +dynamic +\d+$/,
            );
          }
        },
      );
    },
  );
}
