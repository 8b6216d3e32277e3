/**
 * The core Translator with the StatefulNat hook: whole packets in, whole packets out, checked
 * with the independent checksum helpers of the core tests.
 */
import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import { GSO_UDP, segmentUdp4 } from '../../src/core/gso-segment.js';
import { TCP_STATE_NAMES } from '../../src/stateful/index.js';
import {
  TestMapper,
  bytes,
  checkIpv4,
  checkL4v4,
  checkIpv6,
  checkL4v6,
  concat,
  config,
  hex6,
  icmp,
  icmp6msg,
  ip4,
  ip6,
  ipv4,
  ipv6,
  pseudo4,
  pseudo6,
  run,
  tcp,
  u16,
  u32,
  udp,
} from '../core/helpers.js';
import { ACK, SYN, harness } from './helpers.js';

const HOST = '2001:db8:1::2';
const HOST_B = '2001:db8:1::5';
const STATIC_HOST = '2001:db8:1::10';
const SERVER = '203.0.113.7';
const SERVER6 = '2001:db8:64::cb00:7107';
const POOL4 = '198.51.100.1';
const POOL4_AS6 = '2001:db8:64::c633:6401';
const ROUTER4 = '203.0.113.1';
const data = new TextEncoder().encode('stateful nat64 test payload');

function setup(...lines: string[]) {
  const h = harness(['pool4 198.51.100.1 61000-65535', ...lines]);
  const mapper = new TestMapper([[STATIC_HOST, '198.51.100.10']]);
  const t = new Translator(config(), mapper, h.nat);
  return { ...h, t };
}

function udp6(src: string, sport: number, dst: string, dport: number): Uint8Array {
  const seg = udp(sport, dport, data, pseudo6(ip6(src), ip6(dst), 17, 8 + data.length));
  return ipv6({ src, dst, nh: 17, payload: seg });
}

function udp4(src: string, sport: number, dst: string, dport: number): Uint8Array {
  const seg = udp(sport, dport, data, pseudo4(ip4(src), ip4(dst), 17, 8 + data.length));
  return ipv4({ src, dst, proto: 17, payload: seg });
}

function tcpSeg(sport: number, dport: number, flags: number, ph: Uint8Array): Uint8Array {
  const seg = tcp(sport, dport, new Uint8Array(0), ph);
  // tcp() writes flags 0x18: set ours and recompute the checksum field from scratch.
  seg[13] = flags;
  seg[16] = 0;
  seg[17] = 0;
  let sum = 0;
  const all = [...ph, ...seg];
  for (let i = 0; i < all.length; i += 2) sum += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const ck = ~sum & 0xffff;
  seg[16] = ck >> 8;
  seg[17] = ck & 0xff;
  return seg;
}

function tcp6(src: string, sport: number, dst: string, dport: number, flags: number) {
  const ph = pseudo6(ip6(src), ip6(dst), 6, 20);
  return ipv6({ src, dst, nh: 6, payload: tcpSeg(sport, dport, flags, ph) });
}

function tcp4(src: string, sport: number, dst: string, dport: number, flags: number) {
  const ph = pseudo4(ip4(src), ip4(dst), 6, 20);
  return ipv4({ src, dst, proto: 6, payload: tcpSeg(sport, dport, flags, ph) });
}

const fmt4 = (a: number) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');

function one(t: Translator, p: Uint8Array): Uint8Array {
  const out = run(t, p);
  expect(out).toHaveLength(1);
  return out[0]!;
}

