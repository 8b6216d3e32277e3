/**
 * What a translator must never forward (issue 13): a source inside the NAT64 prefix
 * (RFC 6146 §3.5), IPv4 addresses that are not unicast (RFC 1812 §5.3.5.1, §5.3.7, RFC 3927
 * §7), a Fragment header followed by an extension header (RFC 7915 §5.1), and ICMP errors
 * beyond the rate limit (RFC 4443 §2.4 (f), RFC 1812 §4.3.2.8).
 */
import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import {
  bytes,
  concat,
  config,
  defaultMapper,
  icmp,
  inetChecksum,
  ip4,
  ip6,
  ipv4,
  ipv6,
  OWN6,
  pseudo6,
  run,
  TestMapper,
  udp4,
  udp6,
  u16,
  V4SERVER,
  V4SERVER_AS6,
  V6HOST,
  V6POOL,
} from './helpers.js';

const data = bytes(24);

describe('IPv6 source inside the NAT64 prefix (RFC 6146 §3.5)', () => {
  const SRC = '2001:db8:64::c612:5'; // 198.18.0.5 inside the prefix
  const DST = '2001:db8:64::c612:2';
  const pkt = (hop = 64) =>
    ipv6({ src: SRC, dst: DST, nh: 17, hop, payload: udp6(SRC, DST, data) });

  it('is discarded silently in stateless mode, with no dynamic mapping asked for', () => {
    const mapper = defaultMapper();
    const t = new Translator(config(), mapper);
    expect(run(t, pkt())).toEqual([]);
    // Not even an ICMPv6 Time Exceeded for an expiring one.
    expect(run(t, pkt(1))).toEqual([]);
    expect(t.counters.dropSourceInPrefix).toBe(2);
    expect(mapper.calls.filter((c) => c.endsWith(' true'))).toEqual([]);
    expect(t.counters.icmp6ErrorsSent).toBe(0);
  });

  it('an ICMPv6 error from inside the prefix is discarded too', () => {
    const t = new Translator(config(), defaultMapper());
    const quoted = ipv6({
      src: V6HOST,
      dst: DST,
      nh: 17,
      payload: udp6(V6HOST, DST, data),
    });
    const err = ipv6({
      src: SRC,
      dst: V6HOST,
      nh: 58,
      payload: icmp(1, 0, 0, quoted, pseudo6(ip6(SRC), ip6(V6HOST), 58, 8 + quoted.length)),
    });
    expect(run(t, err)).toEqual([]);
    expect(t.counters.dropSourceInPrefix).toBe(1);
  });
});

describe('IPv4 destinations that are not unicast (RFC 1812 §5.3.5.1, §5.3.7, RFC 3927 §7)', () => {
  const classes: [string, string][] = [
    ['limited broadcast', '255.255.255.255'],
    ['multicast (mDNS)', '224.0.0.251'],
    ['multicast, last', '239.255.255.255'],
    ['loopback', '127.0.0.1'],
    ['"this network"', '0.0.0.1'],
    ['link-local', '169.254.1.1'],
    ['reserved 240/4', '240.0.0.1'],
  ];
  for (const [name, v4] of classes) {
    const as6 = `2001:db8:64::${v4}`;
    it(`IPv6 -> ${v4} (${name}) is dropped, counted, no ICMP even at hop limit 1`, () => {
      const t = new Translator(config(), defaultMapper());
      for (const hop of [64, 1]) {
        const p = ipv6({ src: V6HOST, dst: as6, nh: 17, hop, payload: udp6(V6HOST, as6, data) });
        expect(run(t, p)).toEqual([]);
      }
      expect(t.counters.dropNonUnicastDestination).toBe(2);
      expect(t.counters.translated6to4).toBe(0);
    });
    it(`IPv4 from ${v4} (${name}) is not forwarded to IPv6`, () => {
      const t = new Translator(config(), defaultMapper());
      const p = ipv4({ src: v4, dst: V6POOL, proto: 17, payload: udp4(v4, V6POOL, data) });
      expect(run(t, p)).toEqual([]);
      expect(t.counters.dropMartianSource).toBe(1);
      const q = ipv4({ src: V4SERVER, dst: v4, proto: 17, payload: udp4(V4SERVER, v4, data) });
      expect(run(t, q)).toEqual([]);
      expect(t.counters.dropNonUnicastDestination).toBe(1);
      expect(t.counters.icmp4ErrorsSent).toBe(0);
    });
  }

  for (const src of ['::', '::1', 'fe80::1', 'febf::1', 'ff02::fb']) {
    it(`IPv6 from ${src} (not a forwardable unicast source, RFC 4291) is dropped, no pool address`, () => {
      const mapper = defaultMapper();
      const t = new Translator(config(), mapper);
      const p = ipv6({ src, dst: V4SERVER_AS6, nh: 17, payload: udp6(src, V4SERVER_AS6, data) });
      expect(run(t, p)).toEqual([]);
      expect(t.counters.dropMartianSource).toBe(1);
      expect(mapper.calls.filter((c) => c.endsWith(' true'))).toEqual([]);
    });
  }

  it('the unicast neighbours of those classes still go through', () => {
    const t = new Translator(config(), defaultMapper());
    for (const v4 of [
      '1.0.0.1',
      '126.255.255.254',
      '169.253.1.1',
      '169.255.1.1',
      '223.255.255.254',
    ]) {
      const as6 = `2001:db8:64::${v4}`;
      const p = ipv6({ src: V6HOST, dst: as6, nh: 17, payload: udp6(V6HOST, as6, data) });
      const out = run(t, p);
      expect(out).toHaveLength(1);
      expect(u16(out[0]!, 16) * 65536 + u16(out[0]!, 18)).toBe(ip4(v4));
    }
    // IPv6 sources just outside the refused classes.
    const pairs: [string, string][] = [
      ['::2', '198.51.100.12'],
      ['fe7f::1', '198.51.100.13'],
      ['fec0::1', '198.51.100.14'],
      ['feff::1', '198.51.100.15'],
    ];
    const t6 = new Translator(config(), new TestMapper(pairs));
    for (const [src, v4] of pairs) {
      const p = ipv6({ src, dst: V4SERVER_AS6, nh: 17, payload: udp6(src, V4SERVER_AS6, data) });
      const out = run(t6, p);
      expect(out).toHaveLength(1);
      expect(u16(out[0]!, 12) * 65536 + u16(out[0]!, 14)).toBe(ip4(v4));
    }
  });
});

