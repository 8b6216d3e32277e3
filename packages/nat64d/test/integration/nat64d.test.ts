/**
 * nat64d end to end in network namespaces built here:
 *
 *   client (IPv6 only)          gateway (nat64d on a TUN device)          server (IPv4 only)
 *   2001:db8:1::2,::3,::10 --- 2001:db8:1::1 | 203.0.113.1 --------------- 203.0.113.2
 *
 * NAT64 prefix 2001:db8:64::/96 (the server is 2001:db8:64::cb00:7102 from the client),
 * dynamic pool 198.18.0.0/24, static map 198.51.100.10 <-> 2001:db8:1::10, translator
 * address 198.51.100.1, offlink-mtu 1280, TUN MTU 1500.
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
  ns,
  nsRun,
  sh,
  spawnInNs,
  suffix,
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
const node = process.execPath;

function skipReason(): string | null {
  const reason = netnsUnavailable(['ip', 'ping']);
  if (reason) return reason;
  if (!existsSync(join(pkg, 'build/Release/tun.node')))
    return 'addon not built (npm run build:native)';
  return null;
}
const skip = skipReason();
const hasEthtool = ['/usr/sbin', '/sbin', '/usr/bin'].some((d) => existsSync(`${d}/ethtool`));

describe.skipIf(skip !== null)(
  `nat64d between an IPv6-only client and an IPv4-only server${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const id = suffix();
    const client = `n64c-${id}`;
    const gateway = `n64g-${id}`;
    const server = `n64s-${id}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'nat64d-it-'));
    const confFile = join(dataDir, 'tayga.conf');
    let daemon: NsProcess | null = null;
    const servers: NsProcess[] = [];

    const startDaemon = async (): Promise<NsProcess> => {
      const d = spawnInNs(gateway, [node, BIN, '-c', confFile]);
      await d.waitFor('translating on');
      return d;
    };

    beforeAll(async () => {
      // Compile the daemon (the test runs the real CLI).
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg], {
        stdio: 'inherit',
      });
      for (const n of [client, gateway, server]) addNetns(n);
      sh('ip', [
        'link',
        'add',
        `c${id}`,
        'netns',
        client,
        'type',
        'veth',
        'peer',
        'name',
        `gc${id}`,
        'netns',
        gateway,
      ]);
      sh('ip', [
        'link',
        'add',
        `s${id}`,
        'netns',
        server,
        'type',
        'veth',
        'peer',
        'name',
        `gs${id}`,
        'netns',
        gateway,
      ]);
      // client: IPv6 only
      ns(client, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
      ns(client, 'ip', 'link', 'set', `c${id}`, 'up');
      for (const a of ['2001:db8:1::2/64', '2001:db8:1::3/64', '2001:db8:1::10/64']) {
        ns(client, 'ip', 'addr', 'add', a, 'dev', `c${id}`, 'nodad');
      }
      ns(client, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
      // server: IPv4 only
      ns(server, 'ip', 'link', 'set', `s${id}`, 'up');
      ns(server, 'ip', 'addr', 'add', '203.0.113.2/24', 'dev', `s${id}`);
      ns(server, 'ip', 'route', 'add', 'default', 'via', '203.0.113.1');
      // gateway: a router
      ns(gateway, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
      ns(gateway, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      ns(gateway, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
      ns(gateway, 'ip', 'link', 'set', `gc${id}`, 'up');
      ns(gateway, 'ip', 'link', 'set', `gs${id}`, 'up');
      ns(gateway, 'ip', 'addr', 'add', '2001:db8:1::1/64', 'dev', `gc${id}`, 'nodad');
      ns(gateway, 'ip', 'addr', 'add', '203.0.113.1/24', 'dev', `gs${id}`);

      writeFileSync(
        confFile,
        [
          '# nat64d integration test',
          'tun-device nat64',
          'ipv4-addr 198.51.100.1',
          'prefix 2001:db8:64::/96',
          'dynamic-pool 198.18.0.0/24',
          'map 198.51.100.10 2001:db8:1::10',
          `data-dir ${dataDir}`,
          'offlink-mtu 1280',
          'udp-cksum-mode calc',
          '',
        ].join('\n'),
      );
      daemon = await startDaemon();

      const tcp = spawnInNs(server, [node, PEER, 'tcp-server', '8080']);
      const udp = spawnInNs(server, [node, PEER, 'udp-server', '5353']);
      servers.push(tcp, udp);
      await Promise.all([tcp.waitFor('listening'), udp.waitFor('listening')]);
    }, 60_000);

    /** The running daemon's counters (`nat64d stats --json`). */
    const stats = () =>
      JSON.parse(nsRun(gateway, [node, BIN, 'stats', '--json']).stdout) as Record<string, number>;
    /** InCsumErrors of a namespace's Tcp or Udp line in /proc/net/snmp. */
    const csumErrors = (proto: 'Tcp' | 'Udp', nsName: string) => {
      const snmp = ns(nsName, 'cat', '/proc/net/snmp').split('\n');
      const keys = snmp.find((l) => l.startsWith(`${proto}: `) && l.includes('InCsumErrors'));
      const values = snmp.find((l) => new RegExp(`^${proto}: \\d`).test(l));
      const i = (keys ?? '').split(' ').indexOf('InCsumErrors');
      return Number((values ?? '').split(' ')[i]);
    };

    /** Since `before`, the daemon wrote coalesced UDP runs, each of two datagrams or more. */
    const expectCoalesced = (before: Record<string, number>) => {
      const after = stats();
      const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      expect(d('nat64d_tun_uso_writes_total')).toBeGreaterThan(0);
      expect(d('nat64d_tun_uso_datagrams_total')).toBeGreaterThanOrEqual(
        2 * d('nat64d_tun_uso_writes_total'),
      );
    };

    /**
     * The burst receiver on the server at `port`, with every datagram's checksum verified in
     * software (no TX checksum offload on the gateway's server side, no RX trust at the server):
     * `body` gets the sink and the daemon's counters before the traffic; the sink is stopped and
     * the offloads restored whatever happens.
     */
    const withUdpSink = async (
      port: string,
      body: (sink: NsProcess, before: Record<string, number>) => Promise<void>,
    ) => {
      ns(gateway, 'ethtool', '-K', `gs${id}`, 'tx', 'off');
      ns(server, 'ethtool', '-K', `s${id}`, 'rx', 'off');
      const sink = spawnInNs(server, [node, BURST, 'server', port]);
      try {
        await sink.waitFor('listening');
        await body(sink, stats());
      } finally {
        await sink.stop('SIGKILL');
        ns(gateway, 'ethtool', '-K', `gs${id}`, 'tx', 'on');
        ns(server, 'ethtool', '-K', `s${id}`, 'rx', 'on');
      }
    };

    afterAll(async () => {
      for (const s of servers) await s.stop('SIGKILL');
      await daemon?.stop();
      for (const n of [client, gateway, server]) delNetns(n);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('brings the TUN device up with its routes', () => {
      expect(ns(gateway, 'ip', 'link', 'show', 'nat64')).toMatch(/mtu 1500 .*state UNKNOWN|UP/);
      // tun-queue-len's default, not the kernel's 500.
      expect(ns(gateway, 'ip', 'link', 'show', 'nat64')).toMatch(/ qlen 4096\n/);
      expect(ns(gateway, 'ip', '-6', 'route', 'show', 'dev', 'nat64')).toContain(
        '2001:db8:64::/96',
      );
      const v4 = ns(gateway, 'ip', '-4', 'route', 'show', 'dev', 'nat64');
      expect(v4).toContain('198.18.0.0/24');
      expect(v4).toContain('198.51.100.10');
      expect(v4).toContain('198.51.100.1 ');
    });

    it('ping: IPv6 client -> IPv4 server through the prefix', () => {
      const r = nsRun(client, [
        'ping',
        '-6',
        '-c',
        '3',
        '-i',
        '0.2',
        '-W',
        '2',
        '-I',
        '2001:db8:1::3',
        SERVER6,
      ]);
      expect(r.stdout).toContain('3 packets transmitted, 3 received');
    });

    it('ping: IPv4 server -> IPv6 client through the static map', () => {
      const r = nsRun(server, ['ping', '-4', '-c', '3', '-i', '0.2', '-W', '2', '198.51.100.10']);
      expect(r.stdout).toContain('3 packets transmitted, 3 received');
    });

    it('ping: the translator answers on its own ipv4-addr and ipv6-addr (as Tayga does)', () => {
      const v4 = nsRun(server, ['ping', '-4', '-c', '2', '-i', '0.2', '-W', '2', '198.51.100.1']);
      expect(v4.stdout + v4.stderr).toContain('2 packets transmitted, 2 received');
      const own6 = /ipv6-addr ([0-9a-f:]+)/.exec(daemon?.output() ?? '')?.[1];
      expect(own6).toBeDefined();
      const v6 = nsRun(client, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', own6!]);
      expect(v6.stdout + v6.stderr).toContain('2 packets transmitted, 2 received');
    });

    it('TCP carries data; the server sees the dynamic-pool address', async () => {
      const r = nsRun(client, [
        node,
        PEER,
        'tcp-client',
        SERVER6,
        '8080',
        '200000',
        '2001:db8:1::2',
      ]);
      // ::3 pinged first (198.18.0.1), so ::2 got the next pool address
      expect(r.stdout.trim()).toBe('198.18.0.2 200000');
      await servers[0]?.waitFor('tcp 198.18.0.2 200000', 3000);
    });

    it('TCP from the statically mapped host shows its static IPv4 address', () => {
      const r = nsRun(client, [
        node,
        PEER,
        'tcp-client',
        SERVER6,
        '8080',
        '5000',
        '2001:db8:1::10',
      ]);
      expect(r.stdout.trim()).toBe('198.51.100.10 5000');
    });

    it.runIf(hasEthtool)(
      'TCP/IPv6 offload: super-packets are translated once, segmented by the kernel, and every segment checksum is right',
      () => {
        // Make the end hosts verify checksums in software: no TX checksum offload on the
        // gateway's veths (the kernel computes each segment's checksum from the pseudo-header
        // sum nat64d wrote), no RX checksum trust at the client and the server.
        const ethtool = (nsName: string, dev: string, ...args: string[]) =>
          ns(nsName, 'ethtool', '-K', dev, ...args);
        ethtool(gateway, `gs${id}`, 'tx', 'off');
        ethtool(gateway, `gc${id}`, 'tx', 'off');
        ethtool(server, `s${id}`, 'rx', 'off');
        ethtool(client, `c${id}`, 'rx', 'off');
        try {
          const before = stats();
          const bytes = 4 * 1024 * 1024;
          const r = nsRun(
            client,
            [node, PEER, 'tcp-client', SERVER6, '8080', String(bytes), '2001:db8:1::2'],
            30_000,
          );
          expect(r.stdout.trim()).toBe(`198.18.0.2 ${bytes}`);
          const after = stats();
          // Super-packets came in and went out as TCP/IPv4 GSO, far fewer than the segments.
          const gsoIn =
            (after.nat64d_tun_gso_in_total ?? 0) - (before.nat64d_tun_gso_in_total ?? 0);
          const gsoOut =
            (after.nat64d_tun_gso_out_total ?? 0) - (before.nat64d_tun_gso_out_total ?? 0);
          expect(gsoIn).toBeGreaterThan(0);
          expect(gsoOut).toBe(gsoIn);
          const translated =
            (after.nat64d_translated6to4_total ?? 0) - (before.nat64d_translated6to4_total ?? 0);
          expect(translated).toBeLessThan(bytes / 1440);
          expect(csumErrors('Tcp', server)).toBe(0);
          expect(csumErrors('Tcp', client)).toBe(0);
        } finally {
          ethtool(gateway, `gs${id}`, 'tx', 'on');
          ethtool(gateway, `gc${id}`, 'tx', 'on');
          ethtool(server, `s${id}`, 'rx', 'on');
          ethtool(client, `c${id}`, 'rx', 'on');
        }
      },
      40_000,
    );

    it.runIf(hasEthtool)(
      'UDP coalescing: a burst of same-size datagrams arrives intact, one datagram each, with valid checksums',
      async () => {
        // The server verifies every datagram's checksum in software (see the TCP test).
        await withUdpSink('7001', async (sink, before) => {
          const count = 20_000;
          const r = nsRun(client, [node, BURST, 'client', SERVER6, '7001', String(count)], 30_000);
          expect(r.stdout.trim()).toBe(`sent ${count}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
          await sink.stop('SIGTERM');
          const m = /got (\d+) bad (\d+) reordered (\d+)/.exec(sink.output());
          const got = Number(m?.[1]);
          expect(Number(m?.[2])).toBe(0);
          expect(Number(m?.[3])).toBe(0);
          // Datagrams may be lost under load (how many is for benchmarks, not tests), never
          // merged or split: each one that arrives is exactly one 64-byte datagram with its own
          // content (bad counts any other), and no more arrive than were sent.
          expect(got).toBeGreaterThan(0);
          expect(got).toBeLessThanOrEqual(count);
          expectCoalesced(before);
          expect(csumErrors('Udp', server)).toBe(0);
        });
      },
      40_000,
    );

    it.runIf(hasEthtool)(
      'UDP coalescing of interleaved flows: each flow coalesced apart, no datagram merged, split or overtaken within its flow',
      async () => {
        await withUdpSink('7002', async (sink, before) => {
          const count = 20_000;
          const flows = 4;
          // Datagram k leaves socket k % 4: the flows reach the gateway interleaved.
          const r = nsRun(
            client,
            [node, BURST, 'client', SERVER6, '7002', String(count), String(flows)],
            30_000,
          );
          expect(r.stdout.trim()).toBe(`sent ${count}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
          await sink.stop('SIGTERM');
          const m = /got (\d+) bad (\d+) reordered (\d+) flows (\d+)/.exec(sink.output());
          const got = Number(m?.[1]);
          // Each datagram that arrives is exactly one of those sent (bad: any other), and
          // within its flow none arrives after a later one (reordered).
          expect(Number(m?.[2])).toBe(0);
          expect(Number(m?.[3])).toBe(0);
          expect(Number(m?.[4])).toBe(flows);
          expect(got).toBeGreaterThan(0);
          expect(got).toBeLessThanOrEqual(count);
          expectCoalesced(before);
        });
      },
      40_000,
    );

    it.runIf(hasEthtool)(
      'UDP GSO on the read side: runs of same-flow 64-byte datagrams read and translated whole arrive as exactly those datagrams',
      async () => {
        // The host setting an operator turns on for this (UDP GRO forwarding on the uplink);
        // the runs themselves are sent as UDP GSO so that each reaches the TUN device whole.
        ns(gateway, 'ethtool', '-K', `gc${id}`, 'gro', 'on', 'rx-udp-gro-forwarding', 'on');
        // The server verifies every datagram's checksum in software; the gateway segments.
        await withUdpSink('7003', async (sink, before) => {
          const csumBefore = csumErrors('Udp', server);
          const runs = 50;
          const perRun = 40;
          const r = nsRun(
            client,
            [PY, GSO_SEND, SERVER6, '7003', String(runs), String(perRun)],
            30_000,
          );
          expect(r.stdout.trim()).toBe(`sent ${runs * perRun}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
          await sink.stop('SIGTERM');
          const m = /got (\d+) bad (\d+) reordered (\d+) flows (\d+)/.exec(sink.output());
          // Exactly the datagrams sent: none lost, merged, split or reordered, each with its
          // own 64-byte content, and every UDP checksum verified by the server's stack.
          expect(Number(m?.[1])).toBe(runs * perRun);
          expect(Number(m?.[2])).toBe(0);
          expect(Number(m?.[3])).toBe(0);
          expect(Number(m?.[4])).toBe(1);
          expect(csumErrors('Udp', server) - csumBefore).toBe(0);
          const after = stats();
          const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
          // Each run was read as one UDP GSO packet and written as one UDP/IPv4 GSO packet.
          expect(d('nat64d_tun_uso_in_total')).toBe(runs);
          expect(d('nat64d_tun_uso_out_total')).toBe(runs);
          expect(d('nat64d_translated6to4_total')).toBe(runs * perRun);
        });
      },
      40_000,
    );

    it.runIf(process.env.NAT64D_BENCH === '1')(
      'bulk TCP throughput (NAT64D_BENCH=1)',
      () => {
        const bytes = 200 * 1024 * 1024;
        const start = process.hrtime.bigint();
        const r = nsRun(
          client,
          [node, PEER, 'tcp-client', SERVER6, '8080', String(bytes), '2001:db8:1::2'],
          120_000,
        );
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        expect(r.stdout.trim()).toBe(`198.18.0.2 ${bytes}`);
        console.log(
          `nat64d bulk TCP: ${bytes} bytes in ${seconds.toFixed(2)} s = ${((bytes * 8) / seconds / 1e6).toFixed(0)} Mbit/s`,
        );
      },
      130_000,
    );

    it('UDP round trip', async () => {
      const r = nsRun(client, [node, PEER, 'udp-client', SERVER6, '5353', '2001:db8:1::2']);
      expect(r.stdout.trim()).toBe('198.18.0.2 24');
      await servers[1]?.waitFor('udp 198.18.0.2 24', 3000);
    });

    it('UDP to a closed IPv4 port comes back as ECONNREFUSED (ICMP port unreachable translated)', () => {
      const r = nsRun(client, [node, PEER, 'udp-client', SERVER6, '9', '2001:db8:1::2']);
      expect(r.stdout.trim()).toBe('error ECONNREFUSED');
    });

    it('path MTU: a DF IPv4 packet too big for the TUN MTU gets Fragmentation Needed (mtu 1480); one that fits goes through whole', () => {
      // 1472 bytes of ICMP data -> a 1500-byte IPv4 packet -> 1520 bytes as IPv6 > 1500.
      const r = nsRun(server, [
        'ping',
        '-4',
        '-c',
        '2',
        '-i',
        '0.3',
        '-W',
        '2',
        '-M',
        'do',
        '-s',
        '1472',
        '198.51.100.10',
      ]);
      expect(r.stdout + r.stderr).toMatch(/mtu ?= ?1480/);
      // 1400 bytes of IPv4 (1420 as IPv6) fit the next hop: offlink-mtu 1280 is only for
      // DF-clear packets (RFC 7915 §4.1), so this one is neither refused nor fragmented.
      const ok = nsRun(server, [
        'ping',
        '-4',
        '-c',
        '1',
        '-W',
        '2',
        '-M',
        'do',
        '-s',
        '1372',
        '198.51.100.10',
      ]);
      expect(ok.stdout).toContain('1 received');
    });

    it('nat64d stats reads the running daemon counters', () => {
      const r = nsRun(gateway, [node, BIN, 'stats', '--json']);
      expect(r.code).toBe(0);
      const stats = JSON.parse(r.stdout) as Record<string, number>;
      expect(stats.nat64d_translated6to4_total).toBeGreaterThan(10);
      expect(stats.nat64d_translated4to6_total).toBeGreaterThan(10);
      expect(stats.nat64d_dynamic_pool_mappings).toBe(2);
      expect(stats.nat64d_icmp4_errors_sent_total).toBeGreaterThanOrEqual(1);
      const script =
        "fetch('http://127.0.0.1:9164/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))";
      const metrics = nsRun(gateway, [node, '-e', script]);
      expect(metrics.stdout).toContain('# TYPE nat64d_translated6to4_total counter');
      expect(metrics.stdout).toMatch(/^nat64d_dynamic_pool_mappings 2$/m);
    });

    it('a restart keeps the dynamic mappings (the server sees the same IPv4 source)', async () => {
      await daemon?.stop('SIGTERM');
      expect(daemon?.child.exitCode).toBe(0);
      const saved = readFileSync(join(dataDir, 'dynamic.map'), 'utf8');
      expect(saved).toMatch(/^198\.18\.0\.2 2001:db8:1::2 \d+$/m);
      daemon = await startDaemon();
      expect(daemon.output()).toContain('restored 2 dynamic mapping(s)');
      // ::2 speaks first after the restart; without the saved table it would get 198.18.0.1.
      const r = nsRun(client, [node, PEER, 'tcp-client', SERVER6, '8080', '1000', '2001:db8:1::2']);
      expect(r.stdout.trim()).toBe('198.18.0.2 1000');
      const u = nsRun(client, [node, PEER, 'udp-client', SERVER6, '5353', '2001:db8:1::3']);
      expect(u.stdout.trim()).toBe('198.18.0.1 24');
    }, 30_000);

    it('SIGHUP reloads the map lines', async () => {
      const text = readFileSync(confFile, 'utf8').replace(
        'map 198.51.100.10 2001:db8:1::10',
        'map 198.51.100.11 2001:db8:1::10',
      );
      writeFileSync(confFile, text);
      daemon?.child.kill('SIGHUP');
      await daemon?.waitFor('reloaded 1 map line(s)');
      const r = nsRun(client, [node, PEER, 'tcp-client', SERVER6, '8080', '10', '2001:db8:1::10']);
      expect(r.stdout.trim()).toBe('198.51.100.11 10');
      expect(ns(gateway, 'ip', '-4', 'route', 'show', 'dev', 'nat64')).not.toMatch(
        /198\.51\.100\.10\b/,
      );
    });
  },
);