describe('stateful translation of whole packets', () => {
  it('UDP: IPv6 -> IPv4 with the pool4 address and a port in range, and the reply back', () => {
    const { t } = setup();
    const o = one(t, udp6(HOST, 40000, SERVER6, 53));
    expect(checkIpv4(o) && checkL4v4(o)).toBe(true);
    expect(fmt4(u32(o, 12))).toBe(POOL4);
    expect(fmt4(u32(o, 16))).toBe(SERVER);
    const port4 = u16(o, 20);
    expect(port4 >= 61000 && port4 <= 65535 && port4 % 2 === 0).toBe(true);
    expect(u16(o, 22)).toBe(53);

    const back = one(t, udp4(SERVER, 53, POOL4, port4));
    expect(checkIpv6(back) && checkL4v6(back)).toBe(true);
    expect(hex6(back, 8)).toBe(hex6(ip6(SERVER6)));
    expect(hex6(back, 24)).toBe(hex6(ip6(HOST)));
    expect([u16(back, 40), u16(back, 42)]).toEqual([53, 40000]);
    expect(t.counters.translated6to4 + t.counters.translated4to6).toBe(2);
  });

  it('TCP: handshake through the session, checksums correct, state ESTABLISHED', () => {
    const { t, nat } = setup();
    const syn = one(t, tcp6(HOST, 50001, SERVER6, 80, 0x02));
    expect(checkL4v4(syn)).toBe(true);
    const port4 = u16(syn, 20);
    expect(port4 % 2).toBe(1);
    const synAck = one(t, tcp4(SERVER, 80, POOL4, port4, 0x12));
    expect(checkL4v6(synAck)).toBe(true);
    expect(u16(synAck, 42)).toBe(50001);
    const s = nat.tcp.lookupFrom6(ip6(HOST), 0, 50001, ip4(SERVER), 80);
    expect(TCP_STATE_NAMES[nat.tcp.sessionState(s)]).toBe('ESTABLISHED');
  });

  it('ICMP echo: the identifier is mapped and restored', () => {
    const { t } = setup();
    const req = icmp6msg(HOST, SERVER6, 128, 0, (0x0777 << 16) | 1, data);
    const o = one(t, ipv6({ src: HOST, dst: SERVER6, nh: 58, payload: req }));
    expect(checkL4v4(o)).toBe(true);
    expect(o[20]).toBe(8);
    const id4 = u16(o, 24);
    expect(id4 >= 61000).toBe(true);
    const reply = icmp(0, 0, (id4 << 16) | 1, data, null);
    const back = one(t, ipv4({ src: SERVER, dst: POOL4, proto: 1, payload: reply }));
    expect(checkL4v6(back)).toBe(true);
    expect([back[40], u16(back, 44), u16(back, 46)]).toEqual([129, 0x0777, 1]);
    expect(hex6(back, 24)).toBe(hex6(ip6(HOST)));
  });

  it('an inbound packet with no session is dropped without any reply', () => {
    const { t, nat } = setup();
    expect(run(t, udp4(SERVER, 53, POOL4, 61234))).toEqual([]);
    expect(run(t, tcp4(SERVER, 80, POOL4, 61234, 0x02))).toEqual([]);
    expect(t.counters.dropStateful).toBe(2);
    expect(t.counters.icmp4ErrorsSent).toBe(0);
    expect(nat.stats().udp.dropNoBib + nat.stats().tcp.dropNoBib).toBe(2);
  });

  it('a statically mapped host stays stateless (address only, ports untouched)', () => {
    const { t, nat } = setup();
    const o = one(t, udp6(STATIC_HOST, 40000, SERVER6, 53));
    expect(fmt4(u32(o, 12))).toBe('198.51.100.10');
    expect(u16(o, 20)).toBe(40000);
    expect(nat.sessionCount).toBe(0);
  });

  it('a first fragment with no session is refused like any unsolicited packet (fragments: fragments.test.ts)', () => {
    const { t } = setup();
    const seg = udp(53, 61000, data, pseudo4(ip4(SERVER), ip4(POOL4), 17, 8 + data.length));
    const frag = ipv4({ src: SERVER, dst: POOL4, proto: 17, payload: seg, mf: true });
    expect(run(t, frag)).toEqual([]);
    expect(t.counters.dropStateful).toBe(1);
    expect(t.counters.statefulFragmentsHeld).toBe(0);
  });
});

