/**
 * What the operator is told, end to end through the real daemon (issue 14):
 *
 *   client 2001:db8:1::10, ::20 ---- gateway (nat64d) ---- server 203.0.113.2
 *
 * Run A: the Well-Known Prefix with `-d` and a data-dir whose dynamic.map has a line that no
 * longer fits: the start note, the line kept aside, the ICMPv6 administratively prohibited
 * error (exact bytes, written with raw sockets by packets.py) and the -d drop line.
 * Run B: a network-specific prefix on the same data-dir: Tayga's "assigned new pool address"
 * line for a new host, and nat64d_unmapped_ipv4_total still 0 after traffic both ways.
 * Then a start without CAP_NET_ADMIN (as nobody, in a namespace of its own).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addNetns,
  delNetns,
  makeNat64Topology,
  netnsUnavailable,
  nsRun,
  spawnInNs,
  suffix,
  type Nat64Topology,
  type NsProcess,
} from '../helpers/netns.js';
import { icmp6msg, ipv6, udp6 } from '../core/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const BIN = join(pkg, 'bin/nat64d.js');
const PACKETS = join(here, 'packets.py');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const node = process.execPath;

const CLIENT = '2001:db8:1::10';
const CLIENT_NEW = '2001:db8:1::20';
const OWN6 = '2001:db8:ff::1';
const WKP_SERVER = '64:ff9b::cb00:7102'; // 203.0.113.2: documentation, not global

const skip =
  netnsUnavailable(['ip', 'ping', 'setpriv']) ??
  (existsSync(join(pkg, 'build/Release/tun.node')) ? null : 'addon not built') ??
  (hasPython() ? null : 'no python3');

function hasPython(): boolean {
  try {
    execFileSync(PY, ['-c', 'import socket'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

const NOTE =
  'nat64d: note: prefix 64:ff9b::/96 is the Well-Known Prefix: packets to or from non-global ' +
  'IPv4 addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 and every other ' +
  'range the IANA special-purpose registry does not mark globally reachable) will be dropped ' +
  '(RFC 6052 section 3.1), and IPv6 senders get ICMPv6 Destination Unreachable ' +
  '(administratively prohibited). To reach such addresses, use a network-specific prefix of ' +
  'your own instead of 64:ff9b::/96';

describe.skipIf(skip !== null)(
  `nat64d tells the operator (issue 14)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let topo: Nat64Topology;
    let daemon: NsProcess | null = null;
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-op-'));
    const dataDir = join(dir, 'data');
    const conf = join(dir, 'tayga.conf');
    const lastUse = Math.floor(Date.now() / 1000);

    const write = (prefix: string[]) =>
      writeFileSync(
        conf,
        [
          'tun-device nat64',
          'ipv4-addr 192.0.2.1',
          ...prefix,
          'dynamic-pool 198.18.0.0/24',
          `data-dir ${dataDir}`,
          '',
        ].join('\n'),
      );

    beforeAll(() => {
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg]);
      topo = makeNat64Topology([`${CLIENT}/64`, `${CLIENT_NEW}/64`]);
    }, 60_000);

    afterAll(async () => {
      await daemon?.stop();
      topo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('Well-Known Prefix: the note at start, the saved line kept aside, the ICMPv6 error, the -d line', async () => {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(
        join(dataDir, 'dynamic.map'),
        `198.18.0.5 ${CLIENT} ${lastUse}\n198.19.0.9 2001:db8:1::99 ${lastUse}\n`,
      );
      write([`ipv6-addr ${OWN6}`, 'prefix 64:ff9b::/96']);
      daemon = spawnInNs(topo.gateway, [node, BIN, '-c', conf, '-d']);
      await daemon.waitFor('translating on');
      const lines = daemon.output().split('\n');
      expect(lines).toContain(NOTE);

      // The line that no longer fits is kept aside, and the log says where.
      const aside = readdirSync(dataDir).filter((f) => f.startsWith('dynamic.map.rejected-'));
      expect(aside).toHaveLength(1);
      expect(aside[0]).toMatch(/^dynamic\.map\.rejected-\d{8}T\d{6}Z$/);
      expect(lines).toContain(
        `nat64d: restored 1 dynamic mapping(s) from ${dataDir}/dynamic.map; 1 no longer fit the ` +
          `configuration (198.19.0.9: outside the dynamic-pool), kept aside in ${dataDir}/${aside[0]}`,
      );
      const kept = readFileSync(join(dataDir, aside[0]!), 'utf8').split('\n');
      expect(kept.slice(1)).toEqual([
        '# ipv4 ipv6 last-use-unix-seconds  # why',
        `198.19.0.9 2001:db8:1::99 ${lastUse}  # outside the dynamic-pool`,
        '',
      ]);

      // A UDP datagram to 64:ff9b::203.0.113.2: ICMPv6 Destination Unreachable, code 1.
      const tag = Uint8Array.from(Buffer.from(`nat64d-wkp-${suffix()}`));
      const sent = ipv6({
        src: CLIENT,
        dst: WKP_SERVER,
        nh: 17,
        hop: 64,
        payload: udp6(CLIENT, WKP_SERVER, tag, 40001, 7000),
      });
      const cap = spawnInNs(topo.client, [PY, PACKETS, 'capture', topo.clientDev, hex(tag), '30']);
      try {
        await cap.waitFor('ready');
        const r = nsRun(topo.client, [PY, PACKETS, 'send', hex(sent)]);
        expect(r.stderr + r.stdout.trim()).toBe('sent 1');
        await cap.waitFor(/^(end|timeout)$/m, 35_000);
      } finally {
        await cap.stop('SIGKILL');
      }
      const got = cap
        .output()
        .split('\n')
        .filter((l) => /^[0-9a-f]{40,}$/.test(l))
        .map(unhex);
      // As nat64d got it (Hop Limit 63 after the gateway), quoted whole; the error crosses
      // the gateway once (64 - 1).
      const quoted = sent.slice();
      quoted[7] = 63;
      const expected = ipv6({
        src: OWN6,
        dst: CLIENT,
        nh: 58,
        hop: 63,
        payload: icmp6msg(OWN6, CLIENT, 1, 1, 0, quoted),
      });
      expect(hex(got[got.length - 1]!)).toBe(hex(expected));

      // -d: the first drop of the reason, named.
      await daemon.waitFor('drop_wkpf_non_global:', 10_000);
      expect(daemon.output().split('\n')).toContain(
        'nat64d: debug: drop_wkpf_non_global: 1 packet dropped (first of this reason): a ' +
          'non-global IPv4 address under the Well-Known Prefix 64:ff9b::/96 (wkpf-strict, RFC ' +
          '6052 3.1); an IPv6 sender gets Destination Unreachable, administratively prohibited',
      );
      const stats = JSON.parse(
        nsRun(topo.gateway, [node, BIN, 'stats', '--json']).stdout,
      ) as Record<string, number>;
      expect(stats.nat64d_drop_wkpf_non_global_total).toBe(1);
      expect(stats.nat64d_icmp6_errors_sent_total).toBe(1);
      expect(await daemon.stop()).toBe(0);
      daemon = null;
    }, 90_000);

    it('a new dynamic-pool mapping is logged as Tayga does; replies do not count as unmapped', async () => {
      write(['prefix 2001:db8:64::/96']);
      daemon = spawnInNs(topo.gateway, [node, BIN, '-c', conf]);
      await daemon.waitFor('translating on');
      expect(daemon.output()).toContain(
        `nat64d: restored 1 dynamic mapping(s) from ${dataDir}/dynamic.map\n`,
      );
      for (const src of [CLIENT, CLIENT_NEW]) {
        const r = nsRun(
          topo.client,
          ['ping', '-6', '-c', '1', '-W', '5', '-I', src, '2001:db8:64::cb00:7102'],
          20_000,
        );
        expect(r.code).toBe(0);
      }
      await daemon.waitFor('assigned new pool address');
      const assigned = daemon
        .output()
        .split('\n')
        .filter((l) => l.includes('pool address'));
      // The restored host keeps 198.18.0.5 without a line; the new one gets the first free.
      expect(assigned).toEqual([`nat64d: assigned new pool address 198.18.0.1 (${CLIENT_NEW})`]);
      const stats = JSON.parse(
        nsRun(topo.gateway, [node, BIN, 'stats', '--json']).stdout,
      ) as Record<string, number>;
      expect(stats.nat64d_translated4to6_total).toBe(2); // one echo reply each
      expect(stats.nat64d_unmapped_ipv4_total).toBe(0);
      expect(await daemon.stop()).toBe(0);
      daemon = null;
    }, 90_000);

    // The unprivileged user must be able to read this checkout (a clone inside a private 0700
    // directory, such as mktemp -d makes, is not), or node fails before nat64d runs at all.
    it.skipIf(!readableByNobody(BIN))('without CAP_NET_ADMIN it says so', () => {
      const own = `n64op-${suffix()}`;
      addNetns(own);
      try {
        chmodSync(dir, 0o755);
        writeFileSync(
          conf,
          'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\nmetrics off\n',
        );
        chmodSync(conf, 0o644);
        const r = nsRun(own, [
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          node,
          BIN,
          '-c',
          conf,
        ]);
        expect(r.code).toBe(1);
        // The kernel's refusal comes at open(2) when /dev/net/tun is not world-writable (some
        // containers), else at TUNSETIFF (a Debian host: crw-rw-rw-).
        const need =
          'nat64d needs CAP_NET_ADMIN (run as root or grant the capability) to open /dev/net/tun: ';
        expect([
          `${need}open /dev/net/tun: Permission denied\n`,
          `${need}TUNSETIFF: Operation not permitted\n`,
        ]).toContain(r.stderr);
      } finally {
        delNetns(own);
      }
    });
  },
);

/** Whether uid/gid 65534 (nobody) can read `path`, every directory above it included. */
function readableByNobody(path: string): boolean {
  try {
    execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', path],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
}
