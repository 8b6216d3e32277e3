import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import {
  bytes,
  icmp,
  icmp6msg,
  checkIpv4,
  checkIpv6,
  checkL4v4,
  checkL4v6,
  concat,
  config,
  defaultMapper,
  ip4,
  ip6,
  ipv4,
  ipv6,
  OWN4,
  OWN6,
  prefix,
  run,
  tcp4,
  tcp6,
  TestMapper,
  u16,
  u32,
  udp,
  udp4,
  udp6,
  V4SERVER,
  V4SERVER_AS6,
  V6HOST,
  V6POOL,
} from './helpers.js';

const data = bytes(37);

describe('IPv4 -> IPv6 (RFC 7915 §4.1)', () => {
  it('translates UDP: addresses, TOS, flow label 0, TTL-1, checksum', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      ttl: 10,
      tos: 0xb8,
      df: true,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    const expected = ipv6({
      src: V4SERVER_AS6,
      dst: V6HOST,
      nh: 17,
      hop: 9,
      tc: 0xb8,
      payload: udp6(V4SERVER_AS6, V6HOST, data),
    });
    expect(Array.from(out[0]!)).toEqual(Array.from(expected));
    expect(checkL4v6(out[0]!)).toBe(true);
    expect(t.counters.translated4to6).toBe(1);
  });

  it('translates TCP with the pseudo-header change', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 6,
      df: true,
      payload: tcp4(V4SERVER, V6POOL, data),
    });
    const out = run(t, input);
    const expected = ipv6({
      src: V4SERVER_AS6,
      dst: V6HOST,
      nh: 6,
      hop: 63,
      payload: tcp6(V4SERVER_AS6, V6HOST, data),
    });
    expect(Array.from(out[0]!)).toEqual(Array.from(expected));
  });

  it('accepts IPv4 options without translating them', () => {
    const t = new Translator(config(), defaultMapper());
    // NOP, NOP, Record Route (7) of length 7 with pointer 4, padded with End of List.
    const options = [1, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0];
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      options,
      df: true,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    const out = run(t, input);
    const expected = ipv6({
      src: V4SERVER_AS6,
      dst: V6HOST,
      nh: 17,
      hop: 63,
      payload: udp6(V4SERVER_AS6, V6HOST, data),
    });
    expect(Array.from(out[0]!)).toEqual(Array.from(expected));
  });

  it('refuses an unexpired source route option with ICMP source route failed', () => {
    const t = new Translator(config(), defaultMapper());
    // Loose Source Route (131), length 7, pointer 4 (unexpired), one hop.
    const options = [131, 7, 4, 198, 51, 100, 20, 0];
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      options,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    const e = out[0]!;
    expect(checkIpv4(e) && checkL4v4(e)).toBe(true);
    expect([e[20], e[21]]).toEqual([3, 5]);
    expect(u32(e, 12)).toBe(ip4(OWN4));
    expect(u32(e, 16)).toBe(ip4(V4SERVER));
    expect(t.counters.dropSourceRoute).toBe(1);
  });

  it('drops a bad IPv4 header checksum', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    input[10]! ^= 0x01;
    expect(run(t, input)).toHaveLength(0);
    expect(t.counters.dropChecksum).toBe(1);
  });

  it('drops truncated and malformed headers', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    expect(run(t, input.subarray(0, input.length - 1))).toHaveLength(0);
    expect(run(t, input.subarray(0, 12))).toHaveLength(0);
    expect(t.counters.dropTruncated).toBe(2);
    const bad = input.slice();
    bad[0] = 0x44; // IHL 4
    expect(run(t, bad)).toHaveLength(0);
    expect(t.counters.dropMalformed).toBe(1);
  });

  it('drops protocols it does not translate', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({ src: V4SERVER, dst: V6POOL, proto: 41, payload: bytes(40) });
    expect(run(t, input)).toHaveLength(0);
    expect(t.counters.dropUnsupported).toBe(1);
  });

  it('carries GRE through unchanged', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({ src: V4SERVER, dst: V6POOL, proto: 47, df: true, payload: bytes(24) });
    const out = run(t, input);
    expect(Array.from(out[0]!)).toEqual(
      Array.from(ipv6({ src: V4SERVER_AS6, dst: V6HOST, nh: 47, hop: 63, payload: bytes(24) })),
    );
  });

  it('uses a static mapping for the source before the prefix', () => {
    const m = new TestMapper([
      [V6HOST, V6POOL],
      ['2001:db8:2::99', V4SERVER],
    ]);
    const t = new Translator(config(), m);
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      df: true,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    const out = run(t, input)[0]!;
    expect(Array.from(out.subarray(8, 24))).toEqual(Array.from(ip6('2001:db8:2::99')));
    expect(checkL4v6(out)).toBe(true);
  });

  it('answers an unmapped destination with ICMP host unreachable', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: '198.51.100.99',
      proto: 17,
      payload: udp4(V4SERVER, '198.51.100.99', data),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    expect([out[0]![20], out[0]![21]]).toEqual([3, 1]);
    expect(Array.from(out[0]!.subarray(28))).toEqual(Array.from(input));
    expect(checkIpv4(out[0]!) && checkL4v4(out[0]!)).toBe(true);
    expect(t.counters.dropNoMapping).toBe(1);
  });

  describe('TTL expiry (RFC 1812 §5.3.1: decrement, expire at 0)', () => {
    for (const ttl of [0, 1]) {
      it(`TTL ${ttl} -> ICMPv4 time exceeded from ipv4-addr, quoting the packet`, () => {
        const t = new Translator(config(), defaultMapper());
        const input = ipv4({
          src: V4SERVER,
          dst: V6POOL,
          proto: 17,
          ttl,
          payload: udp4(V4SERVER, V6POOL, data),
        });
        const out = run(t, input);
        expect(out).toHaveLength(1);
        const e = out[0]!;
        expect(checkIpv4(e)).toBe(true);
        expect(checkL4v4(e)).toBe(true);
        expect(e[9]).toBe(1);
        expect(u32(e, 12)).toBe(ip4(OWN4));
        expect(u32(e, 16)).toBe(ip4(V4SERVER));
        expect([e[20], e[21], u32(e, 24)]).toEqual([11, 0, 0]);
        expect(Array.from(e.subarray(28))).toEqual(Array.from(input));
        expect(t.counters.dropHopLimit).toBe(1);
        expect(t.counters.icmp4ErrorsSent).toBe(1);
      });
    }
    it('TTL 2 is forwarded with hop limit 1', () => {
      const t = new Translator(config(), defaultMapper());
      const input = ipv4({
        src: V4SERVER,
        dst: V6POOL,
        proto: 17,
        ttl: 2,
        payload: udp4(V4SERVER, V6POOL, data),
      });
      expect(run(t, input)[0]![7]).toBe(1);
    });
    it('sends no error about an expiring ICMP error', () => {
      const t = new Translator(config(), defaultMapper());
      const inner = ipv4({
        src: V6POOL,
        dst: V4SERVER,
        proto: 17,
        payload: udp4(V6POOL, V4SERVER, data),
      });
      const err = icmp(3, 3, 0, inner, null);
      const input = ipv4({ src: V4SERVER, dst: V6POOL, proto: 1, ttl: 1, payload: err });
      expect(run(t, input)).toHaveLength(0);
      expect(t.counters.dropHopLimit).toBe(1);
      expect(t.counters.icmp4ErrorsSent).toBe(0);
    });
  });

  describe('zero UDP checksum (RFC 7915 §4.5)', () => {
    const zero = udp(5000, 53, data, null);
    const input = ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, payload: zero });
    it('drop', () => {
      const t = new Translator(config({ udpChecksumMode: 'drop' }), defaultMapper());
      expect(run(t, input)).toHaveLength(0);
      expect(t.counters.dropUdpZeroChecksum).toBe(1);
    });
    it('forward: sent on with checksum 0 (invalid for IPv6, as Tayga)', () => {
      const t = new Translator(config({ udpChecksumMode: 'forward' }), defaultMapper());
      const out = run(t, input)[0]!;
      expect(u16(out, 46)).toBe(0);
      expect(Array.from(out.subarray(40))).toEqual(Array.from(zero));
    });
    it('calc: full checksum computed', () => {
      const t = new Translator(config({ udpChecksumMode: 'calc' }), defaultMapper());
      const out = run(t, input)[0]!;
      expect(Array.from(out)).toEqual(
        Array.from(
          ipv6({
            src: V4SERVER_AS6,
            dst: V6HOST,
            nh: 17,
            hop: 63,
            payload: udp6(V4SERVER_AS6, V6HOST, data),
          }),
        ),
      );
    });
    it('calc: a fragment cannot be checksummed and is dropped', () => {
      const t = new Translator(config({ udpChecksumMode: 'calc' }), defaultMapper());
      const frag = ipv4({
        src: V4SERVER,
        dst: V6POOL,
        proto: 17,
        mf: true,
        payload: zero.subarray(0, 32),
      });
      expect(run(t, frag)).toHaveLength(0);
      expect(t.counters.dropUdpZeroChecksum).toBe(1);
    });
  });
});

