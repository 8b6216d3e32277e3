import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import {
  bytes,
  checkIpv4,
  checkIpv6,
  checkL4v4,
  checkL4v6,
  concat,
  config,
  defaultMapper,
  icmp,
  icmp6msg,
  ip4,
  ipv4,
  ipv6,
  OWN4,
  run,
  tcp4,
  tcp6,
  u16,
  u32,
  udp4,
  udp6,
  V4SERVER,
  V4SERVER_AS6,
  V6HOST,
  V6POOL,
} from './helpers.js';

const data = bytes(29);
const ROUTER4 = '203.0.113.1';
const ROUTER4_AS6 = '2001:db8:64::cb00:7101';
const ROUTER6 = '2001:db8:1::1'; // no IPv4 mapping: RFC 6791 case

describe('ICMP echo (RFC 7915 §4.2, §5.2)', () => {
  for (const [t4, t6] of [
    [8, 128],
    [0, 129],
  ] as const) {
    it(`ICMPv4 ${t4} -> ICMPv6 ${t6}, identifier and sequence kept`, () => {
      const t = new Translator(config(), defaultMapper());
      const rest = (0x4242 << 16) | 7;
      const input = ipv4({
        src: V4SERVER,
        dst: V6POOL,
        proto: 1,
        df: true,
        payload: icmp(t4, 0, rest, data, null),
      });
      const o = run(t, input)[0]!;
      const expected = ipv6({
        src: V4SERVER_AS6,
        dst: V6HOST,
        nh: 58,
        hop: 63,
        payload: icmp6msg(V4SERVER_AS6, V6HOST, t6, 0, rest, data),
      });
      expect(Array.from(o)).toEqual(Array.from(expected));
    });
    it(`ICMPv6 ${t6} -> ICMPv4 ${t4}`, () => {
      const t = new Translator(config(), defaultMapper());
      const rest = (0x0101 << 16) | 0xfffe;
      const input = ipv6({
        src: V6HOST,
        dst: V4SERVER_AS6,
        nh: 58,
        payload: icmp6msg(V6HOST, V4SERVER_AS6, t6, 0, rest, data),
      });
      const o = run(t, input)[0]!;
      const expected = ipv4({
        src: V6POOL,
        dst: V4SERVER,
        proto: 1,
        ttl: 63,
        id: u16(o, 4),
        payload: icmp(t4, 0, rest, data, null),
      });
      expect(Array.from(o)).toEqual(Array.from(expected));
    });
  }

  it('drops ICMP with a bad checksum both ways', () => {
    const t = new Translator(config(), defaultMapper());
    const m4 = icmp(8, 0, 1, data, null);
    m4[5]! ^= 1;
    const m6 = icmp6msg(V6HOST, V4SERVER_AS6, 128, 0, 1, data);
    m6[5]! ^= 1;
    expect(run(t, ipv4({ src: V4SERVER, dst: V6POOL, proto: 1, payload: m4 }))).toHaveLength(0);
    expect(run(t, ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 58, payload: m6 }))).toHaveLength(0);
    expect(t.counters.dropChecksum).toBe(2);
  });

  it('drops fragmented ICMP both ways (RFC 7915 §1.2)', () => {
    const t = new Translator(config(), defaultMapper());
    const m4 = icmp(8, 0, 1, bytes(64), null);
    expect(
      run(t, ipv4({ src: V4SERVER, dst: V6POOL, proto: 1, mf: true, payload: m4.subarray(0, 40) })),
    ).toHaveLength(0);
    const frag = Uint8Array.of(58, 0, 0, 1, 0, 0, 0, 9); // offset 0, M=1
    const m6 = icmp6msg(V6HOST, V4SERVER_AS6, 128, 0, 1, bytes(64));
    expect(
      run(
        t,
        ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 44, payload: concat(frag, m6.subarray(0, 40)) }),
      ),
    ).toHaveLength(0);
    expect(t.counters.dropFragmentedIcmp).toBe(2);
  });

  it('drops informational ICMP other than echo', () => {
    const t = new Translator(config(), defaultMapper());
    expect(
      run(
        t,
        ipv4({ src: V4SERVER, dst: V6POOL, proto: 1, payload: icmp(13, 0, 0, bytes(12), null) }),
      ),
    ).toHaveLength(0);
    expect(
      run(
        t,
        ipv4({ src: V4SERVER, dst: V6POOL, proto: 1, payload: icmp(5, 1, 0, bytes(28), null) }),
      ),
    ).toHaveLength(0);
    const ns = icmp6msg(V6HOST, V4SERVER_AS6, 135, 0, 0, bytes(16));
    expect(run(t, ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 58, payload: ns }))).toHaveLength(0);
    const mld = icmp6msg(V6HOST, V4SERVER_AS6, 130, 0, 0, bytes(16));
    expect(run(t, ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 58, payload: mld }))).toHaveLength(0);
    expect(t.counters.dropUnsupportedIcmp).toBe(4);
  });
});

