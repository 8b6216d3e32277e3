import { describe, expect, it } from 'vitest';
import {
  RFC6052_PREFIX_LENGTHS,
  WELL_KNOWN_PREFIX,
  describePrefixProblem,
  embedIpv4,
  embeddedIpv4,
  extractIpv4,
  ipv4FromBytes,
  ipv4ToBytes,
  isWellKnownPrefix,
  matchesPrefix,
  prefixProblem,
  suffixOverlaps,
  type Rfc6052Prefix,
  type Rfc6052PrefixLength,
} from '../src/index.js';
import { ip4, ip6 } from './addr.js';

const prefix = (text: string, length: Rfc6052PrefixLength): Rfc6052Prefix => ({
  bytes: ip6(text),
  length,
});
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// RFC 6052 §2.4, Table 1: 192.0.2.33 under each prefix length, written out in full.
const TABLE: [string, Rfc6052PrefixLength, string][] = [
  ['2001:db8::', 32, '20010db8c00002210000000000000000'],
  ['2001:db8:100::', 40, '20010db801c000020021000000000000'],
  ['2001:db8:122::', 48, '20010db80122c0000002210000000000'],
  ['2001:db8:122:300::', 56, '20010db8012203c00000022100000000'],
  ['2001:db8:122:344::', 64, '20010db80122034400c0000221000000'],
  ['2001:db8:122:344::', 96, '20010db80122034400000000c0000221'],
];

describe('RFC 6052 §2.4 Table 1 (192.0.2.33)', () => {
  it('lists the six lengths of §2.2', () => {
    expect([...RFC6052_PREFIX_LENGTHS]).toEqual([32, 40, 48, 56, 64, 96]);
    expect(TABLE.map(([, len]) => len)).toEqual([32, 40, 48, 56, 64, 96]);
  });
  it('agrees with the table in the RFC text', () => {
    expect(hex(ip6('2001:db8:c000:221::'))).toBe(TABLE[0]![2]);
    expect(hex(ip6('2001:db8:1c0:2:21::'))).toBe(TABLE[1]![2]);
    expect(hex(ip6('2001:db8:122:c000:2:2100::'))).toBe(TABLE[2]![2]);
    expect(hex(ip6('2001:db8:122:3c0:0:221::'))).toBe(TABLE[3]![2]);
    expect(hex(ip6('2001:db8:122:344:c0:2:2100:0'))).toBe(TABLE[4]![2]);
    expect(hex(ip6('2001:db8:122:344::192.0.2.33'))).toBe(TABLE[5]![2]);
  });
  for (const [p, len, expected] of TABLE) {
    it(`${p}/${len}: embeds as ${expected} and extracts 192.0.2.33 back`, () => {
      const pfx = prefix(p, len);
      const out = new Uint8Array(20).fill(0xee);
      embedIpv4(pfx, ip4('192.0.2.33'), out, 2);
      expect(hex(out)).toBe(`eeee${expected}eeee`);
      expect(matchesPrefix(pfx, out, 2)).toBe(true);
      expect(extractIpv4(pfx, out, 2)).toBe(0xc0000221);
      expect(embeddedIpv4(pfx, out, 2)).toBe(0xc0000221);
    });
  }
});

describe('RFC 6052 §2.2 bits 64-71 (the u-octet)', () => {
  // The case: under 2001:db8:122:344::/64, bytes 9-12 read c6 33 00 05 (198.51.0.5),
  // but byte 8 is 0xff, so the address embeds no IPv4 address at all.
  it('2001:db8:122:344:ffc6:3300:500:0 under /64 embeds nothing (not 198.51.0.5)', () => {
    const addr = ip6('2001:db8:122:344:ffc6:3300:500:0');
    const pfx = prefix('2001:db8:122:344::', 64);
    expect(hex(addr.subarray(9, 13))).toBe('c6330005');
    expect(matchesPrefix(pfx, addr, 0)).toBe(true);
    expect(extractIpv4(pfx, addr, 0)).toBe(-1);
    expect(embeddedIpv4(pfx, addr, 0)).toBe(-1);
  });
  for (const [p, len] of TABLE) {
    if (len === 96) continue;
    it(`/${len}: an address under ${p} with any bit of byte 8 set embeds nothing`, () => {
      const pfx = prefix(p, len);
      for (const u of [0x01, 0x02, 0x80, 0xff]) {
        const addr = new Uint8Array(16);
        embedIpv4(pfx, ip4('192.0.2.33'), addr, 0);
        addr[8] = u;
        expect(matchesPrefix(pfx, addr, 0)).toBe(true);
        expect(extractIpv4(pfx, addr, 0)).toBe(-1);
        expect(embeddedIpv4(pfx, addr, 0)).toBe(-1);
      }
    });
  }
  it('/96: byte 8 belongs to the prefix, so such an address is not under it', () => {
    const pfx = prefix('2001:db8:122:344::', 96);
    const addr = ip6('2001:db8:122:344:100::c000:221');
    expect(matchesPrefix(pfx, addr, 0)).toBe(false);
    expect(embeddedIpv4(pfx, addr, 0)).toBe(-1);
  });
  it('writes the u-octet as zero even when the suffix has it set', () => {
    const out = new Uint8Array(16);
    embedIpv4(prefix('2001:db8::', 32), ip4('192.0.2.33'), out, 0, ip6('::ff00:0:0:1'));
    expect(hex(out)).toBe('20010db8c00002210000000000000001');
  });
});