describe('IPv6 -> IPv4 (RFC 7915 §5.1)', () => {
  it('translates UDP: addresses, traffic class, hop limit-1, DF clear below 1260, checksum', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 17,
      hop: 20,
      tc: 0x28,
      flow: 0x12345,
      payload: udp6(V6HOST, V4SERVER_AS6, data),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    const o = out[0]!;
    const expected = ipv4({
      src: V6POOL,
      dst: V4SERVER,
      proto: 17,
      ttl: 19,
      tos: 0x28,
      id: u16(o, 4),
      payload: udp4(V6POOL, V4SERVER, data),
    });
    expect(Array.from(o)).toEqual(Array.from(expected));
    expect(t.counters.translated6to4).toBe(1);
  });

  it('gives consecutive packets different identifications', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 17,
      payload: udp6(V6HOST, V4SERVER_AS6, data),
    });
    const a = run(t, input)[0]!;
    const b = run(t, input)[0]!;
    expect(u16(a, 4)).not.toBe(u16(b, 4));
  });

  it('sets DF above 1260 bytes', () => {
    const t = new Translator(config(), defaultMapper());
    const big = bytes(1300);
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 17,
      payload: udp6(V6HOST, V4SERVER_AS6, big),
    });
    const o = run(t, input)[0]!;
    expect(u16(o, 6)).toBe(0x4000);
    expect(checkIpv4(o) && checkL4v4(o)).toBe(true);
  });

  it('translates TCP and asks the mapper for the source with isSource', () => {
    const m = defaultMapper();
    const t = new Translator(config(), m);
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 6,
      payload: tcp6(V6HOST, V4SERVER_AS6, data),
    });
    const o = run(t, input)[0]!;
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv4({
          src: V6POOL,
          dst: V4SERVER,
          proto: 6,
          ttl: 63,
          id: u16(o, 4),
          payload: tcp4(V6POOL, V4SERVER, data),
        }),
      ),
    );
    expect(m.calls).toContain(`6to4 2001:db8:1:0:0:0:0:10 true`);
  });

  it('uses the mapper for a destination outside the prefix', () => {
    const m = new TestMapper([
      [V6HOST, V6POOL],
      ['2001:db8:2::99', V4SERVER],
    ]);
    const t = new Translator(config(), m);
    const input = ipv6({
      src: V6HOST,
      dst: '2001:db8:2::99',
      nh: 17,
      payload: udp6(V6HOST, '2001:db8:2::99', data),
    });
    const o = run(t, input)[0]!;
    expect(u32(o, 16)).toBe(ip4(V4SERVER));
    expect(checkL4v4(o)).toBe(true);
    expect(m.calls).toContain('6to4 2001:db8:2:0:0:0:0:99 false');
  });

  it('drops unmapped sources and destinations', () => {
    const t = new Translator(config(), defaultMapper());
    const a = ipv6({
      src: '2001:db8:1::77',
      dst: V4SERVER_AS6,
      nh: 17,
      payload: udp6('2001:db8:1::77', V4SERVER_AS6, data),
    });
    const b = ipv6({
      src: V6HOST,
      dst: '2001:db8:5::1',
      nh: 17,
      payload: udp6(V6HOST, '2001:db8:5::1', data),
    });
    expect(run(t, a)).toHaveLength(0);
    expect(run(t, b)).toHaveLength(0);
    expect(t.counters.dropNoMapping).toBe(2);
  });

  it('drops UDP with a zero checksum (not valid in IPv6)', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 17, payload: udp(1, 2, data, null) });
    expect(run(t, input)).toHaveLength(0);
    expect(t.counters.dropUdpZeroChecksum).toBe(1);
  });

  for (const hop of [0, 1]) {
    it(`hop limit ${hop} -> ICMPv6 time exceeded from ipv6-addr`, () => {
      const t = new Translator(config(), defaultMapper());
      const input = ipv6({
        src: V6HOST,
        dst: V4SERVER_AS6,
        nh: 17,
        hop,
        payload: udp6(V6HOST, V4SERVER_AS6, data),
      });
      const out = run(t, input);
      expect(out).toHaveLength(1);
      const e = out[0]!;
      expect(checkIpv6(e) && checkL4v6(e)).toBe(true);
      expect(Array.from(e.subarray(8, 24))).toEqual(Array.from(ip6(OWN6)));
      expect(Array.from(e.subarray(24, 40))).toEqual(Array.from(ip6(V6HOST)));
      expect([e[6], e[40], e[41], u32(e, 44)]).toEqual([58, 3, 0, 0]);
      expect(Array.from(e.subarray(48))).toEqual(Array.from(input));
      expect(t.counters.dropHopLimit).toBe(1);
      expect(t.counters.icmp6ErrorsSent).toBe(1);
    });
  }

  it('skips Hop-by-Hop and Destination Options headers', () => {
    const t = new Translator(config(), defaultMapper());
    const u = udp6(V6HOST, V4SERVER_AS6, data);
    const hbh = Uint8Array.of(60, 0, 1, 4, 0, 0, 0, 0); // -> Destination Options, PadN
    const dst = Uint8Array.of(17, 1, 1, 12, ...new Array<number>(12).fill(0)); // 16 bytes -> UDP
    const input = ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 0, payload: concat(hbh, dst, u) });
    const o = run(t, input)[0]!;
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv4({
          src: V6POOL,
          dst: V4SERVER,
          proto: 17,
          ttl: 63,
          id: u16(o, 4),
          payload: udp4(V6POOL, V4SERVER, data),
        }),
      ),
    );
  });

  it('skips a Routing header with Segments Left 0', () => {
    const t = new Translator(config(), defaultMapper());
    const rh = Uint8Array.of(17, 0, 4, 0, 0, 0, 0, 0);
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 43,
      payload: concat(rh, udp6(V6HOST, V4SERVER_AS6, data)),
    });
    const o = run(t, input)[0]!;
    expect(o[9]).toBe(17);
    expect(checkIpv4(o) && checkL4v4(o)).toBe(true);
  });

  it('answers Segments Left != 0 with Parameter Problem pointing at it', () => {
    const t = new Translator(config(), defaultMapper());
    const dstopt = Uint8Array.of(43, 0, 1, 4, 0, 0, 0, 0);
    const rh = Uint8Array.of(17, 2, 0, 1, 0, 0, 0, 0, ...ip6('2001:db8:3::1'));
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 60,
      payload: concat(dstopt, rh, udp6(V6HOST, V4SERVER_AS6, data)),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    const e = out[0]!;
    expect(checkL4v6(e)).toBe(true);
    expect([e[40], e[41], u32(e, 44)]).toEqual([4, 0, 40 + 8 + 3]);
    expect(t.counters.dropSourceRoute).toBe(1);
  });

  it('drops unknown extension headers / protocols and jumbograms', () => {
    const t = new Translator(config(), defaultMapper());
    const ah = ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 51, payload: bytes(24) });
    const mobility = ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 135, payload: bytes(24) });
    const jumbo = ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 0, payload: bytes(24) });
    jumbo[4] = 0;
    jumbo[5] = 0;
    for (const p of [ah, mobility, jumbo]) expect(run(t, p)).toHaveLength(0);
    expect(t.counters.dropUnsupported).toBe(3);
  });

  it('drops truncated extension headers', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 60,
      payload: Uint8Array.of(17, 3, 0, 0, 0, 0, 0, 0),
    });
    expect(run(t, input)).toHaveLength(0);
    expect(t.counters.dropTruncated).toBe(1);
  });
});