/** What the IPv6 host sent, as the IPv4 side saw it after translation, and as it was. */
const inner4 = (len = data.length): Uint8Array =>
  ipv4({
    src: V6POOL,
    dst: V4SERVER,
    proto: 17,
    ttl: 5,
    id: 0x777,
    payload: udp4(V6POOL, V4SERVER, bytes(len)),
  });
const inner6 = (len = data.length): Uint8Array =>
  ipv6({
    src: V6HOST,
    dst: V4SERVER_AS6,
    nh: 17,
    hop: 5,
    payload: udp6(V6HOST, V4SERVER_AS6, bytes(len)),
  });

function icmp4Error(type: number, code: number, rest: number, inner: Uint8Array): Uint8Array {
  return ipv4({
    src: ROUTER4,
    dst: V6POOL,
    proto: 1,
    ttl: 50,
    payload: icmp(type, code, rest, inner, null),
  });
}

function expected6(type: number, code: number, rest: number, inner: Uint8Array): Uint8Array {
  return ipv6({
    src: ROUTER4_AS6,
    dst: V6HOST,
    nh: 58,
    hop: 49,
    payload: icmp6msg(ROUTER4_AS6, V6HOST, type, code, rest, inner),
  });
}

describe('ICMPv4 errors -> ICMPv6 (RFC 7915 §4.2, §4.3)', () => {
  // [ICMPv4 type, code] -> [ICMPv6 type, code, 32-bit field]
  const MATRIX: [number, number, number, number, number][] = [
    [3, 0, 1, 0, 0],
    [3, 1, 1, 0, 0],
    [3, 2, 4, 1, 6],
    [3, 3, 1, 4, 0],
    [3, 5, 1, 0, 0],
    [3, 6, 1, 0, 0],
    [3, 7, 1, 0, 0],
    [3, 8, 1, 0, 0],
    [3, 9, 1, 1, 0],
    [3, 10, 1, 1, 0],
    [3, 11, 1, 0, 0],
    [3, 12, 1, 0, 0],
    [3, 13, 1, 1, 0],
    [3, 15, 1, 1, 0],
    [11, 0, 3, 0, 0],
    [11, 1, 3, 1, 0],
  ];
  for (const [t4, c4, t6, c6, rest6] of MATRIX) {
    it(`${t4}/${c4} -> ${t6}/${c6} with the embedded packet translated`, () => {
      const t = new Translator(config(), defaultMapper());
      const o = run(t, icmp4Error(t4, c4, 0, inner4()))[0]!;
      expect(Array.from(o)).toEqual(Array.from(expected6(t6, c6, rest6, inner6())));
    });
  }

  for (const [t4, c4] of [
    [3, 14],
    [3, 16],
    [4, 0],
    [5, 0],
    [12, 1],
    [11, 2],
  ]) {
    it(`${t4}/${c4} is dropped`, () => {
      const t = new Translator(config(), defaultMapper());
      expect(run(t, icmp4Error(t4!, c4!, 0, inner4()))).toHaveLength(0);
      expect(t.counters.dropUnsupportedIcmp).toBe(1);
    });
  }

  // RFC 7915 Figure 3.
  const POINTERS: [number, number][] = [
    [0, 0],
    [1, 1],
    [2, 4],
    [3, 4],
    [8, 7],
    [9, 6],
    [12, 8],
    [15, 8],
    [16, 24],
    [19, 24],
  ];
  for (const code of [0, 2]) {
    for (const [p4, p6] of POINTERS) {
      it(`parameter problem code ${code} pointer ${p4} -> ${p6}`, () => {
        const t = new Translator(config(), defaultMapper());
        const o = run(t, icmp4Error(12, code, p4 << 24, inner4()))[0]!;
        expect(Array.from(o)).toEqual(Array.from(expected6(4, 0, p6, inner6())));
      });
    }
  }
  for (const p4 of [4, 5, 6, 7, 10, 11, 20, 255]) {
    it(`parameter problem pointer ${p4} has no IPv6 counterpart: dropped`, () => {
      const t = new Translator(config(), defaultMapper());
      expect(run(t, icmp4Error(12, 0, p4 << 24, inner4()))).toHaveLength(0);
    });
  }

  describe('Fragmentation Needed -> Packet Too Big (RFC 7915 §4.2, §6)', () => {
    const cases: [string, number, number, number, number, number][] = [
      // name, advertised, inner total, ipv6Mtu, tunMtu, expected
      ['mtu + 20', 1400, 1500, 1500, 1500, 1420],
      ['bounded by the IPv6 MTU', 1492, 1500, 1500, 1500, 1500],
      // The TUN device carries both families: it bounds the IPv6 MTU as well.
      ['bounded by the TUN MTU', 9000, 9100, 9000, 1600, 1600],
      ['1280 floor', 576, 1500, 1500, 1500, 1280],
      ['MTU 0: plateau below the total length', 0, 1500, 9000, 9000, 1512],
      ['MTU 0: no plateau >= 1280 below it', 0, 1200, 9000, 9000, 1300],
      // Issue 13: offlink-mtu (1280) is no next hop; 1400 + 20 fits the TUN MTU.
      ['default offlink-mtu 1280 does not bound it', 1400, 1500, 1280, 1500, 1420],
    ];
    for (const [name, adv, itotal, v6mtu, tun, mtu6] of cases) {
      it(name, () => {
        const t = new Translator(config({ ipv6Mtu: v6mtu, tunMtu: tun }), defaultMapper());
        const len = itotal - 28;
        const o = run(t, icmp4Error(3, 4, adv, inner4(len).subarray(0, 48)))[0]!;
        const in6 = inner6(len).subarray(0, 68);
        expect(Array.from(o)).toEqual(Array.from(expected6(2, 0, mtu6, in6)));
      });
    }
  });

  it('translates an embedded echo request and its checksum', () => {
    const t = new Translator(config(), defaultMapper());
    const echo4 = ipv4({
      src: V6POOL,
      dst: V4SERVER,
      proto: 1,
      ttl: 1,
      payload: icmp(8, 0, 0x10002, data, null),
    });
    const echo6 = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 58,
      hop: 1,
      payload: icmp6msg(V6HOST, V4SERVER_AS6, 128, 0, 0x10002, data),
    });
    const o = run(t, icmp4Error(11, 0, 0, echo4))[0]!;
    expect(Array.from(o)).toEqual(Array.from(expected6(3, 0, 0, echo6)));
  });

  it('adjusts an embedded TCP checksum', () => {
    const t = new Translator(config(), defaultMapper());
    const in4 = ipv4({
      src: V6POOL,
      dst: V4SERVER,
      proto: 6,
      ttl: 3,
      payload: tcp4(V6POOL, V4SERVER, data),
    });
    const in6 = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 6,
      hop: 3,
      payload: tcp6(V6HOST, V4SERVER_AS6, data),
    });
    expect(Array.from(run(t, icmp4Error(3, 3, 0, in4))[0]!)).toEqual(
      Array.from(expected6(1, 4, 0, in6)),
    );
  });

  it('keeps the embedded length fields and truncates to 1280 bytes', () => {
    const t = new Translator(config({ ipv6Mtu: 1500 }), defaultMapper());
    const big = inner4(1400);
    const o = run(t, icmp4Error(3, 3, 0, big))[0]!;
    expect(o.length).toBe(1280);
    expect(checkIpv6(o) && checkL4v6(o)).toBe(true);
    expect(u16(o, 48 + 4)).toBe(1408); // embedded IPv6 payload length = UDP length
    expect(Array.from(o.subarray(48, 1280))).toEqual(Array.from(inner6(1400).subarray(0, 1232)));
  });

  it('drops an error about an ICMP error', () => {
    const t = new Translator(config(), defaultMapper());
    const nested = ipv4({
      src: V6POOL,
      dst: V4SERVER,
      proto: 1,
      payload: icmp(3, 1, 0, inner4(), null),
    });
    expect(run(t, icmp4Error(3, 1, 0, nested))).toHaveLength(0);
  });

  it('drops an error whose embedded packet is cut inside its IPv4 header', () => {
    const t = new Translator(config(), defaultMapper());
    expect(run(t, icmp4Error(3, 1, 0, inner4().subarray(0, 16)))).toHaveLength(0);
    expect(t.counters.dropTruncated).toBe(1);
  });
});

