/**
 * pool4 on the gateway's own uplink address (the design's ISP gateway, Jool's setup), and the
 * runtime view and changes of the stateful tables, in network namespaces built here:
 *
 *   clients (IPv6 only)              gateway (nat64d)                         server (IPv4 only)
 *   2001:db8:1::100 ... ::103 ---- 2001:db8:1::1 | 203.0.113.1 ------------- 203.0.113.2
 *
 * pool4 is 203.0.113.1 61000-65535, the gateway's own address on the server side; the
 * gateway's ephemeral ports stay at 32768-60999. NAT64 prefix 2001:db8:64::/96.
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
  ns,
  nsRun,
  spawnInNs,
  type Nat64Topology,
  type NsProcess,
} from '../helpers/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const PEER = join(here, 'peer.mjs');
const BIN = join(pkg, 'bin/nat64d.js');
const SERVER6 = '2001:db8:64::cb00:7102'; // 203.0.113.2 inside the prefix
const UPLINK = '203.0.113.1';
const node = process.execPath;
const CLIENTS = ['2001:db8:1::100', '2001:db8:1::101', '2001:db8:1::102', '2001:db8:1::103'];
/** A server on the IPv6 side behind the static bib line added by SIGHUP. */
const STATIC_HOST = '2001:db8:1::104';

function skipReason(): string | null {
  const reason = netnsUnavailable(['ip', 'ping', 'nft', 'curl']);
  if (reason) return reason;
  if (!existsSync(join(pkg, 'build/Release/tun.node')))
    return 'addon not built (npm run build:native)';
  return null;
}
const skip = skipReason();

const CONF = [
  'tun-device nat64',
  'ipv4-addr 192.0.2.1',
  'prefix 2001:db8:64::/96',
  `pool4 ${UPLINK} 61000-65535`,
];

/** "203.0.113.1#61234 24" -> [address, port]. */
function seen(answer: string): [string, number] {
  const m = /^(\S+)#(\d+) \d+$/.exec(answer.trim());
  if (!m) throw new Error(`unexpected answer "${answer}"`);
  return [m[1]!, Number(m[2])];
}