describe('wkpf-strict (RFC 6052 §3.1)', () => {
  const WKP = prefix('64:ff9b::', 96);
  const nonGlobal = '192.0.2.77'; // TEST-NET-1 is in the special-purpose registry
  const asWkp = '64:ff9b::c000:24d';
  it('refuses a non-global IPv4 destination under 64:ff9b::/96 (6->4) with an ICMPv6 error', () => {
    let now = 1000;
    const t = new Translator(
      config({
        prefix: WKP,
        wkpfStrict: true,
        icmpErrorRate: 1,
        icmpErrorBurst: 1,
        clock: () => now,
      }),
      defaultMapper(),
    );
    const input = ipv6({ src: V6HOST, dst: asWkp, nh: 17, payload: udp6(V6HOST, asWkp, data) });
    // RFC 4443 §3.1: Destination Unreachable, code 1 (administratively prohibited), from the
    // translator's ipv6-addr, quoting the packet.
    const msg = icmp6msg(OWN6, V6HOST, 1, 1, 0, input);
    const expected = ipv6({ src: OWN6, dst: V6HOST, nh: 58, hop: 64, payload: msg });
    expect(run(t, input).map((p) => Array.from(p))).toEqual([Array.from(expected)]);
    // The icmp-error-rate bucket (1 per second here) limits them like every other error.
    expect(run(t, input)).toHaveLength(0);
    now += 1000;
    expect(run(t, input)).toHaveLength(1);
    expect(t.counters.dropWkpfNonGlobal).toBe(3);
    expect(t.counters.icmp6ErrorsSent).toBe(2);
    expect(t.counters.icmpErrorsRateLimited).toBe(1);
    expect(t.counters.translated6to4).toBe(0);
  });
  it('refuses a non-global IPv4 source under 64:ff9b::/96 (4->6)', () => {
    const t = new Translator(config({ prefix: WKP, wkpfStrict: true }), defaultMapper());
    const input = ipv4({
      src: nonGlobal,
      dst: V6POOL,
      proto: 17,
      payload: udp4(nonGlobal, V6POOL, data),
    });
    expect(run(t, input)).toHaveLength(0);
    expect(t.counters.dropWkpfNonGlobal).toBe(1);
  });
  it('allows them when wkpf-strict is off', () => {
    const t = new Translator(config({ prefix: WKP, wkpfStrict: false }), defaultMapper());
    const a = run(t, ipv6({ src: V6HOST, dst: asWkp, nh: 17, payload: udp6(V6HOST, asWkp, data) }));
    const b = run(
      t,
      ipv4({ src: nonGlobal, dst: V6POOL, proto: 17, payload: udp4(nonGlobal, V6POOL, data) }),
    );
    expect(u32(a[0]!, 16)).toBe(ip4(nonGlobal));
    expect(Array.from(b[0]!.subarray(8, 24))).toEqual(Array.from(ip6(asWkp)));
  });
  it('exempts the RFC 8215 local-use prefix 64:ff9b:1::/48', () => {
    const local = prefix('64:ff9b:1::', 48);
    const t = new Translator(config({ prefix: local, wkpfStrict: true }), defaultMapper());
    const dst = '64:ff9b:1:c000:2:4d00::'; // 192.0.2.77 under /48
    const o = run(t, ipv6({ src: V6HOST, dst, nh: 17, payload: udp6(V6HOST, dst, data) }))[0]!;
    expect(u32(o, 16)).toBe(ip4(nonGlobal));
    const back = run(
      t,
      ipv4({ src: nonGlobal, dst: V6POOL, proto: 17, payload: udp4(nonGlobal, V6POOL, data) }),
    )[0]!;
    expect(Array.from(back.subarray(8, 24))).toEqual(Array.from(ip6(dst)));
    expect(checkL4v6(back)).toBe(true);
  });
  it('exempts network-specific prefixes', () => {
    const t = new Translator(config({ wkpfStrict: true }), defaultMapper());
    expect(
      run(
        t,
        ipv4({ src: nonGlobal, dst: V6POOL, proto: 17, payload: udp4(nonGlobal, V6POOL, data) }),
      ),
    ).toHaveLength(1);
  });
});