/** What the IPv4 server sent, as the IPv6 side saw it after translation, and as it was. */
const sent6 = (len = data.length): Uint8Array =>
  ipv6({
    src: V4SERVER_AS6,
    dst: V6HOST,
    nh: 17,
    hop: 9,
    payload: udp6(V4SERVER_AS6, V6HOST, bytes(len)),
  });
const sent4 = (len = data.length, df = false): Uint8Array =>
  ipv4({
    src: V4SERVER,
    dst: V6POOL,
    proto: 17,
    ttl: 9,
    id: 0,
    df,
    payload: udp4(V4SERVER, V6POOL, bytes(len)),
  });

function icmp6Error(
  type: number,
  code: number,
  rest: number,
  inner: Uint8Array,
  from = ROUTER6,
): Uint8Array {
  return ipv6({
    src: from,
    dst: V4SERVER_AS6,
    nh: 58,
    hop: 30,
    payload: icmp6msg(from, V4SERVER_AS6, type, code, rest, inner),
  });
}

function expected4(
  o: Uint8Array,
  type: number,
  code: number,
  rest: number,
  inner: Uint8Array,
  from = OWN4,
): Uint8Array {
  return ipv4({
    src: from,
    dst: V4SERVER,
    proto: 1,
    ttl: 29,
    id: u16(o, 4),
    payload: icmp(type, code, rest, inner, null),
  });
}

