import { describe, expect, it } from 'vitest';
import {
  embedIpv4,
  extractIpv4,
  isGlobalIpv4,
  isWellKnownPrefix,
  makeNat64Prefix,
  matchesPrefix,
  WELL_KNOWN_PREFIX,
} from '../../src/core/rfc6052.js';
import { ip4, ip6, prefix } from './helpers.js';

// RFC 6052 §2.4, Table 1: 192.0.2.33 embedded under each prefix length.
const TABLE: [string, 32 | 40 | 48 | 56 | 64 | 96, string][] = [
  ['2001:db8::', 32, '2001:db8:c000:221::'],
  ['2001:db8:100::', 40, '2001:db8:1c0:2:21::'],
  ['2001:db8:122::', 48, '2001:db8:122:c000:2:2100::'],
  ['2001:db8:122:300::', 56, '2001:db8:122:3c0:0:221::'],
  ['2001:db8:122:344::', 64, '2001:db8:122:344:c0:2:2100:0'],
  ['2001:db8:122:344::', 96, '2001:db8:122:344::192.0.2.33'],
];

describe('RFC 6052 §2.2 address format', () => {
  for (const [p, len, expected] of TABLE) {
    it(`embeds and extracts 192.0.2.33 with ${p}/${len}`, () => {
      const pfx = prefix(p, len);
      const out = new Uint8Array(20).fill(0xee);
      embedIpv4(pfx, ip4('192.0.2.33'), out, 2);
      expect(Array.from(out.subarray(2, 18))).toEqual(Array.from(ip6(expected)));
      expect(out[0]).toBe(0xee);
      expect(out[18]).toBe(0xee);
      expect(matchesPrefix(pfx, ip6(expected), 0)).toBe(true);
      expect(extractIpv4(pfx, ip6(expected), 0)).toBe(ip4('192.0.2.33'));
    });
  }

  it('does not match an address outside the prefix', () => {
    expect(matchesPrefix(prefix('2001:db8:122::', 48), ip6('2001:db8:123::1'), 0)).toBe(false);
  });

  it('rejects a non-zero u octet (bits 64-71) on extraction', () => {
    const bad = ip6('2001:db8:122:344:c0:2:2100:0');
    bad[8] = 1;
    expect(extractIpv4(prefix('2001:db8:122:344::', 64), bad, 0)).toBe(-1);
  });

  it('ignores the suffix bits', () => {
    const a = ip6('2001:db8:c000:221::1');
    expect(extractIpv4(prefix('2001:db8::', 32), a, 0)).toBe(ip4('192.0.2.33'));
  });

  it('builds prefixes, clearing host bits and refusing bad lengths', () => {
    const p = makeNat64Prefix(ip6('2001:db8:122:344::ffff'), 64);
    expect(Array.from(p.bytes)).toEqual(Array.from(ip6('2001:db8:122:344::')));
    expect(() => makeNat64Prefix(ip6('2001:db8::'), 33)).toThrow(RangeError);
    expect(() => makeNat64Prefix(new Uint8Array(4), 32)).toThrow(RangeError);
    expect(() => makeNat64Prefix(ip6('2001:db8:0:0:100::'), 96)).toThrow(RangeError);
  });

  it('recognises only 64:ff9b::/96 as the Well-Known Prefix', () => {
    expect(isWellKnownPrefix(WELL_KNOWN_PREFIX)).toBe(true);
    expect(isWellKnownPrefix(prefix('64:ff9b::', 96))).toBe(true);
    expect(isWellKnownPrefix(prefix('64:ff9b:1::', 48))).toBe(false);
    expect(isWellKnownPrefix(prefix('2001:db8:64::', 96))).toBe(false);
  });
});

describe('RFC 6052 §3.1 non-global IPv4', () => {
  // First and last address of each IANA special-purpose block named in the brief; the
  // neighbours just outside are compared numerically (no packet uses them).
  const BLOCKS: [string, number][] = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  for (const [net, len] of BLOCKS) {
    it(`${net}/${len} is not global, its edges neither, its neighbours are`, () => {
      const first = ip4(net);
      const last = first + 2 ** (32 - len) - 1;
      expect(isGlobalIpv4(first)).toBe(false);
      expect(isGlobalIpv4(last)).toBe(false);
      if (first > 0 && !['224.0.0.0', '240.0.0.0', '192.0.2.0', '198.18.0.0'].includes(net)) {
        expect(isGlobalIpv4(first - 1)).toBe(true);
      }
      if (
        last < 0xdfffffff &&
        !['192.0.0.0', '127.0.0.0', '198.18.0.0', '198.51.100.0'].includes(net)
      ) {
        expect(isGlobalIpv4(last + 1)).toBe(true);
      }
    });
  }
  it('treats 255.255.255.255 as non-global', () => {
    expect(isGlobalIpv4(0xffffffff)).toBe(false);
  });
});
