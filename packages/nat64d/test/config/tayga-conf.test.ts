import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  formatIpv4,
  formatIpv6,
  parseTaygaConf,
  readTaygaConf,
  toTranslatorConfig,
} from '../../src/config/index.js';

const FILE = '/etc/tayga.conf';
const BASE = ['tun-device nat64', 'ipv4-addr 192.0.2.1', 'prefix 2001:db8:64::/96'];

function conf(...extra: string[]): string {
  return [...BASE, ...extra].join('\n') + '\n';
}

/** The issues thrown for a file, as `file:line: reason` strings. */
function errorsOf(text: string, env?: string): string[] {
  try {
    parseTaygaConf(text, FILE, { stateDirectory: env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('tayga.conf parser: every key', () => {
  it('parses a minimal file with Tayga defaults', () => {
    const c = parseTaygaConf(conf(), FILE);
    expect(c.tunDevice).toBe('nat64');
    expect(formatIpv4(c.ipv4Addr)).toBe('192.0.2.1');
    expect(c.prefix.length).toBe(96);
    expect(formatIpv6(c.prefix.bytes)).toBe('2001:db8:64::');
    // ipv6-addr derived by embedding ipv4-addr in the prefix
    expect(formatIpv6(c.ipv6Addr)).toBe('2001:db8:64::c000:201');
    expect(c.ipv6AddrDerived).toBe(true);
    expect(c.dynamicPool).toBeNull();
    expect(c.maps).toEqual([]);
    expect(c.dataDir).toBeNull();
    expect(c.strictFragHdr).toBe(false);
    expect(c.wkpfStrict).toBe(true);
    expect(c.udpChecksumMode).toBe('drop');
    expect(c.offlinkMtu).toBe(1280);
    expect(c.tunUp).toBe(true);
    expect(c.tunMtu).toBe(1500);
    expect(c.tunQueueLen).toBe(4096);
    expect(c.metrics).toBe('127.0.0.1:9164');
  });

  it('parses every key, comments, blank lines and case-insensitive keys', () => {
    const text = [
      '# NAT64 gateway',
      '',
      'tun-device   nat64   # trailing comment',
      'IPV4-ADDR 192.0.2.1',
      '\tipv6-addr 2001:db8:1::1',
      'prefix 2001:db8:64::/96',
      'dynamic-pool 198.18.0.0/16',
      'map 198.51.100.10 2001:db8:2::10',
      'map 203.0.113.0/24 2001:db8:3::/120',
      'data-dir /var/lib/tayga/',
      'strict-frag-hdr yes',
      'wkpf-strict off',
      'udp-cksum-mode calc',
      'offlink-mtu 1400',
      'tun-up no',
      'tun-mtu 9000',
      'tun-queue-len 1000',
      'metrics [::1]:9100',
    ].join('\n');
    const c = parseTaygaConf(text, FILE);
    expect(formatIpv6(c.ipv6Addr)).toBe('2001:db8:1::1');
    expect(c.ipv6AddrDerived).toBe(false);
    expect(c.dynamicPool).toEqual({ addr: 0xc6120000, length: 16 });
    expect(
      c.maps.map((m) => [formatIpv4(m.ipv4.addr), m.ipv4.length, m.ipv6.length, m.line]),
    ).toEqual([
      ['198.51.100.10', 32, 128, 8],
      ['203.0.113.0', 24, 120, 9],
    ]);
    expect(c.dataDir).toBe('/var/lib/tayga');
    expect(c.strictFragHdr).toBe(true);
    expect(c.wkpfStrict).toBe(false);
    expect(c.udpChecksumMode).toBe('calc');
    expect(c.offlinkMtu).toBe(1400);
    expect(c.tunUp).toBe(false);
    expect(c.tunMtu).toBe(9000);
    expect(c.tunQueueLen).toBe(1000);
    expect(c.metrics).toBe('[::1]:9100');
  });

  it.each([
    ['drop', 'drop'],
    ['forward', 'forward'],
    ['fwd', 'forward'],
    ['CALC', 'calc'],
  ])('udp-cksum-mode %s', (value, mode) => {
    expect(parseTaygaConf(conf(`udp-cksum-mode ${value}`), FILE).udpChecksumMode).toBe(mode);
  });

  it.each(['yes', 'on', 'true', '1', 'no', 'off', 'false', '0'])('boolean %s', (v) => {
    const expected = ['yes', 'on', 'true', '1'].includes(v);
    const c = parseTaygaConf(conf(`wkpf-strict ${v}`, `strict-frag-hdr ${v}`, `tun-up ${v}`), FILE);
    expect([c.wkpfStrict, c.strictFragHdr, c.tunUp]).toEqual([expected, expected, expected]);
  });

  it.each([32, 40, 48, 56, 64, 96])('accepts prefix length /%i and derives ipv6-addr', (len) => {
    const c = parseTaygaConf(
      ['tun-device nat64', 'ipv4-addr 192.0.2.1', `prefix 2001:db8::/${len}`].join('\n'),
      FILE,
    );
    expect(c.prefix.length).toBe(len);
    const expected: Record<number, string> = {
      32: '2001:db8:c000:201::',
      40: '2001:db8:c0:2:1::',
      48: '2001:db8:0:c000:2:100::',
      56: '2001:db8:0:c0:0:201::',
      64: '2001:db8::c0:2:100:0',
      96: '2001:db8::c000:201',
    };
    expect(formatIpv6(c.ipv6Addr)).toBe(expected[len]);
  });

  it('accepts the Well-Known Prefix with a global ipv4-addr', () => {
    const c = parseTaygaConf(
      ['tun-device nat64', 'ipv4-addr 8.8.8.1', 'prefix 64:ff9b::/96'].join('\n'),
      FILE,
    );
    expect(formatIpv6(c.ipv6Addr)).toBe('64:ff9b::808:801');
  });

  it('uses STATE_DIRECTORY when there is no data-dir, like Tayga', () => {
    const c = parseTaygaConf(conf(), FILE, { stateDirectory: '/var/lib/nat64d:/other' });
    expect(c.dataDir).toBe('/var/lib/nat64d');
    expect(parseTaygaConf(conf('data-dir /srv'), FILE, { stateDirectory: '/x' }).dataDir).toBe(
      '/srv',
    );
  });

  it('translator config', () => {
    const c = parseTaygaConf(conf('offlink-mtu 1400', 'udp-cksum-mode fwd'), FILE);
    const t = toTranslatorConfig(c);
    expect(t.ipv6Mtu).toBe(1400);
    expect(t.tunMtu).toBe(1500);
    expect(t.udpChecksumMode).toBe('forward');
    expect(t.ipv4Addr).toBe(0xc0000201);
    expect(t.prefix).toBe(c.prefix);
    expect(t.wkpfStrict).toBe(true);
    expect(t.strictFragHdr).toBe(false);
  });

  it('reads a file and reports a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-conf-'));
    try {
      const path = join(dir, 'tayga.conf');
      writeFileSync(path, conf('bogus 1'));
      expect(() => readTaygaConf(path)).toThrow(`${path}:4: unknown key "bogus"`);
      expect(() => readTaygaConf(join(dir, 'nope.conf'))).toThrow(
        `${join(dir, 'nope.conf')}: cannot read: ENOENT`,
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('tayga.conf parser: every error with file:line: reason', () => {
  const cases: Array<[string, string[], string]> = [
    [
      'unknown key',
      ['pool6 192.0.2.0/24'],
      '/etc/tayga.conf:4: unknown key "pool6" (did you mean "pool4"?)',
    ],
    [
      'unknown key, did you mean',
      ['dynamic-pol 198.18.0.0/24'],
      '/etc/tayga.conf:4: unknown key "dynamic-pol" (did you mean "dynamic-pool"?)',
    ],
    ['unknown key, nothing near', ['colour blue'], '/etc/tayga.conf:4: unknown key "colour"'],
    ['missing value', ['data-dir'], '/etc/tayga.conf:4: data-dir: expects 1 value, found 0'],
    [
      'extra value',
      ['offlink-mtu 1400 1500'],
      '/etc/tayga.conf:4: offlink-mtu: expects 1 value, found 2',
    ],
    ['map arity', ['map 192.0.2.9'], '/etc/tayga.conf:4: map: expects 2 values, found 1'],
    [
      'duplicate',
      ['ipv4-addr 192.0.2.2'],
      '/etc/tayga.conf:4: ipv4-addr: duplicate (first given on line 2)',
    ],
    [
      'duplicate prefix',
      ['prefix 2001:db8::/33'],
      '/etc/tayga.conf:4: prefix: duplicate (first given on line 3)',
    ],
  ];
  it.each(cases)('%s', (_name, extra, expected) => {
    expect(errorsOf(conf(...extra))).toEqual([expected]);
  });

  function single(lines: string[]): string[] {
    return errorsOf(lines.join('\n'));
  }
  const T = 'tun-device nat64';
  const V4 = 'ipv4-addr 192.0.2.1';
  const P = 'prefix 2001:db8:64::/96';

  it.each([
    [
      [T, V4, 'prefix 2001:db8::/33'],
      '/etc/tayga.conf:3: prefix 2001:db8::/33: RFC 6052 allows only /32, /40, /48, /56, /64 or /96',
    ],
    [
      [T, V4, 'prefix 2001:db8::1/96'],
      '/etc/tayga.conf:3: prefix 2001:db8::1/96: host bits set beyond /96',
    ],
    [
      [T, V4, 'prefix 2001:db8:0:0:ff00::/96'],
      '/etc/tayga.conf:3: prefix 2001:db8:0:0:ff00::/96: bits 64 to 71 must be zero (RFC 6052 section 2.2)',
    ],
    [
      [T, V4, 'prefix 2001:db8::'],
      '/etc/tayga.conf:3: prefix 2001:db8::: expected an IPv6 network (address/length)',
    ],
    [
      [T, V4, 'prefix 2001:db8::/129'],
      '/etc/tayga.conf:3: prefix 2001:db8::/129: bad prefix length "/129"',
    ],
    [
      [T, V4, 'prefix ff00::/32'],
      '/etc/tayga.conf:3: prefix ff00::/32: reserved address (multicast, ff00::/8)',
    ],
    [
      [T, V4, 'prefix 64:ff9b::/64'],
      '/etc/tayga.conf:3: prefix 64:ff9b::/64: the Well-Known Prefix 64:ff9b::/96 is only usable as a /96',
    ],
    [[T, 'ipv4-addr 192.0.2', P], '/etc/tayga.conf:2: ipv4-addr 192.0.2: not an IPv4 address'],
    [
      [T, 'ipv4-addr 127.0.0.1', P],
      '/etc/tayga.conf:2: ipv4-addr 127.0.0.1: reserved address (loopback, 127.0.0.0/8)',
    ],
    [
      [T, 'ipv4-addr 0.1.2.3', P],
      '/etc/tayga.conf:2: ipv4-addr 0.1.2.3: reserved address ("this network", 0.0.0.0/8)',
    ],
    [
      [T, 'ipv4-addr 224.0.0.1', P],
      '/etc/tayga.conf:2: ipv4-addr 224.0.0.1: reserved address (multicast, 224.0.0.0/4)',
    ],
    [
      [T, 'ipv4-addr 255.255.255.255', P],
      '/etc/tayga.conf:2: ipv4-addr 255.255.255.255: reserved address (240.0.0.0/4)',
    ],
    [
      [T, V4, 'ipv6-addr 2001:db8::g', P],
      '/etc/tayga.conf:3: ipv6-addr 2001:db8::g: not an IPv6 address',
    ],
    [
      [T, V4, 'ipv6-addr fe80::1', P],
      '/etc/tayga.conf:3: ipv6-addr fe80::1: reserved address (link-local, fe80::/10)',
    ],
    [
      [T, V4, 'ipv6-addr ::1', P],
      '/etc/tayga.conf:3: ipv6-addr ::1: reserved address (unspecified or loopback)',
    ],
    [
      [T, V4, 'ipv6-addr ::ffff:192.0.2.1', P],
      '/etc/tayga.conf:3: ipv6-addr ::ffff:192.0.2.1: reserved address (IPv4-mapped, ::ffff:0:0/96)',
    ],
    [
      [T, V4, 'ipv6-addr 2001:db8:64::5', P],
      '/etc/tayga.conf:4: ipv6-addr 2001:db8:64::5: inside prefix 2001:db8:64::/96',
    ],
    [
      [T, V4, 'ipv6-addr 64:ff9b::1', 'prefix 2001:db8:64::/96'],
      '/etc/tayga.conf:4: ipv6-addr 64:ff9b::1: inside the Well-Known Prefix 64:ff9b::/96',
    ],
    [
      [T, 'ipv4-addr 192.168.0.1', 'prefix 64:ff9b::/96'],
      '/etc/tayga.conf:2: ipv4-addr 192.168.0.1: not global, so ipv6-addr must be given with prefix 64:ff9b::/96 (RFC 6052 section 3.1)',
    ],
    [
      // Deprecated 6to4 relay anycast (RFC 7526): the registry marks it not Globally Reachable.
      [T, 'ipv4-addr 192.88.99.1', 'prefix 64:ff9b::/96'],
      '/etc/tayga.conf:2: ipv4-addr 192.88.99.1: not global, so ipv6-addr must be given with prefix 64:ff9b::/96 (RFC 6052 section 3.1)',
    ],
    [
      [T, 'tun-device nat65', V4, P],
      '/etc/tayga.conf:2: tun-device: duplicate (first given on line 1)',
    ],
    [
      ['tun-device abcdefghijklmnop', V4, P],
      '/etc/tayga.conf:1: tun-device abcdefghijklmnop: longer than 15 bytes',
    ],
    [['tun-device a/b', V4, P], '/etc/tayga.conf:1: tun-device a/b: not a valid interface name'],
    [
      [T, V4, P, 'dynamic-pool 198.18.0.0'],
      '/etc/tayga.conf:4: dynamic-pool 198.18.0.0: expected an IPv4 network (address/length)',
    ],
    [
      [T, V4, P, 'dynamic-pool 198.18.0.1/24'],
      '/etc/tayga.conf:4: dynamic-pool 198.18.0.1/24: host bits set beyond /24',
    ],
    [
      [T, V4, P, 'dynamic-pool 198.18.0.5/32'],
      '/etc/tayga.conf:4: dynamic-pool 198.18.0.5/32: must be /31 or shorter (its lowest address is reserved)',
    ],
    [
      [T, V4, P, 'dynamic-pool 198.18.0.0/33'],
      '/etc/tayga.conf:4: dynamic-pool 198.18.0.0/33: bad prefix length "/33"',
    ],
    [
      [T, V4, P, 'dynamic-pool 127.0.0.0/24'],
      '/etc/tayga.conf:4: dynamic-pool 127.0.0.0/24: reserved address (loopback, 127.0.0.0/8)',
    ],
    [
      [T, 'ipv4-addr 198.18.0.1', P, 'dynamic-pool 198.18.0.0/31'],
      '/etc/tayga.conf:4: dynamic-pool 198.18.0.0/31: no address left once ipv4-addr is taken out',
    ],
    [
      [T, V4, P, 'map 198.51.100.0/24 2001:db8:1::/112'],
      '/etc/tayga.conf:4: map 198.51.100.0/24 2001:db8:1::/112: the IPv4 and IPv6 sides differ in size (8 and 16 host bits)',
    ],
    [
      [T, V4, P, 'map 198.51.100.1/24 2001:db8:1::/120'],
      '/etc/tayga.conf:4: map 198.51.100.1/24 2001:db8:1::/120: IPv4 side: host bits set beyond /24',
    ],
    [
      [T, V4, P, 'map 198.51.100.0/24 2001:db8:1::1/120'],
      '/etc/tayga.conf:4: map 198.51.100.0/24 2001:db8:1::1/120: IPv6 side: host bits set beyond /120',
    ],
    [
      [T, V4, P, 'map 198.51.100.300 2001:db8:1::1'],
      '/etc/tayga.conf:4: map 198.51.100.300 2001:db8:1::1: IPv4 side: not an IPv4 address',
    ],
    [
      [T, V4, P, 'map 198.51.100.3 2001:db8:1::zz'],
      '/etc/tayga.conf:4: map 198.51.100.3 2001:db8:1::zz: IPv6 side: not an IPv6 address',
    ],
    [
      [T, V4, P, 'map 224.1.1.1 2001:db8:1::1'],
      '/etc/tayga.conf:4: map 224.1.1.1 2001:db8:1::1: IPv4 side: reserved address (multicast, 224.0.0.0/4)',
    ],
    [
      [T, V4, P, 'map 198.51.100.3 ff02::1'],
      '/etc/tayga.conf:4: map 198.51.100.3 ff02::1: IPv6 side: reserved address (multicast, ff00::/8)',
    ],
    [
      [T, V4, P, 'map 198.51.100.3 2001:db8:64::9'],
      '/etc/tayga.conf:4: map 198.51.100.3/32 2001:db8:64::9/128: IPv6 side overlaps prefix 2001:db8:64::/96',
    ],
    [
      [T, V4, P, 'map 198.51.100.0/24 2001:db8:1::/120', 'map 198.51.100.7 2001:db8:2::7'],
      '/etc/tayga.conf:5: map 198.51.100.7/32 2001:db8:2::7/128: IPv4 side overlaps map on line 4',
    ],
    [
      [T, V4, P, 'map 198.51.100.6 2001:db8:2::7', 'map 198.51.100.7 2001:db8:2::7'],
      '/etc/tayga.conf:5: map 198.51.100.7/32 2001:db8:2::7/128: IPv6 side overlaps map on line 4',
    ],
    [
      [T, V4, P, 'map 192.0.2.0/24 2001:db8:1::/120'],
      '/etc/tayga.conf:4: ipv4-addr 192.0.2.1: conflicts with map on line 4',
    ],
    [
      [T, V4, 'ipv6-addr 2001:db8:1::1', P, 'map 198.51.100.0/24 2001:db8:1::/120'],
      '/etc/tayga.conf:5: ipv6-addr 2001:db8:1::1: conflicts with map on line 5',
    ],
    [
      [T, V4, P, 'map 198.18.0.0/16 2001:db8:1::/112', 'dynamic-pool 198.18.0.0/24'],
      '/etc/tayga.conf:5: dynamic-pool 198.18.0.0/24: lies inside map on line 4',
    ],
    [
      [T, V4, P, 'data-dir var/lib/tayga'],
      '/etc/tayga.conf:4: data-dir var/lib/tayga: must be an absolute path',
    ],
    [
      [T, V4, P, 'strict-frag-hdr maybe'],
      '/etc/tayga.conf:4: strict-frag-hdr maybe: expected yes or no',
    ],
    [[T, V4, P, 'wkpf-strict 2'], '/etc/tayga.conf:4: wkpf-strict 2: expected yes or no'],
    [[T, V4, P, 'tun-up sometimes'], '/etc/tayga.conf:4: tun-up sometimes: expected yes or no'],
    [
      [T, V4, P, 'udp-cksum-mode zero'],
      '/etc/tayga.conf:4: udp-cksum-mode zero: expected drop, forward (or fwd) or calc',
    ],
    [
      [T, V4, P, 'offlink-mtu 1279'],
      '/etc/tayga.conf:4: offlink-mtu 1279: must be a number of bytes from 1280 to 65535',
    ],
    [
      [T, V4, P, 'offlink-mtu 65536'],
      '/etc/tayga.conf:4: offlink-mtu 65536: must be a number of bytes from 1280 to 65535',
    ],
    [
      [T, V4, P, 'offlink-mtu 1500b'],
      '/etc/tayga.conf:4: offlink-mtu 1500b: must be a number of bytes from 1280 to 65535',
    ],
    [
      [T, V4, P, 'tun-mtu 576'],
      '/etc/tayga.conf:4: tun-mtu 576: must be a number of bytes from 1280 to 65535',
    ],
    [
      [T, V4, P, 'tun-queue-len 8'],
      '/etc/tayga.conf:4: tun-queue-len 8: must be a number of packets from 16 to 65536',
    ],
    [
      [T, V4, P, 'tun-queue-len 65537'],
      '/etc/tayga.conf:4: tun-queue-len 65537: must be a number of packets from 16 to 65536',
    ],
    [
      [T, V4, P, 'metrics localhost:9164'],
      '/etc/tayga.conf:4: metrics localhost:9164: expected host:port, [ipv6]:port or off',
    ],
    [
      [T, V4, P, 'metrics 127.0.0.1:0'],
      '/etc/tayga.conf:4: metrics 127.0.0.1:0: expected host:port, [ipv6]:port or off',
    ],
  ])('%j', (lines, expected) => {
    expect(single(lines)).toEqual([expected]);
  });

  it('reports missing mandatory directives without a line', () => {
    expect(errorsOf('# empty\n')).toEqual([
      '/etc/tayga.conf: no tun-device directive',
      '/etc/tayga.conf: no ipv4-addr directive',
      '/etc/tayga.conf: no prefix directive (nat64d needs a NAT64 prefix; map-only SIIT is not supported)',
    ]);
  });

  it('reports a relative STATE_DIRECTORY', () => {
    expect(errorsOf(conf(), 'relative/dir')).toEqual([
      '/etc/tayga.conf: STATE_DIRECTORY relative/dir: must be an absolute path',
    ]);
  });

  it('collects every line error in one go', () => {
    expect(errorsOf(conf('foo', 'offlink-mtu 1', 'bar 2'))).toEqual([
      '/etc/tayga.conf:4: unknown key "foo"',
      '/etc/tayga.conf:5: offlink-mtu 1: must be a number of bytes from 1280 to 65535',
      '/etc/tayga.conf:6: unknown key "bar"',
    ]);
  });

  it('allows ipv4-addr and map lines inside the dynamic pool (taken out of it, like Tayga)', () => {
    const c = parseTaygaConf(
      [
        T,
        'ipv4-addr 198.18.0.1',
        P,
        'dynamic-pool 198.18.0.0/24',
        'map 198.18.0.7 2001:db8:2::7',
      ].join('\n'),
      FILE,
    );
    expect(c.dynamicPool?.length).toBe(24);
  });

  it('derives ipv6-addr under the WKP for 192.0.0.9, which the IANA registry marks global', () => {
    const c = parseTaygaConf([T, 'ipv4-addr 192.0.0.9', 'prefix 64:ff9b::/96'].join('\n'), FILE);
    expect(formatIpv6(c.ipv6Addr)).toBe('64:ff9b::c000:9');
  });

  it('accepts a non-strict WKP with a private ipv4-addr', () => {
    const c = parseTaygaConf(
      [T, 'ipv4-addr 192.168.0.1', 'prefix 64:ff9b::/96', 'wkpf-strict no'].join('\n'),
      FILE,
    );
    expect(formatIpv6(c.ipv6Addr)).toBe('64:ff9b::c0a8:1');
  });
});

describe('tayga.conf from Tayga 0.9.4 and later (issue 13)', () => {
  it('a current Tayga file starts: log/workers warn by name, the rest is mapped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-conf-'));
    try {
      writeFileSync(
        join(dir, 'static.map'),
        '# more maps\nmap 192.0.2.20 2001:db8:1::20\nMAP 192.0.2.21 2001:db8:1::21 # c\n',
      );
      const path = join(dir, 'tayga.conf');
      writeFileSync(
        path,
        conf(
          'wkpf-strict no',
          'dynamic-pool 198.18.0.0/24',
          `data-dir ${dir}`,
          'udp-cksum-mode fwd',
          'log drop reject icmp self',
          'offlink-mtu 1492',
          'workers 4',
          'map-file static.map',
          'tun-up up',
          'tun-ip 192.0.0.1/29',
          'tun-ip 2001:db8::1/128',
          'tun-route 198.51.100.0/24',
          'tun-route 2001:db8:46::/96',
          'strict-frag-hdr 1',
        ),
      );
      const c = readTaygaConf(path);
      expect(c.warnings.map((w) => `${w.file}:${w.line}: ${w.reason}`)).toEqual([
        `${path}:8: log drop reject icmp self: nat64d does not log packets; ` +
          '`nat64d stats` and /metrics count every drop, ICMP error and local packet by reason',
        `${path}:10: workers 4: ignored, nat64d translates in one packet loop`,
      ]);
      expect(c.mapFile).toBe(join(dir, 'static.map'));
      expect(c.maps.map((m) => `${formatIpv4(m.ipv4.addr)} ${formatIpv6(m.ipv6.bytes)}`)).toEqual([
        '192.0.2.20 2001:db8:1::20',
        '192.0.2.21 2001:db8:1::21',
      ]);
      expect(c.tunUp).toBe(true);
      expect(c.tunIps).toEqual(['192.0.0.1/29', '2001:db8::1/128']);
      expect(c.tunRoutes).toEqual(['198.51.100.0/24', '2001:db8:46::/96']);
      expect(c.offlinkMtu).toBe(1492);
      expect(c.udpChecksumMode).toBe('forward');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what Tayga refuses: a log value it does not know, a bad map-file line', () => {
    expect(errorsOf(conf('log drop everything'))).toEqual([
      '/etc/tayga.conf:4: log everything: expected drop, reject, icmp, self, dyn',
    ]);
    expect(errorsOf(conf('map-file maps.txt'))).toEqual([
      '/etc/tayga.conf:4: map-file maps.txt: relative, and no data-dir',
    ]);
    const files: Record<string, string> = {
      '/srv/m.map': 'map 192.0.2.20 2001:db8:1::20\nprefix x\n',
    };
    try {
      parseTaygaConf(conf('map-file /srv/m.map'), FILE, { readFile: (p) => files[p]! });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as Error).message).toBe(
        '/srv/m.map:2: only map lines belong in a map-file, found "prefix"',
      );
    }
  });

  it('icmp-error-rate: per second and burst, into the translator config', () => {
    const d = parseTaygaConf(conf(), FILE);
    expect([d.icmpErrorRate, d.icmpErrorBurst]).toEqual([100, 100]);
    const c = parseTaygaConf(conf('icmp-error-rate 20 50'), FILE);
    expect(toTranslatorConfig(c)).toMatchObject({ icmpErrorRate: 20, icmpErrorBurst: 50 });
    expect(parseTaygaConf(conf('icmp-error-rate 0'), FILE).icmpErrorRate).toBe(0);
    expect(errorsOf(conf('icmp-error-rate fast'))).toEqual([
      '/etc/tayga.conf:4: icmp-error-rate fast: must be errors per second from 0 to 1000000',
    ]);
  });
});
