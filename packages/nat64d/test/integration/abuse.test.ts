/**
 * Abuse against the stateful gateway (issue 7): a TCP SYN flood and a UDP port scan from one
 * IPv6 host must not hurt other hosts' sessions, and the per-host limit must hold.
 *
 *   client 2001:db8:1::100 (attacker), ::101 (long-lived session), ::102 (new session later)
 *   gateway nat64d: prefix 2001:db8:64::/96, pool4 198.51.100.8 61000-65535,
 *                   max-sessions-per-host 100
 *   server 203.0.113.2 (echo on 7007); 203.0.113.99 does not exist (SYNs go unanswered)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeNat64Topology,
  netnsUnavailable,
  nsRun,
  spawnInNs,
  type Nat64Topology,
  type NsProcess,
} from '../helpers/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const PEER = join(here, 'peer.mjs');
const BIN = join(pkg, 'bin/nat64d.js');
const node = process.execPath;
const SERVER6 = '2001:db8:64::cb00:7102'; // 203.0.113.2
const NOWHERE6 = '2001:db8:64::cb00:7163'; // 203.0.113.99: nobody answers
const [ATTACKER, VICTIM, NEWCOMER] = ['2001:db8:1::100', '2001:db8:1::101', '2001:db8:1::102'];
const PER_HOST = 100;

const skip =
  netnsUnavailable(['ip']) ??
  (existsSync(join(pkg, 'build/Release/tun.node')) ? null : 'addon not built');

describe.skipIf(skip !== null)(
  `stateful gateway under a SYN flood and a UDP scan${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let topo: Nat64Topology;
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-abuse-'));
    let daemon: NsProcess | null = null;
    let echo: NsProcess | null = null;
    const stats = (): Record<string, number> => {
      const r = nsRun(topo.gateway, [node, BIN, 'stats', '--json']);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as Record<string, number>;
    };

    beforeAll(async () => {
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg]);
      topo = makeNat64Topology([ATTACKER, VICTIM, NEWCOMER].map((a) => `${a}/64`));
      const conf = join(dir, 'tayga.conf');
      writeFileSync(
        conf,
        [
          'tun-device nat64',
          'ipv4-addr 192.0.2.1',
          'prefix 2001:db8:64::/96',
          'pool4 198.51.100.8 61000-65535',
          `max-sessions-per-host ${PER_HOST}`,
          '',
        ].join('\n'),
      );
      daemon = spawnInNs(topo.gateway, [node, BIN, '-c', conf]);
      await daemon.waitFor('translating on');
      echo = spawnInNs(topo.server, [node, PEER, 'tcp-echo-server', '7007']);
      await echo.waitFor('listening');
    }, 60_000);

    afterAll(async () => {
      await echo?.stop('SIGKILL');
      await daemon?.stop();
      topo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it("keeps another host's connection working and admits a new one, within the per-host limit", async () => {
      const victim = spawnInNs(topo.client, [
        node,
        PEER,
        'tcp-hold-client',
        SERVER6,
        '7007',
        VICTIM,
        '6',
      ]);
      await victim.waitFor('connected', 5000);

      const flood = nsRun(
        topo.client,
        [node, PEER, 'syn-flood', NOWHERE6, '80', '1000', ATTACKER],
        20_000,
      );
      expect(flood.stdout.trim()).toBe('sent 1000');
      const scan = nsRun(
        topo.client,
        [node, PEER, 'udp-scan', SERVER6, '20000', '20999', ATTACKER],
        20_000,
      );
      expect(scan.stdout.trim()).toBe('sent 1000');

      // A host that arrives during the abuse still gets a session.
      const late = nsRun(topo.client, [node, PEER, 'tcp-client', SERVER6, '7007', '0', NEWCOMER]);
      expect(late.code).toBe(0);

      await victim.waitFor(/echoed (\d+) of \1\n/, 15_000);
      const s = stats();
      const refused =
        s['nat64d_stateful_drops_total{proto="tcp",reason="host_limit"}']! +
        s['nat64d_stateful_drops_total{proto="udp",reason="host_limit"}']!;
      // 2000 attempts against a limit of 100: at least 1900 refused at the limit
      expect(refused).toBeGreaterThanOrEqual(2000 - PER_HOST);
      const sessions =
        s['nat64d_stateful_sessions{proto="tcp"}']! + s['nat64d_stateful_sessions{proto="udp"}']!;
      // the attacker's 100, the victim's and the newcomer's
      expect(sessions).toBeLessThanOrEqual(PER_HOST + 2);
      expect(sessions).toBeGreaterThanOrEqual(PER_HOST);
    }, 60_000);
  },
);
