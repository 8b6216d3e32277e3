/**
 * nat64d reporting to the resolver (issue 15), as a real process in a network namespace with a
 * stand-in for the resolver's `/t/{id}/gateways/{gateway}` endpoint on the namespace's
 * loopback: nothing is sent without report-url; with it, a PUT once the TUN device is up
 * (report-url from the file, report-key from the environment), counters in `nat64d stats`,
 * and a DELETE on SIGTERM before the daemon exits 0.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addNetns,
  delNetns,
  netnsUnavailable,
  nsRun,
  spawnInNs,
  suffix,
  type NsProcess,
} from '../helpers/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const BIN = join(pkg, 'bin/nat64d.js');
const SERVER = join(here, 'report-server.mjs');
const node = process.execPath;
const PORT = 8787;
const PATH = '/t/acme/gateways/ams-1';
const URL1 = `http://127.0.0.1:${PORT}${PATH}`;
const KEY = 'gw-key_0123456789abcdef';

function skipReason(): string | null {
  const reason = netnsUnavailable(['ip']);
  if (reason) return reason;
  if (!existsSync(join(pkg, 'build/Release/tun.node')))
    return 'addon not built (npm run build:native)';
  return null;
}
const skip = skipReason();

interface Request {
  method: string;
  url: string;
  authorization: string | null;
  contentType: string | null;
  body: string;
}

const requests = (p: NsProcess): Request[] =>
  p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Request);

describe.skipIf(skip !== null)(
  `nat64d reports to the resolver${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const gateway = `n64r-${suffix()}`;
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-report-'));
    const base = [
      'tun-device nat64',
      'ipv4-addr 198.51.100.1',
      'prefix 2001:db8:64::/96',
      'dynamic-pool 198.18.0.0/24',
    ];
    let server: NsProcess | null = null;
    const daemons: NsProcess[] = [];
    const version = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version as string;

    const startDaemon = async (file: string, env: string[] = []): Promise<NsProcess> => {
      const d = spawnInNs(gateway, ['env', ...env, node, BIN, '-c', file]);
      daemons.push(d);
      await d.waitFor('translating on');
      return d;
    };

    beforeAll(async () => {
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg], {
        stdio: 'inherit',
      });
      addNetns(gateway);
      server = spawnInNs(gateway, [node, SERVER, String(PORT)]);
      await server.waitFor('listening');
    }, 60_000);

    afterAll(async () => {
      for (const d of daemons) await d.stop('SIGKILL');
      await server?.stop('SIGKILL');
      delNetns(gateway);
      rmSync(dir, { recursive: true, force: true });
    });

    it('without report-url nothing is sent, from start to exit', async () => {
      const file = join(dir, 'plain.conf');
      writeFileSync(file, [...base, ''].join('\n'));
      const d = await startDaemon(file);
      // A configured daemon sends its PUT at start and waits for its DELETE before exiting,
      // so an empty log after a clean exit means nothing was sent.
      expect(await d.stop('SIGTERM')).toBe(0);
      expect(d.output()).not.toContain('reporting to');
      expect(requests(server!)).toEqual([]);
    });

    it('PUT once the TUN device is up, counters, DELETE on SIGTERM, exit 0', async () => {
      const file = join(dir, 'report.conf');
      writeFileSync(file, [...base, `report-url ${URL1}`, ''].join('\n'));
      const d = await startDaemon(file, [`NAT64D_REPORT_KEY=${KEY}`]);
      await d.waitFor('report accepted by');
      const out = d.output();
      expect(out.indexOf('translating on')).toBeLessThan(out.indexOf(`reporting to ${URL1}`));

      const put = requests(server!)[0]!;
      expect({ ...put, body: null }).toEqual({
        method: 'PUT',
        url: PATH,
        authorization: `Bearer ${KEY}`,
        contentType: 'application/json',
        body: null,
      });
      const body = JSON.parse(put.body) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['dynamicPoolFree', 'uptime', 'version']);
      expect(body.version).toBe(version);
      expect(Number.isInteger(body.uptime)).toBe(true);
      // 198.18.0.0/24 less its lowest address, no host mapped yet.
      expect(body.dynamicPoolFree).toBe(255);

      const stats = nsRun(gateway, [node, BIN, 'stats', '--json', '--metrics', '127.0.0.1:9164']);
      expect(stats.code).toBe(0);
      const s = JSON.parse(stats.stdout) as Record<string, number>;
      expect(s.nat64d_reports_sent_total).toBeGreaterThanOrEqual(1);
      expect(s.nat64d_reports_failed_total).toBe(0);
      expect(s.nat64d_report_last_success_time_seconds).toBeGreaterThan(1_700_000_000);
      expect(s.nat64d_dynamic_pool_addresses).toBe(255);

      expect(await d.stop('SIGTERM')).toBe(0);
      const all = requests(server!);
      expect(all.slice(0, -1).every((r) => r.method === 'PUT')).toBe(true);
      expect(all.at(-1)).toEqual({
        method: 'DELETE',
        url: PATH,
        authorization: `Bearer ${KEY}`,
        contentType: null,
        body: '',
      });
      expect(d.output()).toContain(`withdrawn from ${URL1} (HTTP 204)`);
      expect(d.output()).not.toContain(KEY);
    });
  },
);
