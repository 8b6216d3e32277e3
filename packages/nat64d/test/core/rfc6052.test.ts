// nat64d's use of the shared RFC 6052 code (packages/nat64-addr, tested there): what the
// translator does with addresses under its prefix, packet in, packet (or drop) out.
import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import {
  config,
  defaultMapper,
  ip4,
  ip6,
  ipv4,
  ipv6,
  prefix,
  run,
  u32,
  udp4,
  udp6,
  V6HOST,
  V6POOL,
} from './helpers.js';

const data = Uint8Array.of(1, 2, 3, 4);

function send6(t: Translator, dst: string): Uint8Array[] {
  return run(t, ipv6({ src: V6HOST, dst, nh: 17, payload: udp6(V6HOST, dst, data) }));
}
function send4(t: Translator, src: string): Uint8Array[] {
  return run(t, ipv4({ src, dst: V6POOL, proto: 17, payload: udp4(src, V6POOL, data) }));
}

describe('RFC 6052 §2.2 bits 64-71 on packets from IPv6', () => {
  // These bits MUST be zero; RFC 6052's "SHOULD ignore" for translators is said of the suffix.
  // An address under the prefix with a non-zero u-octet embeds no IPv4 address: no mapping.
  it('drops 2001:db8:122:344:ffc6:3300:500:0 under /64 instead of sending to 198.51.0.5', () => {
    const t = new Translator(config({ prefix: prefix('2001:db8:122:344::', 64) }), defaultMapper());
    expect(send6(t, '2001:db8:122:344:ffc6:3300:500:0')).toHaveLength(0);
    expect(t.counters.dropNoMapping).toBe(1);
    expect(t.counters.translated6to4).toBe(0);
  });

  const under: [string, 32 | 40 | 48 | 56 | 64, string][] = [
    // 3fff::/32 (documentation, RFC 9637): the client 2001:db8:1::10 must lie outside the prefix.
    ['3fff::', 32, '3fff:0:c000:221:100::'],
    ['2001:db8:100::', 40, '2001:db8:1c0:2:121::'],
    ['2001:db8:122::', 48, '2001:db8:122:c000:102:2100::'],
    ['2001:db8:122:300::', 56, '2001:db8:122:3c0:100:221::'],
    ['2001:db8:122:344::', 64, '2001:db8:122:344:1c0:2:2100:0'],
  ];
  for (const [p, len, dst] of under) {
    it(`/${len}: drops ${dst} (192.0.2.33 with byte 8 set)`, () => {
      const t = new Translator(config({ prefix: prefix(p, len) }), defaultMapper());
      expect(ip6(dst)[8]).not.toBe(0);
      expect(send6(t, dst)).toHaveLength(0);
      expect(t.counters.dropNoMapping).toBe(1);
      expect(t.counters.dropSourceInPrefix).toBe(0);
    });
  }

  it('ignores the suffix bits (RFC 6052 §2.2: translators SHOULD ignore them)', () => {
    const t = new Translator(config({ prefix: prefix('2001:db8:122:344::', 64) }), defaultMapper());
    const out = send6(t, '2001:db8:122:344:c0:2:2100:ff');
    expect(out).toHaveLength(1);
    expect(u32(out[0]!, 16)).toBe(ip4('192.0.2.33'));
  });
});

describe('wkpf-strict follows the IANA registry (RFC 6052 §3.1)', () => {
  const WKP = prefix('64:ff9b::', 96);
  const strict = (): Translator =>
    new Translator(config({ prefix: WKP, wkpfStrict: true }), defaultMapper());

  // Globally Reachable = True in the registry, inside the non-global 192.0.0.0/24.
  for (const [v4, v6] of [
    ['192.0.0.9', '64:ff9b::c000:9'],
    ['192.0.0.10', '64:ff9b::c000:a'],
  ] as const) {
    it(`translates ${v4} (global) both ways`, () => {
      const t = strict();
      const out6 = send6(t, v6);
      expect(out6).toHaveLength(1);
      expect(u32(out6[0]!, 16)).toBe(ip4(v4));
      const out4 = send4(t, v4);
      expect(out4).toHaveLength(1);
      expect(Array.from(out4[0]!.subarray(8, 24))).toEqual(Array.from(ip6(v6)));
      expect(t.counters.dropWkpfNonGlobal).toBe(0);
    });
  }

  for (const [v4, v6] of [
    ['192.0.0.8', '64:ff9b::c000:8'],
    ['192.0.0.171', '64:ff9b::c000:ab'],
    ['192.88.99.1', '64:ff9b::c058:6301'],
    ['224.0.0.251', '64:ff9b::e000:fb'],
  ] as const) {
    it(`drops ${v4} (not global) both ways`, () => {
      const t = strict();
      // 6->4: an ICMPv6 Destination Unreachable, administratively prohibited (RFC 4443 §3.1).
      const back = send6(t, v6);
      expect(back.map((p) => [p[0]! >> 4, p[6], p[40], p[41]])).toEqual([[6, 58, 1, 1]]);
      expect(send4(t, v4)).toHaveLength(0);
      // A multicast source is a martian before wkpf-strict is asked (RFC 1812 §5.3.7).
      const martian = v4.startsWith('224.') ? 1 : 0;
      expect(t.counters.dropWkpfNonGlobal).toBe(2 - martian);
      expect(t.counters.dropMartianSource).toBe(martian);
    });
  }
});