describe('every RFC 6052 prefix length end to end', () => {
  const cases: [string, 32 | 40 | 48 | 56 | 64 | 96, string][] = [
    ['2001:db8::', 32, '2001:db8:c000:221::'],
    ['2001:db8:100::', 40, '2001:db8:1c0:2:21::'],
    ['2001:db8:122::', 48, '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::', 56, '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::', 64, '2001:db8:122:344:c0:2:2100:0'],
    ['2001:db8:122:344::', 96, '2001:db8:122:344::192.0.2.33'],
  ];
  for (const [p, len, embedded] of cases) {
    it(`/${len}`, () => {
      // 2001:db8::/32 holds V6HOST, a source the translator must refuse (RFC 6146 §3.5): the
      // /32 case maps its IPv6 host in 3fff::/20, the other documentation prefix (RFC 9637).
      const host = len === 32 ? '3fff::10' : V6HOST;
      const mapper = new TestMapper([[host, V6POOL]]);
      const t = new Translator(config({ prefix: prefix(p, len) }), mapper);
      const v4 = run(
        t,
        ipv6({ src: host, dst: embedded, nh: 17, payload: udp6(host, embedded, data) }),
      )[0]!;
      expect(Array.from(v4)).toEqual(
        Array.from(
          ipv4({
            src: V6POOL,
            dst: '192.0.2.33',
            proto: 17,
            ttl: 63,
            id: u16(v4, 4),
            payload: udp4(V6POOL, '192.0.2.33', data),
          }),
        ),
      );
      const v6 = run(
        t,
        ipv4({
          src: '192.0.2.33',
          dst: V6POOL,
          proto: 17,
          df: true,
          payload: udp4('192.0.2.33', V6POOL, data),
        }),
      )[0]!;
      expect(Array.from(v6)).toEqual(
        Array.from(
          ipv6({
            src: embedded,
            dst: host,
            nh: 17,
            hop: 63,
            payload: udp6(embedded, host, data),
          }),
        ),
      );
    });
  }
});
