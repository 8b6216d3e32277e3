/**
 * Stateful nat64d (RFC 6146) end to end in network namespaces built here:
 *
 *   client (IPv6 only)               gateway (nat64d, pool4)                 server (IPv4 only)
 *   2001:db8:1::100 ... ::113 ---- 2001:db8:1::1 | 203.0.113.1 ----------- 203.0.113.2
 *
 * NAT64 prefix 2001:db8:64::/96, pool4 198.51.100.8 with ports 61000-65535, translator
 * address 192.0.2.1. Twenty IPv6 clients share the one IPv4 address by port.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeNat64Topology,
  netnsUnavailable,
  ns,
  nsRun,
  spawnInNs,
  type Nat64Topology,
  type NsProcess,
} from '../helpers/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const PEER = join(here, 'peer.mjs');
const BURST = join(here, 'udp-burst.mjs');
const GSO_SEND = join(here, 'udp-gso-send.py');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const BIN = join(pkg, 'bin/nat64d.js');
const SERVER6 = '2001:db8:64::cb00:7102'; // 203.0.113.2 inside the prefix
const POOL4 = '198.51.100.8';
const node = process.execPath;
const CLIENTS = Array.from({ length: 20 }, (_, i) => `2001:db8:1::${(0x100 + i).toString(16)}`);
/** The pool4 address inside the prefix: IPv6 hosts reach each other through it (hairpin). */
const POOL4_AS6 = '2001:db8:64::c633:6408';

function skipReason(): string | null {
  const reason = netnsUnavailable(['ip', 'ping']);
  if (reason) return reason;
  if (!existsSync(join(pkg, 'build/Release/tun.node')))
    return 'addon not built (npm run build:native)';
  return null;
}
const skip = skipReason();
const hasEthtool = ['/usr/sbin', '/sbin', '/usr/bin'].some((d) => existsSync(`${d}/ethtool`));

/** "198.51.100.8#61234 24" -> [address, port]. */
function seen(answer: string): [string, number] {
  const m = /^(\S+)#(\d+) \d+$/.exec(answer.trim());
  if (!m) throw new Error(`unexpected answer "${answer}"`);
  return [m[1]!, Number(m[2])];
}

