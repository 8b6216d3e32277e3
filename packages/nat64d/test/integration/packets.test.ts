/**
 * Packet-level cases from translators' public bug reports (issue 13), end to end through the
 * real daemon in network namespaces built here, in stateless and in stateful mode:
 *
 *   client 2001:db8:1::10 ---- gateway (nat64d on TUN "nat64", mtu 1500) ---- server 203.0.113.2
 *
 * Prefix 2001:db8:64::/96 (the server is 2001:db8:64::cb00:7102), translator 192.0.2.1.
 * Stateless: map 198.51.100.10 <-> 2001:db8:1::10. Stateful: pool4 198.51.100.8 61000-65535
 * (the client's UDP port 61010 lies in the range and is kept). Every link is 1500 bytes,
 * offlink-mtu is Tayga's default 1280.
 *
 * Packets are written with raw sockets (test/integration/packets.py, plain python3) exactly
 * as built here, and every packet received on the far veth is compared byte for byte with the
 * one RFC 7915 gives (the IPv4 Identification nat64d picks is read back, the header checksum
 * then has to match too). Nothing here waits for "no packet": each exchange ends with a marker
 * packet sent after the others along the same path, and nat64d handles packets in order, so
 * whatever was to arrive has arrived when the marker does.
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
import {
  bytes,
  concat,
  icmp,
  ip4,
  ip6,
  ipv4,
  ipv6,
  pseudo4,
  pseudo6,
  u16,
  udp,
  udp4,
  udp6,
} from '../core/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '../..');
const BIN = join(pkg, 'bin/nat64d.js');
const PACKETS = join(here, 'packets.py');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const node = process.execPath;

const CLIENT = '2001:db8:1::10';
const SERVER4 = '203.0.113.2';
const SERVER6 = '2001:db8:64::cb00:7102';
const OWN4 = '192.0.2.1';
const OWN6 = '2001:db8:64::c000:201'; // ipv4-addr inside the prefix (derived)
const CPORT = 61010;
const SPORT = 7000;
/** Both directions cross the gateway's kernel twice and nat64d once: TTL/Hop Limit - 3. */
const HOPS = 3;
const RATE = 10; // icmp-error-rate 10 10

const skip =
  netnsUnavailable(['ip', 'nft']) ??
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
const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s));

const MODES = [
  {
    mode: 'stateless',
    client4: '198.51.100.10',
    conf: ['dynamic-pool 198.18.0.0/24', 'map 198.51.100.10 2001:db8:1::10'],
  },
  { mode: 'stateful', client4: '198.51.100.8', conf: ['pool4 198.51.100.8 61000-65535'] },
] as const;