describe('ICMPv6 errors -> ICMPv4 (RFC 7915 §5.2, §5.3)', () => {
  const MATRIX: [number, number, number, number, number][] = [
    [1, 0, 3, 1, 0],
    [1, 1, 3, 10, 0],
    [1, 2, 3, 1, 0],
    [1, 3, 3, 1, 0],
    [1, 4, 3, 3, 0],
    [3, 0, 11, 0, 0],
    [3, 1, 11, 1, 0],
    [4, 1, 3, 2, 0],
  ];
  for (const [t6, c6, t4, c4, rest4] of MATRIX) {
    it(`${t6}/${c6} -> ${t4}/${c4} from the RFC 6791 address`, () => {
      const t = new Translator(config(), defaultMapper());
      const o = run(t, icmp6Error(t6, c6, 0, sent6()))[0]!;
      expect(Array.from(o)).toEqual(Array.from(expected4(o, t4, c4, rest4, sent4())));
      expect(t.counters.icmpRfc6791Source).toBe(1);
    });
  }

  it('uses the mapped IPv4 address of a source that has one', () => {
    const t = new Translator(config(), defaultMapper());
    const o = run(t, icmp6Error(1, 4, 0, sent6(), V6HOST))[0]!;
    expect(Array.from(o)).toEqual(Array.from(expected4(o, 3, 3, 0, sent4(), V6POOL)));
    expect(t.counters.icmpRfc6791Source).toBe(0);
  });

  for (const [t6, c6] of [
    [1, 5],
    [1, 6],
    [4, 2],
    [3, 2],
    [100, 0],
  ]) {
    it(`${t6}/${c6} is dropped`, () => {
      const t = new Translator(config(), defaultMapper());
      expect(run(t, icmp6Error(t6!, c6!, 0, sent6()))).toHaveLength(0);
      expect(t.counters.dropUnsupportedIcmp).toBe(1);
    });
  }

  // RFC 7915 Figure 6.
  const POINTERS: [number, number][] = [
    [0, 0],
    [1, 1],
    [4, 2],
    [5, 2],
    [6, 9],
    [7, 8],
    [8, 12],
    [23, 12],
    [24, 16],
    [39, 16],
  ];
  for (const [p6, p4] of POINTERS) {
    it(`parameter problem pointer ${p6} -> ${p4}`, () => {
      const t = new Translator(config(), defaultMapper());
      const o = run(t, icmp6Error(4, 0, p6, sent6()))[0]!;
      expect(Array.from(o)).toEqual(Array.from(expected4(o, 12, 0, (p4 << 24) >>> 0, sent4())));
    });
  }
  for (const p6 of [2, 3, 40, 300]) {
    it(`parameter problem pointer ${p6} has no IPv4 counterpart: dropped`, () => {
      const t = new Translator(config(), defaultMapper());
      expect(run(t, icmp6Error(4, 0, p6, sent6()))).toHaveLength(0);
    });
  }

  describe('Packet Too Big -> Fragmentation Needed (RFC 7915 §5.2)', () => {
    it('MTU - 20', () => {
      const t = new Translator(config({ ipv6Mtu: 1500 }), defaultMapper());
      const o = run(t, icmp6Error(2, 0, 1400, sent6()))[0]!;
      expect(Array.from(o)).toEqual(Array.from(expected4(o, 3, 4, 1380, sent4())));
    });
    it('bounded by the next-hop MTUs (the TUN device), never by offlink-mtu', () => {
      const a = new Translator(config({ ipv6Mtu: 9000, tunMtu: 1400 }), defaultMapper());
      const oa = run(a, icmp6Error(2, 0, 8000, sent6()))[0]!;
      expect(u32(oa, 24)).toBe(1380);
      // offlink-mtu is RFC 7915 §4.1's fragmentation size for DF-clear packets, not a next hop.
      const b = new Translator(config({ ipv6Mtu: 1300, tunMtu: 9000 }), defaultMapper());
      const ob = run(b, icmp6Error(2, 0, 8000, sent6()))[0]!;
      expect(u32(ob, 24)).toBe(7980);
    });
    it('issue 13: Packet Too Big 1400 with the default offlink-mtu 1280 -> 1380, not 1260', () => {
      const t = new Translator(config({ ipv6Mtu: 1280, tunMtu: 1500 }), defaultMapper());
      const o = run(t, icmp6Error(2, 0, 1400, sent6()))[0]!;
      expect(Array.from(o)).toEqual(Array.from(expected4(o, 3, 4, 1380, sent4())));
    });
    it('MTU - 28 when the packet in error carried a Fragment header', () => {
      const t = new Translator(config({ ipv6Mtu: 1500 }), defaultMapper());
      const u = udp6(V4SERVER_AS6, V6HOST, data);
      const fh = Uint8Array.of(17, 0, 0, 0, 0, 0, 0x12, 0x34);
      const inner = ipv6({
        src: V4SERVER_AS6,
        dst: V6HOST,
        nh: 44,
        hop: 9,
        payload: concat(fh, u),
      });
      const o = run(t, icmp6Error(2, 0, 1400, inner))[0]!;
      const in4 = ipv4({
        src: V4SERVER,
        dst: V6POOL,
        proto: 17,
        ttl: 9,
        id: 0x1234,
        payload: udp4(V4SERVER, V6POOL, data),
      });
      expect(Array.from(o)).toEqual(Array.from(expected4(o, 3, 4, 1372, in4)));
    });
  });

  it('translates an embedded echo reply and its checksum', () => {
    const t = new Translator(config(), defaultMapper());
    const in6 = ipv6({
      src: V4SERVER_AS6,
      dst: V6HOST,
      nh: 58,
      hop: 2,
      payload: icmp6msg(V4SERVER_AS6, V6HOST, 129, 0, 0x30004, data),
    });
    const in4 = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 1,
      ttl: 2,
      id: 0,
      payload: icmp(0, 0, 0x30004, data, null),
    });
    const o = run(t, icmp6Error(1, 0, 0, in6))[0]!;
    expect(Array.from(o)).toEqual(Array.from(expected4(o, 3, 1, 0, in4)));
  });

  it('truncates to 576 bytes keeping the embedded total length', () => {
    const t = new Translator(config(), defaultMapper());
    const o = run(t, icmp6Error(1, 4, 0, sent6(1184)))[0]!;
    expect(o.length).toBe(576);
    expect(checkIpv4(o) && checkL4v4(o)).toBe(true);
    expect(u16(o, 28 + 2)).toBe(20 + 8 + 1184);
    expect(Array.from(o.subarray(28))).toEqual(Array.from(sent4(1184).subarray(0, 548)));
  });

  it('drops an error whose embedded destination cannot be mapped', () => {
    const t = new Translator(config(), defaultMapper());
    const inner = ipv6({
      src: V4SERVER_AS6,
      dst: '2001:db8:9::9',
      nh: 17,
      payload: udp6(V4SERVER_AS6, '2001:db8:9::9', data),
    });
    expect(run(t, icmp6Error(1, 4, 0, inner))).toHaveLength(0);
    expect(t.counters.dropNoMapping).toBe(1);
  });

  it('sends no Time Exceeded about an expiring ICMPv6 error', () => {
    const t = new Translator(config(), defaultMapper());
    const e = icmp6Error(1, 4, 0, sent6());
    e[7] = 1;
    expect(run(t, e)).toHaveLength(0);
    expect(t.counters.icmp6ErrorsSent).toBe(0);
    expect(t.counters.dropHopLimit).toBe(1);
  });

  it('embedded IPv4 header checksum is valid', () => {
    const t = new Translator(config(), defaultMapper());
    const o = run(t, icmp6Error(3, 0, 0, sent6()))[0]!;
    expect(checkIpv4(o.subarray(28, 48 + 8 + data.length))).toBe(true);
    expect(u32(o, 12)).toBe(ip4(OWN4));
  });
});