describe.skipIf(skip !== null)(
  `nat64d: pool4 on the gateway's own address${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let topo: Nat64Topology;
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-hp-'));
    const confFile = join(dir, 'tayga.conf');
    let daemon: NsProcess | null = null;
    const servers: NsProcess[] = [];
    const gw = (...args: string[]) => nsRun(topo.gateway, args);
    const cli = (...args: string[]) => gw(node, BIN, ...args);
    const rules = () =>
      ns(topo.gateway, 'ip', '-4', 'rule', 'show')
        .trim()
        .split('\n')
        .map((l) => l.replace(/\s+/g, ' ').trim());

    beforeAll(async () => {
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg], {
        stdio: 'inherit',
      });
      topo = makeNat64Topology([...CLIENTS, STATIC_HOST].map((a) => `${a}/64`));
      ns(topo.gateway, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=32768 60999');
      writeFileSync(confFile, [...CONF, ''].join('\n'));
      const web = spawnInNs(topo.server, [
        node,
        '-e',
        "require('node:http').createServer((q, r) => r.end(`page for ${q.socket.remoteAddress}#${q.socket.remotePort}\\n`)).listen(80, '203.0.113.2', () => console.log('listening'))",
      ]);
      const tcp = spawnInNs(topo.server, [node, PEER, 'tcp-port-server', '8080']);
      const udp = spawnInNs(topo.server, [node, PEER, 'udp-port-server', '5353']);
      const echo = spawnInNs(topo.server, [node, PEER, 'tcp-echo-server', '7000']);
      servers.push(web, tcp, udp, echo);
      await Promise.all(servers.map((s) => s.waitFor('listening')));
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) await s.stop('SIGKILL');
      await daemon?.stop();
      topo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses to start while the ephemeral port range overlaps pool4, saying how to narrow it', async () => {
      ns(topo.gateway, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=32768 64000');
      try {
        const r = cli('-c', confFile);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          'nat64d: pool4 203.0.113.1 tcp 61000-65535, 203.0.113.1 udp 61000-65535 overlaps ' +
            "the host's ephemeral ports (net.ipv4.ip_local_port_range 32768 64000) on an " +
            'address of this host; narrow them with sysctl -w ' +
            'net.ipv4.ip_local_port_range="32768 60999" (and in /etc/sysctl.d to keep it), ' +
            'or set pool4-port-overlap warn\n',
        );
        // Nothing was installed.
        expect(gw('nft', 'list', 'table', 'inet', 'nat64d').code).not.toBe(0);
        expect(rules()).toContain('0: from all lookup local');
        // pool4-port-overlap warn: it starts, with the same message as a warning.
        writeFileSync(confFile, [...CONF, 'pool4-port-overlap warn', ''].join('\n'));
        const warned = spawnInNs(topo.gateway, [node, BIN, '-c', confFile]);
        await warned.waitFor('translating on');
        expect(warned.output()).toContain(
          'nat64d: warning: pool4 203.0.113.1 tcp 61000-65535, 203.0.113.1 udp 61000-65535 overlaps',
        );
        const code = await warned.stop('SIGTERM');
        expect(code).toBe(0);
      } finally {
        writeFileSync(confFile, [...CONF, ''].join('\n'));
        ns(topo.gateway, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=32768 60999');
      }
    });

    it('starts and steers only the pool4 ports of its own address into the TUN device', async () => {
      daemon = spawnInNs(topo.gateway, [node, BIN, '-c', confFile]);
      await daemon.waitFor('translating on');
      expect(daemon.output()).toContain(
        `pool4 on this host's address ${UPLINK}: its pool4 ports are steered into nat64`,
      );
      expect(rules()).toEqual([
        '10: from all fwmark 0x6464 lookup 6464',
        '11: from all lookup local',
        '32766: from all lookup main',
        '32767: from all lookup default',
      ]);
      expect(ns(topo.gateway, 'ip', '-4', 'route', 'show', 'table', '6464').trim()).toBe(
        'default dev nat64 scope link',
      );
      // No route of the uplink address into the device: the kernel keeps the rest for itself.
      expect(ns(topo.gateway, 'ip', '-4', 'route', 'show', 'dev', 'nat64')).not.toContain(UPLINK);
      const nft = ns(topo.gateway, 'nft', 'list', 'table', 'inet', 'nat64d');
      for (const rule of [
        'iifname "nat64" ip saddr 203.0.113.1 ct mark set 0x00006464 return',
        'iifname != "nat64" ip daddr 203.0.113.1 tcp dport 61000-65535 meta mark set 0x00006464 return',
        'iifname != "nat64" ip daddr 203.0.113.1 udp dport 61000-65535 meta mark set 0x00006464 return',
        'iifname != "nat64" ip daddr 203.0.113.1 icmp type echo-reply icmp id 61000-65535 meta mark set 0x00006464 return',
        'iifname != "nat64" ip daddr 203.0.113.1 ct mark 0x00006464 meta mark set 0x00006464',
      ]) {
        expect(nft).toContain(rule);
      }
    });

    it('carries TCP, UDP and ping from several IPv6 hosts on the uplink address', () => {
      const ports = new Set<number>();
      for (const src of CLIENTS) {
        const t = nsRun(topo.client, [node, PEER, 'tcp-client', SERVER6, '8080', '3000', src]);
        const [addr, port] = seen(t.stdout);
        expect(addr).toBe(UPLINK);
        expect(port >= 61000 && port <= 65535).toBe(true);
        const u = nsRun(topo.client, [node, PEER, 'udp-client', SERVER6, '5353', src]);
        const [uaddr, uport] = seen(u.stdout);
        expect(uaddr).toBe(UPLINK);
        expect(uport >= 61000 && uport <= 65535).toBe(true);
        ports.add(port);
      }
      expect(ports.size).toBe(CLIENTS.length);
      for (const src of CLIENTS.slice(0, 2)) {
        const p = nsRun(topo.client, [
          'ping',
          '-6',
          '-c',
          '2',
          '-i',
          '0.2',
          '-W',
          '2',
          '-I',
          src,
          SERVER6,
        ]);
        expect(p.stdout).toContain('2 packets transmitted, 2 received');
      }
    });

    it('ICMP errors about what left from the uplink address come back (conntrack mark)', () => {
      // Nothing listens on UDP 9: the server's Port Unreachable to 203.0.113.1 is steered
      // into the TUN device by its conntrack mark and reaches the client as ICMPv6.
      const r = nsRun(topo.client, [node, PEER, 'udp-client', SERVER6, '9', CLIENTS[1]!]);
      expect(r.stdout.trim()).toBe('error ECONNREFUSED');
    });

    it("the gateway's own traffic on the same address keeps working (a port below 61000)", () => {
      const r = gw('curl', '-sS', '--max-time', '5', 'http://203.0.113.2/');
      expect(r.code).toBe(0);
      const m = /^page for 203\.0\.113\.1#(\d+)$/.exec(r.stdout.trim());
      expect(m).not.toBeNull();
      const port = Number(m![1]);
      expect(port >= 32768 && port <= 60999).toBe(true);
      // And the IPv6 clients still get through afterwards.
      const t = nsRun(topo.client, [node, PEER, 'tcp-client', SERVER6, '8080', '10', CLIENTS[0]!]);
      expect(seen(t.stdout)[0]).toBe(UPLINK);
    });

    it('SIGHUP adds a pool4 range and a bib line; a live TCP session survives; sessions and bib show them', async () => {
      const hold = spawnInNs(topo.client, [
        node,
        PEER,
        'tcp-hold-client',
        SERVER6,
        '7000',
        CLIENTS[3]!,
        '4',
      ]);
      await hold.waitFor('connected');
      const live = cli('sessions', '--proto', 'tcp', '--addr', '203.0.113.2');
      expect(live.code).toBe(0);
      const lines = live.stdout.trimEnd().split('\n');
      const row = lines.find((l) => l.includes('#7000 '));
      expect(row).toMatch(
        /^tcp +2001:db8:1::103#\d+ +203\.0\.113\.1#6\d{4} +203\.0\.113\.2#7000 +ESTABLISHED +2:0[34]:\d\d$/,
      );
      expect(lines[0]).toMatch(
        /^PROTO +IPV6 HOST#PORT +POOL4#PORT +REMOTE#PORT +STATE +EXPIRES IN$/,
      );
      expect(lines.at(-1)).toMatch(/^\d+ of \d+ sessions?$/);

      writeFileSync(
        confFile,
        [
          ...CONF,
          'pool4 198.51.100.8 udp 2000-2999',
          `bib tcp ${STATIC_HOST}#8000 ${UPLINK}#8000`,
          '',
        ].join('\n'),
      );
      daemon!.child.kill('SIGHUP');
      await daemon!.waitFor('reloaded 0 map line(s); pool4/bib:');
      expect(daemon!.output()).toContain('pool4/bib: 2 pool4 line(s), 1 bib line(s),');
      expect(daemon!.output()).toMatch(
        /static added, 0 ended that no longer fit \(0 session\(s\)\)/,
      );
      // The new pool4 address is routed into the device; the static port is steered.
      expect(ns(topo.gateway, 'ip', '-4', 'route', 'show', 'dev', 'nat64')).toMatch(
        /^198\.51\.100\.8 /m,
      );
      expect(ns(topo.gateway, 'nft', 'list', 'table', 'inet', 'nat64d')).toContain(
        'iifname != "nat64" ip daddr 203.0.113.1 tcp dport 8000 meta mark set 0x00006464 return',
      );
      await hold.waitFor(/echoed \d+ of \d+/, 15_000);
      const m = /echoed (\d+) of (\d+)/.exec(hold.output())!;
      expect(Number(m[1])).toBe(Number(m[2]));
      expect(Number(m[2])).toBeGreaterThanOrEqual(30);

      const bib = cli('bib', '--json', '--proto', 'tcp', '--addr', STATIC_HOST);
      expect(bib.code).toBe(0);
      const all = JSON.parse(cli('bib', '--json').stdout) as { total: number };
      expect(JSON.parse(bib.stdout)).toEqual({
        stateful: true,
        total: all.total,
        bib: [
          {
            proto: 'tcp',
            ipv6: STATIC_HOST,
            port6: 8000,
            ipv4: UPLINK,
            port4: 8000,
            static: true,
            sessions: 0,
          },
        ],
      });
      expect(cli('bib', '--proto', 'tcp', '--addr', STATIC_HOST).stdout).toBe(
        [
          'PROTO  IPV6 HOST#PORT        POOL4#PORT        KIND    SESSIONS',
          'tcp    2001:db8:1::104#8000  203.0.113.1#8000  static  0',
          `1 of ${all.total} bindings`,
          '',
        ].join('\n'),
      );
    }, 30_000);

    it('a static binding on the uplink address is reachable from IPv4 (port outside the range)', async () => {
      const listener = spawnInNs(topo.client, [
        node,
        '-e',
        `require('node:net').createServer((s) => s.end('hi')).listen(8000, '${STATIC_HOST}', () => console.log('listening'))`,
      ]);
      try {
        await listener.waitFor('listening');
        const r = nsRun(topo.server, [node, PEER, 'tcp4-probe-client', UPLINK, '8000']);
        expect(r.stdout.trim()).toBe('connected');
      } finally {
        await listener.stop('SIGKILL');
      }
    });

    it('SIGHUP with a pool4 range inside the ephemeral ports is refused; the running pool4 stays', async () => {
      const good = [
        ...CONF,
        'pool4 198.51.100.8 udp 2000-2999',
        `bib tcp ${STATIC_HOST}#8000 ${UPLINK}#8000`,
        '',
      ].join('\n');
      writeFileSync(confFile, good.replace('\n\n', '\n') + `pool4 ${UPLINK} udp 40000-40100\n`);
      daemon!.child.kill('SIGHUP');
      await daemon!.waitFor('pool4/bib changes refused');
      expect(daemon!.output()).toContain(
        'reloaded 0 map line(s); pool4/bib changes refused, the running ones kept: pool4 ' +
          "203.0.113.1 udp 40000-40100 overlaps the host's ephemeral ports " +
          '(net.ipv4.ip_local_port_range 32768 60999) on an address of this host; narrow them ' +
          'with sysctl -w net.ipv4.ip_local_port_range="32768 39999" (and in /etc/sysctl.d to ' +
          'keep it), or set pool4-port-overlap warn',
      );
      const nft = ns(topo.gateway, 'nft', 'list', 'table', 'inet', 'nat64d');
      expect(nft).not.toContain('40000-40100');
      expect(nft).toContain('tcp dport 8000 meta mark set');
      writeFileSync(confFile, good);
    });

    it('after a crash a restart replaces the leftovers; a clean exit removes everything', async () => {
      await daemon!.stop('SIGKILL');
      // The crashed daemon's rules and table are still there.
      expect(rules()).toContain('10: from all fwmark 0x6464 lookup 6464');
      daemon = spawnInNs(topo.gateway, [node, BIN, '-c', confFile]);
      await daemon.waitFor('translating on');
      expect(rules()).toEqual([
        '10: from all fwmark 0x6464 lookup 6464',
        '11: from all lookup local',
        '32766: from all lookup main',
        '32767: from all lookup default',
      ]);
      expect(ns(topo.gateway, 'nft', 'list', 'ruleset').match(/table inet nat64d/g)).toHaveLength(
        1,
      );
      const t = nsRun(topo.client, [node, PEER, 'tcp-client', SERVER6, '8080', '10', CLIENTS[1]!]);
      expect(seen(t.stdout)[0]).toBe(UPLINK);
      expect(await daemon.stop('SIGTERM')).toBe(0);
      daemon = null;
      expect(rules()).toEqual([
        '0: from all lookup local',
        '32766: from all lookup main',
        '32767: from all lookup default',
      ]);
      expect(gw('nft', 'list', 'table', 'inet', 'nat64d').code).not.toBe(0);
      expect(ns(topo.gateway, 'ip', '-4', 'route', 'show', 'table', '6464').trim()).toBe('');
      expect(gw('curl', '-sS', '--max-time', '5', 'http://203.0.113.2/').stdout).toMatch(
        /^page for 203\.0\.113\.1#\d+/,
      );
    }, 30_000);
  },
);