describe.skipIf(skip !== null)(
  `nat64d at the packet level (issue 13)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    beforeAll(() => {
      execFileSync(node, [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', pkg]);
    }, 60_000);

    describe.each(MODES)('$mode', ({ mode, client4: CLIENT4, conf }) => {
      let topo: Nat64Topology;
      let daemon: NsProcess | null = null;
      const dir = mkdtempSync(join(tmpdir(), 'nat64d-pkt-'));
      let markers = 0;

      const stats = (): Record<string, number> => {
        const r = nsRun(topo.gateway, [node, BIN, 'stats', '--json']);
        expect(r.code).toBe(0);
        return JSON.parse(r.stdout) as Record<string, number>;
      };
      const delta = (before: Record<string, number>, after: Record<string, number>, k: string) =>
        (after[`nat64d_${k}_total`] ?? 0) - (before[`nat64d_${k}_total`] ?? 0);

      /** A UDP datagram client -> server (through the prefix) or server -> client. */
      const fromClient = (data: Uint8Array, hop = 64, dport = SPORT) =>
        ipv6({
          src: CLIENT,
          dst: SERVER6,
          nh: 17,
          hop,
          payload: udp6(CLIENT, SERVER6, data, CPORT, dport),
        });
      const fromServer = (data: Uint8Array, df = false) =>
        ipv4({
          src: SERVER4,
          dst: CLIENT4,
          proto: 17,
          df,
          payload: udp4(SERVER4, CLIENT4, data, SPORT, CPORT),
        });
      const marker = () => text(`nat64d-marker-${mode}-${++markers}`);

      /**
       * Starts a capture on `side`'s veth, sends `packets` then a marker from the other side
       * (or `markerPacket`), and returns every IPv4/IPv6 packet received before the marker.
       */
      async function exchange(
        side: 'client' | 'server',
        packets: Uint8Array[],
        markerPacket?: { packet: Uint8Array; tag: Uint8Array; from: 'client' | 'server' },
      ): Promise<Uint8Array[]> {
        const tag = markerPacket?.tag ?? marker();
        const last =
          markerPacket?.packet ?? (side === 'server' ? fromClient(tag) : fromServer(tag));
        const senderSide = markerPacket?.from ?? (side === 'server' ? 'client' : 'server');
        const nsOf = (s: 'client' | 'server') => (s === 'client' ? topo.client : topo.server);
        const dev = side === 'client' ? topo.clientDev : topo.serverDev;
        const cap = spawnInNs(nsOf(side), [PY, PACKETS, 'capture', dev, hex(tag), '30']);
        try {
          await cap.waitFor('ready');
          const r = nsRun(nsOf(senderSide), [PY, PACKETS, 'send', ...[...packets, last].map(hex)]);
          expect(r.stderr + r.stdout.trim()).toBe(`sent ${packets.length + 1}`);
          await cap.waitFor(/^(end|timeout)$/m, 35_000);
        } finally {
          await cap.stop('SIGKILL');
        }
        const lines = cap.output().split('\n');
        expect(lines).toContain('end');
        const got = lines.filter((l) => /^[0-9a-f]{40,}$/.test(l)).map(unhex);
        return got.slice(0, -1); // the marker was the last one
      }

      /** Only the UDP/ICMP traffic of this test (no Neighbour Discovery, no ARP noise). */
      const ipv6Of = (pkts: Uint8Array[], nh: number) =>
        pkts.filter((p) => p[0]! >> 4 === 6 && p[6] === nh && !(nh === 58 && p[40]! >= 133));
      const ipv4Of = (pkts: Uint8Array[], proto: number) =>
        pkts.filter((p) => p[0]! >> 4 === 4 && p[9] === proto);

      beforeAll(async () => {
        topo = makeNat64Topology([`${CLIENT}/64`]);
        const confFile = join(dir, 'tayga.conf');
        writeFileSync(
          confFile,
          [
            'tun-device nat64',
            `ipv4-addr ${OWN4}`,
            'prefix 2001:db8:64::/96',
            ...conf,
            'offlink-mtu 1280',
            // Tayga 0.9.4+ keys nat64d has no behaviour for: warnings, not a start failure.
            'log drop reject icmp self',
            'workers 2',
            `icmp-error-rate ${RATE} ${RATE}`,
            '',
          ].join('\n'),
        );
        daemon = spawnInNs(topo.gateway, [node, BIN, '-c', confFile]);
        await daemon.waitFor('translating on');
        // Stateful: the client's UDP binding CLIENT#61010 (RFC 6146 §3.5.1), made once.
        const opened = await exchange('server', []);
        expect(ipv4Of(opened, 17)).toEqual([]);
      }, 60_000);

      afterAll(async () => {
        await daemon?.stop();
        topo?.destroy();
        rmSync(dir, { recursive: true, force: true });
      });

      it('a tayga.conf with Tayga 0.9.4 keys starts, naming each key it only accepts', () => {
        const out = daemon!.output();
        expect(out).toContain(
          `warning: ${join(dir, 'tayga.conf')}:${conf.length + 5}: log drop reject icmp self: nat64d does not log packets`,
        );
        expect(out).toContain(
          `warning: ${join(dir, 'tayga.conf')}:${conf.length + 6}: workers 2: ignored`,
        );
      });

      it('path MTU: a TCP download from a server whose firewall drops ICMP does not stall (1480-byte DF segments)', async () => {
        // Before: every full-size DF segment got Fragmentation Needed 1260, which this
        // server never sees, so the download stalled. 1480 + 20 fits the 1500-byte next hop.
        const table = 'nat64d_test_noicmp';
        nsRun(topo.server, [
          'nft',
          `add table ip ${table}; add chain ip ${table} in { type filter hook input priority 0; }; ` +
            `add rule ip ${table} in icmp type destination-unreachable drop`,
        ]);
        const srv = spawnInNs(topo.server, [PY, PACKETS, 'tcp-serve', '8080', '300000']);
        try {
          await srv.waitFor('listening');
          const r = nsRun(topo.client, [PY, PACKETS, 'tcp-fetch', SERVER6, '8080', '30'], 40_000);
          expect(r.stdout.trim()).toBe('300000');
        } finally {
          await srv.stop('SIGKILL');
          nsRun(topo.server, ['nft', `delete table ip ${table}`]);
        }
      }, 60_000);

      it('path MTU, IPv4 -> IPv6: a 1400-byte DF datagram arrives whole (1420 bytes); Packet Too Big 1400 comes back as Fragmentation Needed 1380', async () => {
        const data = bytes(1372, 3);
        const big = fromServer(data, true);
        expect(big.length).toBe(1400);
        const got = ipv6Of(await exchange('client', [big]), 17);
        const expected = ipv6({
          src: SERVER6,
          dst: CLIENT,
          nh: 17,
          hop: 64 - HOPS,
          payload: udp6(SERVER6, CLIENT, data, SPORT, CPORT),
        });
        expect(got.map(hex)).toEqual([hex(expected)]);

        // A router on the IPv6 side (here the client's own address) reports MTU 1400 for it.
        const quoted = got[0]!.subarray(0, 1280 - 48);
        const ptb = ipv6({
          src: CLIENT,
          dst: SERVER6,
          nh: 58,
          payload: icmp(
            2,
            0,
            1400,
            quoted,
            pseudo6(ip6(CLIENT), ip6(SERVER6), 58, 8 + quoted.length),
          ),
        });
        // (Only Fragmentation Needed: the client's own Port Unreachable for the datagram may
        // come by as well.)
        const back = ipv4Of(await exchange('server', [ptb]), 1).filter(
          (p) => p[20] === 3 && p[21] === 4,
        );
        expect(back).toHaveLength(1);
        // RFC 7915 §5.2: min(1400 - 20, IPv4 next hop 1500, IPv6 next hop 1500 - 20) = 1380.
        const inner = ipv4({
          src: SERVER4,
          dst: CLIENT4,
          proto: 17,
          ttl: 64 - HOPS,
          id: 0,
          df: true,
          payload: udp4(SERVER4, CLIENT4, data, SPORT, CPORT),
        }).subarray(0, 576 - 28);
        const fragNeeded = ipv4({
          src: CLIENT4,
          dst: SERVER4,
          proto: 1,
          ttl: 64 - HOPS,
          id: u16(back[0]!, 4),
          payload: icmp(3, 4, 1380, inner, null),
        });
        expect(hex(back[0]!)).toBe(hex(fragNeeded));
      });

      it('path MTU, IPv4 -> IPv6: the same 1400 bytes with DF clear are fragmented to offlink-mtu (1280), the other rule', async () => {
        const data = bytes(1372, 4);
        const small = ipv4({
          src: SERVER4,
          dst: CLIENT4,
          proto: 17,
          id: 0x2a2a,
          payload: udp4(SERVER4, CLIENT4, data, SPORT, CPORT),
        });
        const got = ipv6Of(await exchange('client', [small]), 44);
        const seg6 = udp6(SERVER6, CLIENT, data, SPORT, CPORT);
        const piece = (at: number, len: number, more: boolean) =>
          ipv6({
            src: SERVER6,
            dst: CLIENT,
            nh: 44,
            hop: 64 - HOPS,
            payload: concat(
              Uint8Array.of(17, 0, at >> 8, (at & 0xf8) | (more ? 1 : 0), 0, 0, 0x2a, 0x2a),
              seg6.subarray(at, at + len),
            ),
          });
        expect(got.map(hex)).toEqual([hex(piece(0, 1232, true)), hex(piece(1232, 148, false))]);
      });

      it('path MTU, IPv6 -> IPv4: a 1500-byte packet leaves as one 1480-byte DF packet; Fragmentation Needed 1400 comes back as Packet Too Big 1420', async () => {
        const data = bytes(1452, 5);
        const big = fromClient(data);
        expect(big.length).toBe(1500);
        const got = ipv4Of(await exchange('server', [big]), 17);
        expect(got).toHaveLength(1);
        const expected = ipv4({
          src: CLIENT4,
          dst: SERVER4,
          proto: 17,
          ttl: 64 - HOPS,
          df: true, // RFC 7915 §5.1: DF set above 1260 bytes
          id: u16(got[0]!, 4),
          payload: udp4(CLIENT4, SERVER4, data, CPORT, SPORT),
        });
        expect(hex(got[0]!)).toBe(hex(expected));

        // A router on the IPv4 side (here the server) reports MTU 1400 for it.
        const quoted = got[0]!.subarray(0, 576 - 28);
        const fn = ipv4({
          src: SERVER4,
          dst: CLIENT4,
          proto: 1,
          id: 0x4242,
          payload: icmp(3, 4, 1400, quoted, null),
        });
        const back = ipv6Of(await exchange('client', [fn]), 58).filter((p) => p[40] === 2);
        // RFC 7915 §4.2: min(1400 + 20, IPv6 next hop 1500, IPv4 next hop 1500 + 20) = 1420.
        const inner = ipv6({
          src: CLIENT,
          dst: SERVER6,
          nh: 17,
          hop: 64 - HOPS,
          payload: udp6(CLIENT, SERVER6, data, CPORT, SPORT),
        }).subarray(0, 40 + 576 - 48);
        const ptb = ipv6({
          src: SERVER6,
          dst: CLIENT,
          nh: 58,
          hop: 64 - HOPS,
          payload: icmp(
            2,
            0,
            1420,
            inner,
            pseudo6(ip6(SERVER6), ip6(CLIENT), 58, 8 + inner.length),
          ),
        });
        expect(back.map(hex)).toEqual([hex(ptb)]);
      });

      it('a source inside the NAT64 prefix is discarded silently (RFC 6146 §3.5)', async () => {
        const before = stats();
        const src = '2001:db8:64::c612:5';
        const spoofed = (dst: string) =>
          ipv6({ src, dst, nh: 17, payload: udp6(src, dst, text('spoofed'), CPORT, SPORT) });
        const got = await exchange('server', [spoofed(SERVER6), spoofed('2001:db8:64::c612:2')]);
        expect(ipv4Of(got, 17)).toEqual([]);
        const after = stats();
        expect(delta(before, after, 'drop_source_in_prefix')).toBe(2);
        if (mode === 'stateless') expect(after.nat64d_dynamic_pool_mappings).toBe(0);
      });

      it('destinations that are not unicast are dropped and counted (RFC 1812 §5.3.5.1, §5.3.7, RFC 3927 §7)', async () => {
        const before = stats();
        const targets = [
          '255.255.255.255',
          '224.0.0.251',
          '127.0.0.1',
          '0.0.0.1',
          '169.254.1.1',
          '240.0.0.1',
        ];
        const pkts = targets.map((v4) => {
          const dst = `2001:db8:64::${v4}`;
          return ipv6({
            src: CLIENT,
            dst,
            nh: 17,
            payload: udp6(CLIENT, dst, text('x'), CPORT, 5353),
          });
        });
        const got = await exchange('server', pkts);
        expect(ipv4Of(got, 17)).toEqual([]);
        const after = stats();
        expect(delta(before, after, 'drop_non_unicast_destination')).toBe(targets.length);
      });

      it('fragments whose Fragment header is followed by Destination Options are all dropped (RFC 7915 §5.1)', async () => {
        const before = stats();
        const whole = udp6(CLIENT, SERVER6, bytes(64, 9), CPORT, SPORT);
        const destOpts = Uint8Array.of(17, 0, 1, 4, 0, 0, 0, 0);
        const frag = (offset: number, more: boolean) =>
          Uint8Array.of(60, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0x51, 0x13);
        const first = ipv6({
          src: CLIENT,
          dst: SERVER6,
          nh: 44,
          payload: concat(frag(0, true), destOpts, whole.subarray(0, 32)),
        });
        const second = ipv6({
          src: CLIENT,
          dst: SERVER6,
          nh: 44,
          payload: concat(frag(40, false), whole.subarray(32)),
        });
        const got = await exchange('server', [first, second]);
        expect(ipv4Of(got, 17)).toEqual([]);
        const after = stats();
        expect(delta(before, after, 'drop_extension_after_fragment')).toBe(2);
      });

      it('fragments, IPv4 -> IPv6: a 3000-byte UDP answer in three IPv4 fragments (the second first) arrives as exact IPv6 fragments (RFC 7915 §4.1, RFC 6146 §3.4)', async () => {
        const data = bytes(2972, 13);
        const seg = udp(SPORT, CPORT, data, pseudo4(ip4(SERVER4), ip4(CLIENT4), 17, 2980));
        const frags = [0, 1480, 2960].map((at) =>
          ipv4({
            src: SERVER4,
            dst: CLIENT4,
            proto: 17,
            id: 0x3000,
            mf: at + 1480 < seg.length,
            fragOffset: at,
            payload: seg.subarray(at, Math.min(at + 1480, seg.length)),
          }),
        );
        const got = ipv6Of(await exchange('client', [frags[1]!, frags[0]!, frags[2]!]), 44);
        // Each IPv4 fragment becomes IPv6 fragments of at most offlink-mtu (1280) bytes.
        const seg6 = udp(SPORT, CPORT, data, pseudo6(ip6(SERVER6), ip6(CLIENT), 17, 2980));
        const piece = (at: number, len: number) =>
          ipv6({
            src: SERVER6,
            dst: CLIENT,
            nh: 44,
            hop: 64 - HOPS,
            payload: concat(
              Uint8Array.of(17, 0, at >> 8, (at & 0xf8) | (at + len < 2980 ? 1 : 0), 0, 0, 0x30, 0),
              seg6.subarray(at, at + len),
            ),
          });
        const first = [piece(0, 1232), piece(1232, 248)];
        const second = [piece(1480, 1232), piece(2712, 248)];
        const third = [piece(2960, 20)];
        // Stateless translates each fragment as it comes; stateful holds the second until the
        // first (which carries the ports) has gone through the session tables.
        const order =
          mode === 'stateless' ? [...second, ...first, ...third] : [...first, ...second, ...third];
        expect(got.map(hex)).toEqual(order.map(hex));
      });

      it('fragments, IPv6 -> IPv4: a 3000-byte datagram in three IPv6 fragments (the second first) arrives as exact IPv4 fragments', async () => {
        const data = bytes(2972, 17);
        const seg = udp(CPORT, SPORT, data, pseudo6(ip6(CLIENT), ip6(SERVER6), 17, 2980));
        const frag = (at: number) => {
          const len = Math.min(1232, seg.length - at);
          const more = at + len < seg.length;
          return ipv6({
            src: CLIENT,
            dst: SERVER6,
            nh: 44,
            payload: concat(
              Uint8Array.of(17, 0, at >> 8, (at & 0xf8) | (more ? 1 : 0), 0, 0xa1, 0xb2, 0xc3),
              seg.subarray(at, at + len),
            ),
          });
        };
        const got = ipv4Of(await exchange('server', [frag(1232), frag(0), frag(2464)]), 17);
        const seg4 = udp(CPORT, SPORT, data, pseudo4(ip4(CLIENT4), ip4(SERVER4), 17, 2980));
        // RFC 7915 §5.1.1: the low 16 bits of the Identification, offset and MF copied, DF clear.
        const piece = (at: number) =>
          ipv4({
            src: CLIENT4,
            dst: SERVER4,
            proto: 17,
            ttl: 64 - HOPS,
            id: 0xb2c3,
            mf: at + 1232 < seg4.length,
            fragOffset: at,
            payload: seg4.subarray(at, Math.min(at + 1232, seg4.length)),
          });
        const order = mode === 'stateless' ? [1232, 0, 2464] : [0, 1232, 2464];
        expect(got.map(hex)).toEqual(order.map((at) => hex(piece(at))));
      });

      it("fragments through the end hosts' own stacks: a 2972-byte UDP datagram arrives whole, both ways", async () => {
        const toClient = spawnInNs(topo.client, [
          PY,
          PACKETS,
          'udp-recv',
          '6',
          String(CPORT),
          '20',
        ]);
        try {
          await toClient.waitFor('listening');
          const r = nsRun(topo.server, [
            PY,
            PACKETS,
            'udp-send',
            CLIENT4,
            String(CPORT),
            String(SPORT),
            '2972',
          ]);
          expect(r.stdout.trim()).toBe('sent');
          await toClient.waitFor(/(ok|bad|timeout)\n/, 25_000);
          expect(toClient.output()).toContain(`${SERVER6} ${SPORT} 2972 ok`);
        } finally {
          await toClient.stop('SIGKILL');
        }
        const toServer = spawnInNs(topo.server, [PY, PACKETS, 'udp-recv', '4', '7002', '20']);
        try {
          await toServer.waitFor('listening');
          const r = nsRun(topo.client, [PY, PACKETS, 'udp-send', SERVER6, '7002', '61020', '2972']);
          expect(r.stdout.trim()).toBe('sent');
          await toServer.waitFor(/(ok|bad|timeout)\n/, 25_000);
          // Stateful: 61020 lies in the pool4 range and is free, so it is kept.
          expect(toServer.output()).toContain(`${CLIENT4} 61020 2972 ok`);
        } finally {
          await toServer.stop('SIGKILL');
        }
      }, 60_000);

      it('ICMP errors are rate limited: 300 expiring packets in one burst get at most burst + rate x time Time Exceeded, in both families', async () => {
        // IPv6: hop limit 2, so the gateway's kernel forwards it with 1 and nat64d expires it.
        const before = stats();
        const expiring = fromClient(text('expiring'), 2);
        const tag = marker();
        const echo = ipv6({
          src: CLIENT,
          dst: OWN6,
          nh: 58,
          payload: icmp(128, 0, 0x770001, tag, pseudo6(ip6(CLIENT), ip6(OWN6), 58, 8 + tag.length)),
        });
        let start = performance.now();
        const got6 = ipv6Of(
          await exchange('client', Array<Uint8Array>(300).fill(expiring), {
            packet: echo,
            tag,
            from: 'client',
          }),
          58,
        );
        let seconds = (performance.now() - start) / 1000;
        const exceeded = got6.filter((p) => p[40] === 3);
        expect(exceeded.length).toBeGreaterThanOrEqual(1);
        expect(exceeded.length).toBeLessThanOrEqual(RATE + Math.ceil(RATE * seconds));
        // Each one is exactly RFC 4443 §3.3's message about the packet nat64d received.
        const seen = fromClient(text('expiring'), 1);
        const te = ipv6({
          src: OWN6,
          dst: CLIENT,
          nh: 58,
          hop: 63,
          payload: icmp(3, 0, 0, seen, pseudo6(ip6(OWN6), ip6(CLIENT), 58, 8 + seen.length)),
        });
        for (const p of exceeded) expect(hex(p)).toBe(hex(te));
        let after = stats();
        expect(delta(before, after, 'drop_hop_limit')).toBe(300);
        expect(delta(before, after, 'icmp6_errors_sent')).toBe(exceeded.length);
        expect(delta(before, after, 'icmp_errors_rate_limited')).toBe(300 - exceeded.length);

        // IPv4: TTL 2 from the server, Time Exceeded from 192.0.2.1.
        const before4 = after;
        const expiring4 = ipv4({
          src: SERVER4,
          dst: CLIENT4,
          proto: 17,
          ttl: 2,
          payload: udp4(SERVER4, CLIENT4, text('expiring'), SPORT, CPORT),
        });
        const tag4 = marker();
        const ping4 = ipv4({
          src: SERVER4,
          dst: OWN4,
          proto: 1,
          payload: icmp(8, 0, 0x770002, tag4, null),
        });
        start = performance.now();
        const got4 = ipv4Of(
          await exchange('server', Array<Uint8Array>(300).fill(expiring4), {
            packet: ping4,
            tag: tag4,
            from: 'server',
          }),
          1,
        );
        seconds = (performance.now() - start) / 1000;
        const exceeded4 = got4.filter((p) => p[20] === 11);
        expect(exceeded4.length).toBeGreaterThanOrEqual(1);
        expect(exceeded4.length).toBeLessThanOrEqual(RATE + Math.ceil(RATE * seconds));
        after = stats();
        expect(delta(before4, after, 'drop_hop_limit')).toBe(300);
        expect(delta(before4, after, 'icmp4_errors_sent')).toBe(exceeded4.length);
        expect(delta(before4, after, 'icmp_errors_rate_limited')).toBe(300 - exceeded4.length);
      }, 60_000);
    });
  },
);