describe('Fragment header followed by an extension header (RFC 7915 §5.1)', () => {
  // Destination Options (8 bytes: PadN) after the Fragment header, in both fragments' chain.
  const destOpts = (next: number) => Uint8Array.of(next, 0, 1, 4, 0, 0, 0, 0);
  const fragHdr = (next: number, offset: number, more: boolean) =>
    Uint8Array.of(
      next,
      0,
      (offset >> 8) & 0xff,
      (offset & 0xf8) | (more ? 1 : 0),
      0,
      0,
      0x12,
      0x34,
    );

  it('drops the first and the non-first fragment alike', () => {
    const t = new Translator(config(), defaultMapper());
    const whole = udp6(V6HOST, V4SERVER_AS6, bytes(64));
    const first = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(fragHdr(60, 0, true), destOpts(17), whole.subarray(0, 32)),
    });
    // The second fragment's Fragment header names Destination Options as the next header.
    const second = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(fragHdr(60, 40, false), whole.subarray(32)),
    });
    expect(run(t, first)).toEqual([]);
    expect(run(t, second)).toEqual([]);
    // An atomic fragment with options after the Fragment header, too.
    const atomic = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(fragHdr(60, 0, false), destOpts(17), whole),
    });
    expect(run(t, atomic)).toEqual([]);
    expect(t.counters.dropExtensionAfterFragment).toBe(3);
    expect(t.counters.translated6to4).toBe(0);
  });

  it('Destination Options before the Fragment header are still removed and translated', () => {
    const t = new Translator(config(), defaultMapper());
    const whole = udp6(V6HOST, V4SERVER_AS6, bytes(64));
    const p = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 60,
      payload: concat(destOpts(44), fragHdr(17, 0, true), whole.subarray(0, 32)),
    });
    const out = run(t, p);
    expect(out).toHaveLength(1);
    expect(u16(out[0]!, 2)).toBe(52);
    expect(u16(out[0]!, 6)).toBe(0x2000); // MF, offset 0, DF clear
  });
});

describe('ICMP error rate limit (RFC 4443 §2.4 (f), RFC 1812 §4.3.2.8, RFC 7915 §5.4)', () => {
  it('300 expiring IPv6 packets in one burst: `burst` Time Exceeded, then rate per second', () => {
    let now = 1000;
    const t = new Translator(
      config({ icmpErrorRate: 10, icmpErrorBurst: 5, clock: () => now }),
      defaultMapper(),
    );
    const p = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 17,
      hop: 1,
      payload: udp6(V6HOST, V4SERVER_AS6, data),
    });
    let sent: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) sent.push(...run(t, p));
    expect(sent).toHaveLength(5);
    // Each is the exact Time Exceeded (RFC 4443 §3.3) from the translator's address.
    const msg = concat(Uint8Array.of(3, 0, 0, 0, 0, 0, 0, 0), p);
    const ck = inetChecksum(pseudo6(ip6(OWN6), ip6(V6HOST), 58, msg.length), msg);
    msg[2] = ck >> 8;
    msg[3] = ck & 0xff;
    const expected = ipv6({ src: OWN6, dst: V6HOST, nh: 58, hop: 64, payload: msg });
    for (const e of sent) expect(Array.from(e)).toEqual(Array.from(expected));
    expect(t.counters.icmp6ErrorsSent).toBe(5);
    expect(t.counters.icmpErrorsRateLimited).toBe(295);
    expect(t.counters.dropHopLimit).toBe(300);
    // 0.5 s later: 5 more tokens (10 per second).
    now += 500;
    sent = [];
    for (let i = 0; i < 300; i++) sent.push(...run(t, p));
    expect(sent).toHaveLength(5);
  });

  it('ICMPv4 errors have their own bucket; rate 0 sends none', () => {
    let now = 0;
    const t = new Translator(
      config({ icmpErrorRate: 2, icmpErrorBurst: 2, clock: () => now }),
      defaultMapper(),
    );
    const p4 = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      ttl: 1,
      payload: udp4(V4SERVER, V6POOL, data),
    });
    let n = 0;
    for (let i = 0; i < 10; i++) n += run(t, p4).length;
    expect(n).toBe(2);
    expect(t.counters.icmp4ErrorsSent).toBe(2);
    now += 1000;
    n = 0;
    for (let i = 0; i < 10; i++) n += run(t, p4).length;
    expect(n).toBe(2);
    const off = new Translator(config({ icmpErrorRate: 0 }), defaultMapper());
    expect(run(off, p4)).toEqual([]);
    expect(off.counters.icmpErrorsRateLimited).toBe(1);
    expect(off.counters.dropHopLimit).toBe(1);
  });
});