describe('ICMP errors carried through a session (RFC 6146 section 3.5.4)', () => {
  it('ICMPv4 port unreachable about our UDP packet -> ICMPv6 to the host, inner ports restored', () => {
    const { t } = setup();
    const sent = one(t, udp6(HOST, 40000, SERVER6, 5353));
    const port4 = u16(sent, 20);
    const quoted = sent.slice(); // what the server received, TTL and all
    const err = ipv4({ src: ROUTER4, dst: POOL4, proto: 1, payload: icmp(3, 3, 0, quoted, null) });
    const o = one(t, err);
    expect(checkIpv6(o) && checkL4v6(o)).toBe(true);
    expect([o[40], o[41]]).toEqual([1, 4]); // Destination Unreachable, port unreachable
    expect(hex6(o, 8)).toBe(hex6(ip6('2001:db8:64::cb00:7101')));
    expect(hex6(o, 24)).toBe(hex6(ip6(HOST)));
    const inner = o.subarray(48);
    expect(hex6(inner, 8)).toBe(hex6(ip6(HOST)));
    expect(hex6(inner, 24)).toBe(hex6(ip6(SERVER6)));
    expect([u16(inner, 40), u16(inner, 42)]).toEqual([40000, 5353]);
    expect(checkL4v6(inner)).toBe(true); // the quoted UDP checksum matches its new header
    expect(port4).not.toBe(40000);
  });

  it('ICMPv4 error about a packet with no session is dropped', () => {
    const { t } = setup();
    const quoted = udp4(POOL4, 61000, SERVER, 53);
    const err = ipv4({ src: ROUTER4, dst: POOL4, proto: 1, payload: icmp(3, 3, 0, quoted, null) });
    expect(run(t, err)).toEqual([]);
    expect(t.counters.dropStateful).toBe(1);
  });

  it('ICMPv6 error from the host about a packet it received -> ICMPv4 from the pool4 address', () => {
    const { t } = setup();
    const sent = one(t, udp6(HOST, 40000, SERVER6, 5353));
    const port4 = u16(sent, 20);
    const delivered = one(t, udp4(SERVER, 5353, POOL4, port4));
    const err6 = icmp6msg(HOST, SERVER6, 1, 4, 0, delivered);
    const o = one(t, ipv6({ src: HOST, dst: SERVER6, nh: 58, payload: err6 }));
    expect(checkIpv4(o) && checkL4v4(o)).toBe(true);
    expect([o[20], o[21]]).toEqual([3, 3]);
    expect(fmt4(u32(o, 12))).toBe(POOL4);
    expect(fmt4(u32(o, 16))).toBe(SERVER);
    const inner = o.subarray(28);
    expect(fmt4(u32(inner, 12))).toBe(SERVER);
    expect(fmt4(u32(inner, 16))).toBe(POOL4);
    expect([u16(inner, 20), u16(inner, 22)]).toEqual([5353, port4]);
    expect(checkL4v4(inner)).toBe(true);
  });

  it('ICMP echo quoted in an error gets its identifier restored', () => {
    const { t } = setup();
    const req = icmp6msg(HOST, SERVER6, 128, 0, (0x0999 << 16) | 3, data);
    const sent = one(t, ipv6({ src: HOST, dst: SERVER6, nh: 58, payload: req }));
    const err = ipv4({ src: ROUTER4, dst: POOL4, proto: 1, payload: icmp(11, 0, 0, sent, null) });
    const o = one(t, err);
    expect([o[40], o[41]]).toEqual([3, 0]); // Time Exceeded
    const inner = o.subarray(48);
    expect([inner[40], u16(inner, 44)]).toEqual([128, 0x0999]);
    expect(checkL4v6(inner)).toBe(true);
  });
});

describe('hairpinning (RFC 6146 section 3.8)', () => {
  it('an IPv6 host reaches another through its pool4 transport address, and back', () => {
    const { t, nat } = setup('bib udp 2001:db8:1::5#53 198.51.100.1#5353');
    const o = one(t, udp6(HOST, 40000, POOL4_AS6, 5353));
    expect(checkIpv6(o) && checkL4v6(o)).toBe(true);
    expect(hex6(o, 24)).toBe(hex6(ip6(HOST_B)));
    expect(hex6(o, 8)).toBe(hex6(ip6(POOL4_AS6))); // A appears as its pool4 address
    const portA = u16(o, 40);
    expect(u16(o, 42)).toBe(53);
    expect(portA >= 61000).toBe(true);
    const back = one(t, udp6(HOST_B, 53, POOL4_AS6, portA));
    expect(checkL4v6(back)).toBe(true);
    expect(hex6(back, 24)).toBe(hex6(ip6(HOST)));
    expect(hex6(back, 8)).toBe(hex6(ip6(POOL4_AS6)));
    expect([u16(back, 40), u16(back, 42)]).toEqual([5353, 40000]);
    expect(t.counters.hairpinned).toBe(2);
    expect(nat.stats().udp.sessions).toBe(2);
  });

  it('address-dependent filtering applies to hairpinned traffic too', () => {
    const { t } = setup('address-dependent-filtering yes');
    const sent = one(t, udp6(HOST, 40000, SERVER6, 53));
    // Host B sends to A's pool4 transport address: B's address is not one A talked to.
    expect(run(t, udp6(HOST_B, 53, POOL4_AS6, u16(sent, 20)))).toEqual([]);
    expect(t.counters.hairpinned).toBe(1);
    expect(t.counters.dropStateful).toBe(1);
  });
});