describe('RFC 6052 §2.2 suffix', () => {
  it('is ignored on extraction (a translator SHOULD ignore its value)', () => {
    expect(embeddedIpv4(prefix('2001:db8::', 32), ip6('2001:db8:c000:221::1'), 0)).toBe(0xc0000221);
    expect(
      embeddedIpv4(prefix('2001:db8:122:344::', 64), ip6('2001:db8:122:344:c0:2:2100:ff'), 0),
    ).toBe(0xc0000221);
  });
  it('fills the bits after the IPv4 address when given', () => {
    const out = new Uint8Array(16);
    embedIpv4(prefix('2001:db8:122:344::', 64), ip4('192.0.2.33'), out, 0, ip6('::1'));
    expect(hex(out)).toBe('20010db80122034400c0000221000001');
  });
  it('may not overlap the prefix, the u-octet or the IPv4 address', () => {
    const s32 = (byte: number): Uint8Array => {
      const s = new Uint8Array(16);
      s[byte] = 1;
      return s;
    };
    const p32 = prefix('2001:db8::', 32);
    expect([0, 3, 4, 7, 8, 9, 15].map((b) => suffixOverlaps(p32, s32(b)))).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    const p64 = prefix('2001:db8:122:344::', 64);
    expect([8, 12, 13].map((b) => suffixOverlaps(p64, s32(b)))).toEqual([true, true, false]);
    const p96 = prefix('2001:db8:122:344::', 96);
    expect(suffixOverlaps(p96, s32(15))).toBe(true);
    expect(suffixOverlaps(p96, new Uint8Array(16))).toBe(false);
  });
});

describe('prefix validation (RFC 6052 §2.2)', () => {
  const cases: [string, number, string | null][] = [
    ['2001:db8::', 32, null],
    ['2001:db8:122:344::', 64, null],
    ['64:ff9b::', 96, null],
    ['2001:db8::', 33, 'RFC 6052 allows only /32, /40, /48, /56, /64 or /96'],
    ['2001:db8::', 128, 'RFC 6052 allows only /32, /40, /48, /56, /64 or /96'],
    ['2001:db8::1', 96, 'bits after /96 must be zero'],
    ['2001:db8:0:0:100::', 64, 'bits after /64 must be zero'],
    ['2001:db8:0:0:ff00::', 96, 'bits 64-71 (the u-octet) must be zero (RFC 6052 §2.2)'],
  ];
  for (const [text, len, reason] of cases) {
    it(`${text}/${len}: ${reason ?? 'valid'}`, () => {
      const problem = prefixProblem(ip6(text), len);
      expect(problem === null ? null : describePrefixProblem(problem, len)).toBe(reason);
    });
  }
  it('names the problem', () => {
    expect(prefixProblem(ip6('2001:db8::'), 33)).toBe('length');
    expect(prefixProblem(new Uint8Array(4), 32)).toBe('length');
    expect(prefixProblem(ip6('2001:db8::1'), 96)).toBe('host-bits');
    expect(prefixProblem(ip6('2001:db8:0:0:ff00::'), 96)).toBe('u-octet');
  });
});

describe('Well-Known Prefix (RFC 6052 §2.1)', () => {
  it('is 64:ff9b::/96 and only that', () => {
    expect(hex(WELL_KNOWN_PREFIX.bytes)).toBe('0064ff9b000000000000000000000000');
    expect(isWellKnownPrefix(WELL_KNOWN_PREFIX)).toBe(true);
    expect(isWellKnownPrefix(prefix('64:ff9b::', 96))).toBe(true);
    expect(isWellKnownPrefix(prefix('64:ff9b::', 64))).toBe(false);
    expect(isWellKnownPrefix(prefix('64:ff9b:1::', 48))).toBe(false);
    expect(isWellKnownPrefix(prefix('2001:db8:64::', 96))).toBe(false);
  });
  it('embeds 192.0.0.9 as 64:ff9b::c000:9', () => {
    const out = new Uint8Array(16);
    embedIpv4(WELL_KNOWN_PREFIX, ip4('192.0.0.9'), out, 0);
    expect(hex(out)).toBe(hex(ip6('64:ff9b::c000:9')));
  });
});

describe('IPv4 numbers and bytes', () => {
  it('converts both ways, unsigned', () => {
    expect(ipv4FromBytes(Uint8Array.of(9, 255, 255, 255, 255), 1)).toBe(0xffffffff);
    const out = new Uint8Array(6);
    ipv4ToBytes(0xc0000221, out, 1);
    expect(Array.from(out)).toEqual([0, 192, 0, 2, 33, 0]);
  });
});