describe.skipIf(skip !== null)(
  `stateful nat64d: IPv6 clients share a pool4 address${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let topo: Nat64Topology;
    const dataDir = mkdtempSync(join(tmpdir(), 'nat64d-st-'));
    const confFile = join(dataDir, 'tayga.conf');
    const mappingLog = join(dataDir, 'mappings.log');
    let daemon: NsProcess | null = null;
    const servers: NsProcess[] = [];
    const stats = (): Record<string, number> => {
      const r = nsRun(topo.gateway, [node, BIN, 'stats', '--json']);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as Record<string, number>;
    };

    beforeAll(async () => {
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg], {
        stdio: 'inherit',
      });
      topo = makeNat64Topology(CLIENTS.map((a) => `${a}/64`));
      writeFileSync(
        confFile,
        [
          '# stateful nat64d integration test',
          'tun-device nat64',
          'ipv4-addr 192.0.2.1',
          'prefix 2001:db8:64::/96',
          `pool4 ${POOL4} 61000-65535`,
          // A server on the IPv6 side (the last client address), reached through pool4.
          `bib tcp ${CLIENTS[19]!}#9090 ${POOL4}#9090`,
          `log-mappings ${mappingLog}`,
          '',
        ].join('\n'),
      );
      daemon = spawnInNs(topo.gateway, [node, BIN, '-c', confFile]);
      await daemon.waitFor('translating on');
      const tcp = spawnInNs(topo.server, [node, PEER, 'tcp-port-server', '8080']);
      const udp = spawnInNs(topo.server, [node, PEER, 'udp-port-server', '5353']);
      servers.push(tcp, udp);
      await Promise.all([tcp.waitFor('listening'), udp.waitFor('listening')]);
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) await s.stop('SIGKILL');
      await daemon?.stop();
      topo?.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('routes the pool4 address into the TUN device', () => {
      expect(daemon?.output()).toContain(`stateful pool4 ${POOL4}/32 tcp/udp/icmp 61000-65535`);
      const v4 = ns(topo.gateway, 'ip', '-4', 'route', 'show', 'dev', 'nat64');
      expect(v4).toMatch(new RegExp(`^${POOL4.replace(/\./g, '\\.')} `, 'm'));
    });

    it('TCP: the IPv4 server sees the pool4 address with a port in 61000-65535', async () => {
      const r = nsRun(topo.client, [
        node,
        PEER,
        'tcp-client',
        SERVER6,
        '8080',
        '5000',
        CLIENTS[0]!,
      ]);
      const [addr, port] = seen(r.stdout);
      expect(addr).toBe(POOL4);
      expect(port).toBeGreaterThanOrEqual(61000);
      expect(port).toBeLessThanOrEqual(65535);
      await servers[0]?.waitFor(`tcp ${POOL4}#${port} 5000`, 3000);
    });

    it('hairpin with TCP offload: 4 MB from one IPv6 host to another through the pool4 address', async () => {
      const server6 = spawnInNs(topo.client, [node, PEER, 'tcp-port-server', '9090', CLIENTS[19]!]);
      servers.push(server6);
      await server6.waitFor('listening');
      const before = stats();
      const bytes = 4 * 1024 * 1024;
      const r = nsRun(
        topo.client,
        [node, PEER, 'tcp-client', POOL4_AS6, '9090', String(bytes), CLIENTS[3]!],
        30_000,
      );
      // The server sees the sender as its pool4 transport address, in the prefix.
      const [addr, port] = seen(r.stdout);
      expect(addr).toBe(POOL4_AS6);
      expect(port >= 61000 && port <= 65535).toBe(true);
      await server6.waitFor(`tcp ${POOL4_AS6}#${port} ${bytes}`, 3000);
      const after = stats();
      // The data arrived as GSO super-packets, segmented for the way back to IPv6.
      expect(after.nat64d_tun_gso_in_total! - before.nat64d_tun_gso_in_total!).toBeGreaterThan(0);
      expect(after.nat64d_hairpinned_total! - before.nat64d_hairpinned_total!).toBeGreaterThan(0);
      expect(after.nat64d_drop_too_big_total).toBe(before.nat64d_drop_too_big_total);
    });

    it('UDP: the IPv4 server sees the pool4 address with a port in range; the answer comes back', () => {
      const r = nsRun(topo.client, [node, PEER, 'udp-client', SERVER6, '5353', CLIENTS[1]!]);
      const [addr, port] = seen(r.stdout);
      expect(addr).toBe(POOL4);
      expect(port >= 61000 && port <= 65535).toBe(true);
    });

    it.runIf(hasEthtool)(
      'UDP GSO runs through a session: translated whole with the port rewritten, exactly the datagrams arrive',
      async () => {
        const gs = `g${topo.serverDev}`; // the gateway's end of the server's veth
        ns(
          topo.gateway,
          'ethtool',
          '-K',
          `g${topo.clientDev}`,
          'gro',
          'on',
          'rx-udp-gro-forwarding',
          'on',
        );
        // Checksums verified in software at the server (see the stateless UDP GSO test).
        ns(topo.gateway, 'ethtool', '-K', gs, 'tx', 'off');
        ns(topo.server, 'ethtool', '-K', topo.serverDev, 'rx', 'off');
        const sink = spawnInNs(topo.server, [node, BURST, 'server', '7004']);
        try {
          await sink.waitFor('listening');
          const before = stats();
          const runs = 20;
          const perRun = 32;
          const r = nsRun(
            topo.client,
            [PY, GSO_SEND, SERVER6, '7004', String(runs), String(perRun)],
            30_000,
          );
          expect(r.stdout.trim()).toBe(`sent ${runs * perRun}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
          await sink.stop('SIGTERM');
          expect(sink.output()).toContain(`got ${runs * perRun} bad 0 reordered 0 flows 1`);
          const after = stats();
          const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
          expect(d('nat64d_tun_uso_in_total')).toBe(runs);
          expect(d('nat64d_tun_uso_out_total')).toBe(runs);
          expect(d('nat64d_drop_stateful_total')).toBe(0);
        } finally {
          await sink.stop('SIGKILL');
          ns(topo.gateway, 'ethtool', '-K', gs, 'tx', 'on');
          ns(topo.server, 'ethtool', '-K', topo.serverDev, 'rx', 'on');
        }
      },
      40_000,
    );

    it('20 IPv6 clients share the one IPv4 address with distinct ports', () => {
      const r = nsRun(topo.client, [
        node,
        PEER,
        'udp-multi-client',
        SERVER6,
        '5353',
        CLIENTS.join(','),
      ]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(20);
      const ports = new Set<number>();
      for (const line of lines) {
        const [src, answer = ''] = line.split(/ (.*)/s);
        expect(CLIENTS).toContain(src);
        const [addr, port] = seen(answer);
        expect(addr).toBe(POOL4);
        expect(port >= 61000 && port <= 65535).toBe(true);
        ports.add(port);
      }
      expect(ports.size).toBe(20);
      const s = stats();
      expect(s['nat64d_stateful_sessions{proto="udp"}']).toBeGreaterThanOrEqual(20);
      expect(s['nat64d_stateful_bib_entries{proto="udp"}']).toBeGreaterThanOrEqual(20);
    });

    it('ping through: echo identifiers are mapped', () => {
      const r = nsRun(topo.client, [
        'ping',
        '-6',
        '-c',
        '3',
        '-i',
        '0.2',
        '-W',
        '2',
        '-I',
        CLIENTS[2]!,
        SERVER6,
      ]);
      expect(r.stdout).toContain('3 packets transmitted, 3 received');
      expect(stats()['nat64d_stateful_sessions{proto="icmp"}']).toBeGreaterThanOrEqual(1);
    });

    it('an inbound packet with no session is dropped: no reply, no ICMP error', () => {
      const before = stats();
      const env = ['env', 'PEER_TIMEOUT_MS=1500'];
      const udp = nsRun(topo.server, [...env, node, PEER, 'udp4-probe-client', POOL4, '61001']);
      expect(udp.stdout.trim()).toBe('TIMEOUT'); // not ECONNREFUSED: nothing came back
      const tcp = nsRun(topo.server, [...env, node, PEER, 'tcp4-probe-client', POOL4, '61003']);
      expect(tcp.stdout.trim()).toBe('TIMEOUT'); // no SYN-ACK, no RST
      const after = stats();
      const key = (p: string) => `nat64d_stateful_drops_total{proto="${p}",reason="no_bib"}`;
      expect(after[key('udp')]! - before[key('udp')]!).toBe(1);
      expect(after[key('tcp')]! - before[key('tcp')]!).toBeGreaterThanOrEqual(1); // SYN retries
      expect(after.nat64d_icmp4_errors_sent_total).toBe(before.nat64d_icmp4_errors_sent_total);
    });

    it('logs the mappings (time, protocol, IPv6 src#port, pool4#port) and their end at exit', async () => {
      await daemon?.stop('SIGTERM');
      expect(daemon?.child.exitCode).toBe(0);
      const text = readFileSync(mappingLog, 'utf8');
      const start = new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z mapping-start udp ${CLIENTS[5]!}#\\d+ ${POOL4.replace(/\./g, '\\.')}#6\\d{4}$`,
        'm',
      );
      expect(text).toMatch(start);
      expect(text).toMatch(/ mapping-start tcp 2001:db8:1::100#\d+ 198\.51\.100\.8#\d+$/m);
      expect(text).toMatch(/ mapping-end udp 2001:db8:1::105#\d+ 198\.51\.100\.8#\d+ shutdown$/m);
      daemon = null;
    });
  },
);