describe('TCP/IPv6 GSO super-packets (TUN offload) in stateful mode', () => {
  // What the addon hands over: a TCP segment larger than the MTU whose checksum field holds
  // the complement of the folded pseudo-header sum without length (Linux's GSO convention,
  // complemented by the addon).
  const MSS = 1000;
  const payload = bytes(2500, 7);
  const partial = (ph: Uint8Array) => {
    let s = 0;
    for (let i = 0; i < ph.length; i += 2) s += (ph[i]! << 8) | ph[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  };
  function gso6(src: string, sport: number, dst: string, dport: number, flags: number) {
    const seg = tcp(sport, dport, payload, pseudo6(ip6(src), ip6(dst), 6, 20 + payload.length));
    seg[13] = flags;
    const ck = partial(pseudo6(ip6(src), ip6(dst), 6, 0));
    seg[16] = ck >> 8;
    seg[17] = ck & 0xff;
    return ipv6({ src, dst, nh: 6, payload: seg });
  }
  function offloadSetup(...lines: string[]) {
    const h = harness(['pool4 198.51.100.1 61000-65535', ...lines]);
    const t = new Translator(config({ ipv4MaxPacket: 65535 }), new TestMapper([]), h.nat);
    return { ...h, t };
  }
  function gsoRun(t: Translator, p: Uint8Array): Uint8Array[] {
    t.gso = MSS;
    try {
      return run(t, p);
    } finally {
      t.gso = 0;
    }
  }

  it('one GSO packet out as one IPv4 packet: the port rewrite stays out of the partial checksum', () => {
    const { t } = offloadSetup();
    const syn = one(t, tcp6(HOST, 40000, SERVER6, 80, SYN));
    const port = u16(syn, 20);
    const [o, ...rest] = gsoRun(t, gso6(HOST, 40000, SERVER6, 80, ACK | 0x08));
    expect(rest).toEqual([]);
    expect(checkIpv4(o!)).toBe(true);
    expect([u16(o!, 20), u16(o!, 22)]).toEqual([port, 80]);
    expect(o!.subarray(40)).toEqual(payload);
    // The IPv4 pseudo-header sum (pool4 address, server, no length), as the kernel expects.
    expect(u16(o!, 36)).toBe(partial(pseudo4(ip4(POOL4), ip4(SERVER), 6, 0)));
  });

  it('a hairpinned GSO packet is segmented as the kernel would, each segment with a full checksum', () => {
    const { t } = offloadSetup('bib tcp 2001:db8:1::5#80 198.51.100.1#8080');
    const syn = one(t, tcp6(HOST, 40000, POOL4_AS6, 8080, SYN));
    expect(hex6(syn, 24)).toBe(hex6(ip6(HOST_B)));
    const portA = u16(syn, 40);
    const out = gsoRun(t, gso6(HOST, 40000, POOL4_AS6, 8080, ACK | 0x08 | 0x01 | 0x80));
    expect(out.map((p) => p.length - 60)).toEqual([1000, 1000, 500]);
    for (const p of out) {
      expect(checkIpv6(p) && checkL4v6(p)).toBe(true);
      expect(hex6(p, 8)).toBe(hex6(ip6(POOL4_AS6)));
      expect(hex6(p, 24)).toBe(hex6(ip6(HOST_B)));
      expect([u16(p, 40), u16(p, 42)]).toEqual([portA, 80]);
    }
    expect(out.map((p) => u32(p, 44) - 0x01020304)).toEqual([0, 1000, 2000]);
    // CWR on the first segment only, FIN and PSH on the last only.
    expect(out.map((p) => p[53])).toEqual([ACK | 0x80, ACK, ACK | 0x08 | 0x01]);
    expect(concat(...out.map((p) => p.subarray(60)))).toEqual(payload);
    expect(t.counters.hairpinned).toBe(2);
  });
});

describe('UDP GSO packets (TUN UDP offload) in stateful mode', () => {
  const SIZE = 64;
  const N = 4;
  const chunk = (k: number) => bytes(SIZE, k + 1);
  /** N datagrams one by one (full checksums). */
  const datagrams = (dst: string, dport: number) =>
    Array.from({ length: N }, (_, k) =>
      ipv6({
        src: HOST,
        dst,
        nh: 17,
        payload: udp(40000, dport, chunk(k), pseudo6(ip6(HOST), ip6(dst), 17, 8 + SIZE)),
      }),
    );
  /** The same run as one UDP GSO packet after the addon (complemented pseudo-header sum). */
  function run6(dst: string, dport: number): Uint8Array {
    const u = udp(40000, dport, concat(...Array.from({ length: N }, (_, k) => chunk(k))), null);
    const ph = pseudo6(ip6(HOST), ip6(dst), 17, u.length);
    let s = 0;
    for (let i = 0; i < ph.length; i += 2) s += (ph[i]! << 8) | ph[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    const ck = ~s & 0xffff;
    u[6] = ck >> 8;
    u[7] = ck & 0xff;
    return ipv6({ src: HOST, dst, nh: 17, payload: u });
  }
  const make = (...lines: string[]) =>
    new Translator(
      config({ ipv4MaxPacket: 65535 }),
      new TestMapper([]),
      harness(['pool4 198.51.100.1 61000-65535', ...lines]).nat,
    );
  const G = SIZE | GSO_UDP;

  it('whole: the source port rewritten once, and the segments are the datagrams one by one', () => {
    const ref = make();
    const expected = datagrams(SERVER6, 53).flatMap((p) => run(ref, p));
    const t = make();
    const p = run6(SERVER6, 53);
    expect(t.udpGsoWhole(p, G)).toBe(true);
    t.gso = G;
    let out: Uint8Array[];
    try {
      out = run(t, p);
    } finally {
      t.gso = 0;
    }
    expect(out).toHaveLength(1);
    const o = out[0]!;
    expect(u16(o, 20)).toBe(u16(expected[0]!, 20));
    // The partial checksum: the IPv4 pseudo-header sum with the run's length (complemented),
    // the new port left out (the kernel adds the header when it completes each datagram).
    const ulen = 8 + N * SIZE;
    const ph = pseudo4(ip4(POOL4), ip4(SERVER), 17, ulen);
    let s = 0;
    for (let i = 0; i < ph.length; i += 2) s += (ph[i]! << 8) | ph[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    expect(u16(o, 26)).toBe(~s & 0xffff);
    const segs: Uint8Array[] = [];
    expect(segmentUdp4(o, SIZE, new Uint8Array(2048), (x) => segs.push(x.slice()))).toBe(true);
    expect(segs).toEqual(expected);
    expect(t.counters.translated6to4).toBe(N);
  });

  it('to a pool4 address (hairpin): segmented, each datagram back to IPv6 as alone', () => {
    const bib = 'bib udp 2001:db8:1::5#53 198.51.100.1#5353';
    const ref = make(bib);
    const expected = datagrams(POOL4_AS6, 5353).flatMap((p) => run(ref, p));
    const t = make(bib);
    const p = run6(POOL4_AS6, 5353);
    expect(t.udpGsoWhole(p, G)).toBe(false);
    const out: Uint8Array[] = [];
    t.translateUdpSegments(p, G, (x) => out.push(x.slice()));
    expect(out).toHaveLength(N);
    expect(out).toEqual(expected);
    for (const o of out) expect(checkIpv6(o) && checkL4v6(o)).toBe(true);
    expect(t.counters.hairpinned).toBe(N);
  });
});
