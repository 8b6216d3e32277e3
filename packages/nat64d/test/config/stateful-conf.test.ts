import { describe, expect, it } from 'vitest';
import { ConfigError, formatIpv4, formatIpv6, parseTaygaConf } from '../../src/config/index.js';

const FILE = '/etc/tayga.conf';
const BASE = ['tun-device nat64', 'ipv4-addr 192.0.2.1', 'prefix 2001:db8:64::/96'];
const conf = (...extra: string[]) => [...BASE, ...extra].join('\n') + '\n';

function errorsOf(text: string): string[] {
  try {
    parseTaygaConf(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('tayga.conf: stateful NAT64 keys', () => {
  it('no pool4 line: stateless (stateful is null)', () => {
    expect(parseTaygaConf(conf(), FILE).stateful).toBeNull();
  });

  it('pool4 lines switch to stateful mode with RFC 6146 defaults', () => {
    const c = parseTaygaConf(conf('pool4 198.51.100.0/30 61000-65535'), FILE);
    const s = c.stateful!;
    expect(s.pool4).toHaveLength(1);
    expect(formatIpv4(s.pool4[0]!.net.addr)).toBe('198.51.100.0');
    expect(s.pool4[0]).toMatchObject({ first: 61000, last: 65535, line: 4 });
    expect(s.pool4[0]!.protocols).toEqual(['tcp', 'udp', 'icmp']);
    expect(s).toMatchObject({
      udpTimeout: 300,
      tcpEstTimeout: 7440,
      tcpTransTimeout: 240,
      icmpTimeout: 60,
      addressDependentFiltering: false,
      maxSessions: 1_000_000,
      maxSessionsPerHost: 4096,
      logMappings: false,
      pool4PortOverlap: 'refuse',
      bib: [],
    });
  });

  it('parses every stateful key', () => {
    const c = parseTaygaConf(
      conf(
        'pool4 198.51.100.1 tcp 61000-65535',
        'POOL4 198.51.100.1 UDP 1024-65535  # comment after a blank',
        'pool4 203.0.113.0/24 icmp 0-65535',
        'bib tcp 2001:db8:1::5#80 198.51.100.1#8080',
        'bib icmp 2001:db8:1::5#0 203.0.113.9#7',
        'udp-timeout 600',
        'tcp-est-timeout 86400',
        'tcp-trans-timeout 300',
        'icmp-timeout 30',
        'address-dependent-filtering yes',
        'max-sessions 2000000',
        'max-sessions-per-host 1000',
        'log-mappings /var/log/nat64d-mappings.log',
        'pool4-port-overlap WARN',
      ),
      FILE,
    );
    const s = c.stateful!;
    expect(s.pool4.map((p) => [p.protocols, p.first, p.last])).toEqual([
      [['tcp'], 61000, 65535],
      [['udp'], 1024, 65535],
      [['icmp'], 0, 65535],
    ]);
    expect(
      s.bib.map((b) => [b.protocol, formatIpv6(b.ipv6), b.port6, formatIpv4(b.ipv4), b.port4]),
    ).toEqual([
      ['tcp', '2001:db8:1::5', 80, '198.51.100.1', 8080],
      ['icmp', '2001:db8:1::5', 0, '203.0.113.9', 7],
    ]);
    expect(s).toMatchObject({
      udpTimeout: 600,
      tcpEstTimeout: 86400,
      tcpTransTimeout: 300,
      icmpTimeout: 30,
      addressDependentFiltering: true,
      maxSessions: 2_000_000,
      maxSessionsPerHost: 1000,
      logMappings: '/var/log/nat64d-mappings.log',
      pool4PortOverlap: 'warn',
    });
    expect(
      parseTaygaConf(conf('pool4 198.51.100.1 1-2', 'log-mappings yes'), FILE).stateful
        ?.logMappings,
    ).toBe(true);
  });

  const P = 'pool4 198.51.100.1 61000-65535';
  const cases: Array<[string, string[], string]> = [
    ['pool4 arity', ['pool4 198.51.100.1'], `${FILE}:4: pool4: expects 2 or 3 values, found 1`],
    [
      'pool4 bad address',
      ['pool4 198.51.100.300 1-2'],
      `${FILE}:4: pool4 198.51.100.300 1-2: not an IPv4 address`,
    ],
    [
      'pool4 too large',
      ['pool4 198.0.0.0/15 1-2'],
      `${FILE}:4: pool4 198.0.0.0/15 1-2: at most 65536 addresses (/16 or longer)`,
    ],
    [
      'pool4 host bits',
      ['pool4 198.51.100.1/24 1-2'],
      `${FILE}:4: pool4 198.51.100.1/24 1-2: host bits set beyond /24`,
    ],
    [
      'pool4 protocol',
      ['pool4 198.51.100.1 sctp 1-2'],
      `${FILE}:4: pool4 198.51.100.1 sctp 1-2: unknown protocol "sctp" (tcp, udp or icmp)`,
    ],
    [
      'pool4 range syntax',
      ['pool4 198.51.100.1 61000'],
      `${FILE}:4: pool4 198.51.100.1 61000: expected a port range first-last, found "61000"`,
    ],
    [
      'pool4 range order',
      ['pool4 198.51.100.1 tcp 9-8'],
      `${FILE}:4: pool4 198.51.100.1 tcp 9-8: port range 9-8: first port above last`,
    ],
    [
      'pool4 range max',
      ['pool4 198.51.100.1 1-65536'],
      `${FILE}:4: pool4 198.51.100.1 1-65536: port range 1-65536: ports go up to 65535`,
    ],
    [
      'pool4 port 0',
      ['pool4 198.51.100.1 0-100'],
      `${FILE}:4: pool4 198.51.100.1 0-100: port 0 cannot be used for tcp or udp`,
    ],
    [
      'pool4 reserved',
      ['pool4 127.0.0.1 1-2'],
      `${FILE}:4: pool4 127.0.0.1 1-2: reserved address (loopback, 127.0.0.0/8)`,
    ],
    [
      'pool4 overlap',
      [P, 'pool4 198.51.100.0/30 udp 65000-65100'],
      `${FILE}:5: pool4 198.51.100.0/30 65000-65100: overlaps pool4 on line 4 (udp)`,
    ],
    [
      'pool4 with dynamic-pool',
      ['dynamic-pool 198.18.0.0/24', P],
      `${FILE}:5: dynamic-pool 198.18.0.0/24: not allowed with pool4 (stateful NAT64, line 5); use one or the other`,
    ],
    [
      'pool4 over a map',
      ['map 198.51.100.1 2001:db8:1::1', P],
      `${FILE}:5: pool4 198.51.100.1/32: overlaps map on line 4`,
    ],
    [
      'pool4 over ipv4-addr',
      ['pool4 192.0.2.0/24 1-2'],
      `${FILE}:4: pool4 192.0.2.0/24: contains ipv4-addr 192.0.2.1 (the translator's own address)`,
    ],
    ['bib arity', [P, 'bib tcp 2001:db8:1::5#80'], `${FILE}:5: bib: expects 3 values, found 2`],
    [
      'bib protocol',
      [P, 'bib gre 2001:db8:1::5#80 198.51.100.1#80'],
      `${FILE}:5: bib gre 2001:db8:1::5#80 198.51.100.1#80: unknown protocol "gre" (tcp, udp or icmp)`,
    ],
    [
      'bib no port',
      [P, 'bib tcp 2001:db8:1::5 198.51.100.1#80'],
      `${FILE}:5: bib tcp 2001:db8:1::5 198.51.100.1#80: IPv6 side: expected address#port, found "2001:db8:1::5"`,
    ],
    [
      'bib bad port',
      [P, 'bib tcp 2001:db8:1::5#80 198.51.100.1#70000'],
      `${FILE}:5: bib tcp 2001:db8:1::5#80 198.51.100.1#70000: IPv4 side: bad port "70000" in "198.51.100.1#70000"`,
    ],
    [
      'bib port 0',
      [P, 'bib udp 2001:db8:1::5#0 198.51.100.1#80'],
      `${FILE}:5: bib udp 2001:db8:1::5#0 198.51.100.1#80: port 0 cannot be used for udp`,
    ],
    [
      'bib outside pool4',
      [P, 'bib tcp 2001:db8:1::5#80 198.51.100.2#80'],
      `${FILE}:5: bib tcp 2001:db8:1::5#80 198.51.100.2#80: 198.51.100.2 is not a pool4 address for tcp`,
    ],
    [
      'bib wrong protocol pool',
      ['pool4 198.51.100.1 udp 1-9', 'bib tcp 2001:db8:1::5#80 198.51.100.1#80'],
      `${FILE}:5: bib tcp 2001:db8:1::5#80 198.51.100.1#80: 198.51.100.1 is not a pool4 address for tcp`,
    ],
    [
      'bib in prefix',
      [P, 'bib tcp 2001:db8:64::5#80 198.51.100.1#80'],
      `${FILE}:5: bib tcp 2001:db8:64::5#80 198.51.100.1#80: IPv6 side inside prefix 2001:db8:64::/96`,
    ],
    [
      'bib duplicate 6',
      [P, 'bib tcp 2001:db8:1::5#80 198.51.100.1#80', 'bib tcp 2001:db8:1::5#80 198.51.100.1#81'],
      `${FILE}:6: bib tcp 2001:db8:1::5#80 198.51.100.1#81: IPv6 side already bound on line 5`,
    ],
    [
      'bib duplicate 4',
      [P, 'bib tcp 2001:db8:1::5#80 198.51.100.1#80', 'bib tcp 2001:db8:1::6#80 198.51.100.1#80'],
      `${FILE}:6: bib tcp 2001:db8:1::6#80 198.51.100.1#80: IPv4 side already bound on line 5`,
    ],
    [
      'udp-timeout below RFC',
      [P, 'udp-timeout 60'],
      `${FILE}:5: udp-timeout 60: must be a number of seconds from 120 to 2592000 (RFC 6146 section 3.5.1: at least 2 minutes)`,
    ],
    [
      'tcp-est-timeout below RFC',
      [P, 'tcp-est-timeout 3600'],
      `${FILE}:5: tcp-est-timeout 3600: must be a number of seconds from 7440 to 2592000 (RFC 6146 section 3.5.2.2: at least 2 hours 4 minutes)`,
    ],
    [
      'tcp-trans-timeout below RFC',
      [P, 'tcp-trans-timeout 60'],
      `${FILE}:5: tcp-trans-timeout 60: must be a number of seconds from 240 to 2592000 (RFC 6146 section 3.5.2.2: at least 4 minutes)`,
    ],
    [
      'icmp-timeout not a number',
      [P, 'icmp-timeout 1m'],
      `${FILE}:5: icmp-timeout 1m: must be a number of seconds from 1 to 2592000`,
    ],
    [
      'address-dependent-filtering',
      [P, 'address-dependent-filtering maybe'],
      `${FILE}:5: address-dependent-filtering maybe: expected yes or no`,
    ],
    [
      'max-sessions 0',
      [P, 'max-sessions 0'],
      `${FILE}:5: max-sessions 0: must be a number from 1 to 100000000`,
    ],
    [
      'max-sessions-per-host',
      [P, 'max-sessions-per-host lots'],
      `${FILE}:5: max-sessions-per-host lots: must be a number from 1 to 100000000`,
    ],
    [
      'log-mappings relative',
      [P, 'log-mappings mappings.log'],
      `${FILE}:5: log-mappings mappings.log: expected yes, no or an absolute file path`,
    ],
    [
      'duplicate timeout',
      [P, 'udp-timeout 300', 'udp-timeout 400'],
      `${FILE}:6: udp-timeout: duplicate (first given on line 5)`,
    ],
    [
      'stateful key without pool4',
      ['udp-timeout 300'],
      `${FILE}:4: udp-timeout: only valid with pool4 (stateful NAT64)`,
    ],
    [
      'bib without pool4',
      ['bib tcp 2001:db8:1::5#80 198.51.100.1#80'],
      `${FILE}:4: bib: only valid with pool4 (stateful NAT64)`,
    ],
    [
      'pool4-port-overlap with a bad value',
      [P, 'pool4-port-overlap maybe'],
      `${FILE}:5: pool4-port-overlap maybe: expected refuse or warn`,
    ],
    [
      'pool4-port-overlap without pool4',
      ['pool4-port-overlap warn'],
      `${FILE}:4: pool4-port-overlap: only valid with pool4 (stateful NAT64)`,
    ],
  ];
  it.each(cases)('%s', (_name, extra, expected) => {
    expect(errorsOf(conf(...extra))).toEqual([expected]);
  });
});
