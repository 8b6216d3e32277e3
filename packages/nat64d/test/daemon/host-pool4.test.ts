/** pool4 on the host's own address (steering, ephemeral check) and `nat64d sessions` / `bib`. */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { parseTaygaConf } from '../../src/config/index.js';
import { ephemeralOverlap, hostRanges, steeringRuleset } from '../../src/daemon/host-pool4.js';
import { startMetricsServer } from '../../src/daemon/metrics.js';

const conf = (...lines: string[]) =>
  parseTaygaConf(
    ['tun-device nat64', 'ipv4-addr 192.0.2.1', 'prefix 2001:db8:64::/96', ...lines, ''].join('\n'),
    '/t.conf',
  );
const UPLINK = 0xcb007101; // 203.0.113.1

describe('pool4 on an address of the host', () => {
  const c = conf(
    'pool4 203.0.113.0/31 61000-65535',
    'pool4 198.51.100.8 udp 1024-65535',
    'bib tcp 2001:db8:1::5#80 203.0.113.1#8080',
  );

  it('takes only the host addresses of pool4 lines, and their static bib ports', () => {
    expect(hostRanges(c, new Set([UPLINK]))).toEqual([
      { addr: UPLINK, proto: 'tcp', first: 61000, last: 65535, bib: false },
      { addr: UPLINK, proto: 'udp', first: 61000, last: 65535, bib: false },
      { addr: UPLINK, proto: 'icmp', first: 61000, last: 65535, bib: false },
      { addr: UPLINK, proto: 'tcp', first: 8080, last: 8080, bib: true },
    ]);
    expect(hostRanges(c, new Set([0x0a000001]))).toEqual([]);
    expect(hostRanges(conf('map 192.0.2.10 2001:db8:1::10'), new Set([UPLINK]))).toEqual([]);
  });

  it('compares TCP and UDP ranges (not ICMP identifiers, not bib ports) with the ephemeral range', () => {
    const ranges = hostRanges(c, new Set([UPLINK]));
    expect(ephemeralOverlap(ranges, [32768, 60999])).toBeNull();
    expect(ephemeralOverlap(ranges, [8000, 9000])).toBeNull();
    expect(ephemeralOverlap(ranges, [61000, 61000])).toBe(
      "pool4 203.0.113.1 tcp 61000-65535, 203.0.113.1 udp 61000-65535 overlaps the host's " +
        'ephemeral ports (net.ipv4.ip_local_port_range 61000 61000) on an address of this ' +
        'host; narrow them with sysctl -w net.ipv4.ip_local_port_range="FIRST LAST" with LAST ' +
        'below 61000 (and in /etc/sysctl.d to keep it), or set pool4-port-overlap warn',
    );
    const icmp = hostRanges(conf('pool4 203.0.113.1 icmp 0-65535'), new Set([UPLINK]));
    expect(ephemeralOverlap(icmp, [1024, 65535])).toBeNull();
  });

  it('writes one atomic nftables script that replaces the table', () => {
    expect(steeringRuleset('nat64', hostRanges(c, new Set([UPLINK])))).toBe(
      [
        'table inet nat64d',
        'delete table inet nat64d',
        'table inet nat64d {',
        '  chain prerouting {',
        '    type filter hook prerouting priority mangle; policy accept;',
        '    iifname "nat64" ip saddr { 203.0.113.1 } ct mark set 0x6464 return',
        '    iifname != "nat64" ip daddr 203.0.113.1 tcp dport 61000-65535 meta mark set 0x6464 return',
        '    iifname != "nat64" ip daddr 203.0.113.1 udp dport 61000-65535 meta mark set 0x6464 return',
        '    iifname != "nat64" ip daddr 203.0.113.1 icmp type echo-reply icmp id 61000-65535 meta mark set 0x6464 return',
        '    iifname != "nat64" ip daddr 203.0.113.1 tcp dport 8080 meta mark set 0x6464 return',
        '    iifname != "nat64" ip daddr { 203.0.113.1 } ct mark 0x6464 meta mark set 0x6464',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('nat64d sessions and nat64d bib', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
  };
  const SESSION = {
    proto: 'tcp',
    ipv6: '2001:db8:1::5',
    port6: 40000,
    ipv4: '203.0.113.1',
    port4: 61000,
    remote4: '198.51.100.7',
    remotePort: 443,
    state: 'ESTABLISHED',
    expiresIn: 7439,
  };
  const PING = {
    proto: 'icmp',
    ipv6: '2001:db8:1::6',
    port6: 7,
    ipv4: '203.0.113.1',
    port4: 61001,
    remote4: '198.51.100.7',
    remotePort: 0,
    state: null,
    expiresIn: 59,
  };

  async function withDaemon(run: (listen: string, queries: string[]) => Promise<void>) {
    const queries: string[] = [];
    const server = await startMetricsServer(
      '127.0.0.1',
      0,
      () => [],
      (path, q) => {
        queries.push(`${path}?${q.toString()}`);
        if (path === '/sessions') return { stateful: true, total: 5, sessions: [SESSION, PING] };
        if (path === '/bib')
          return {
            stateful: true,
            total: 1,
            bib: [
              {
                proto: 'udp',
                ipv6: '2001:db8:1::5',
                port6: 53,
                ipv4: '203.0.113.1',
                port4: 53,
                static: true,
                sessions: 0,
              },
            ],
          };
        return undefined;
      },
    );
    try {
      await run(`127.0.0.1:${(server.address() as AddressInfo).port}`, queries);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('prints one line per session and a count, passing the filters to the daemon', async () => {
    await withDaemon(async (listen, queries) => {
      const t = io();
      expect(
        await main(
          ['sessions', '--metrics', listen, '--proto', 'TCP', '--addr', '2001:DB8:1:0::5'],
          t.io,
        ),
      ).toBe(0);
      expect(queries).toEqual(['/sessions?proto=tcp&addr=2001%3Adb8%3A1%3A%3A5']);
      expect(t.out.join('')).toBe(
        [
          'PROTO  IPV6 HOST#PORT       POOL4#PORT         REMOTE#PORT       STATE        EXPIRES IN',
          'tcp    2001:db8:1::5#40000  203.0.113.1#61000  198.51.100.7#443  ESTABLISHED  2:03:59',
          'icmp   2001:db8:1::6#7      203.0.113.1#61001  198.51.100.7#0    -            0:00:59',
          '2 of 5 sessions',
          '',
        ].join('\n'),
      );
      const b = io();
      expect(await main(['bib', '--metrics', listen], b.io)).toBe(0);
      expect(b.out.join('')).toBe(
        [
          'PROTO  IPV6 HOST#PORT    POOL4#PORT      KIND    SESSIONS',
          'udp    2001:db8:1::5#53  203.0.113.1#53  static  0',
          '1 binding',
          '',
        ].join('\n'),
      );
      const j = io();
      expect(await main(['bib', '--json', '--metrics', listen], j.io)).toBe(0);
      expect(JSON.parse(j.out.join(''))).toMatchObject({ stateful: true, total: 1 });
    });
  });

  it('refuses a bad --proto or --addr (usage, exit 2)', async () => {
    const t = io();
    expect(await main(['sessions', '--proto', 'sctp'], t.io)).toBe(2);
    expect(await main(['bib', '--addr', '2001:db8::/64'], t.io)).toBe(2);
    expect(t.err.join('')).toBe(
      'nat64d: --proto sctp: expected tcp, udp or icmp\n' +
        'nat64d: --addr 2001:db8::/64: not an IPv4 or IPv6 address\n',
    );
  });
});
