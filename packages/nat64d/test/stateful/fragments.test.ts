/**
 * Stateful NAT64 fragments (RFC 6146 §3.4): a datagram's first fragment goes through the
 * session tables, the others follow it with its translation; fragments that come first are
 * held for up to 2 s (FRAGMENT_MIN), within per-host and total bounds. Exact bytes out.
 */
import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import { HELD_PER_HOST, RECORDS_PER_HOST } from '../../src/core/stateful-fragments.js';
import {
  TestMapper,
  bytes,
  concat,
  config,
  ip4,
  ip6,
  ipv4,
  ipv6,
  pseudo4,
  pseudo6,
  run,
  udp,
} from '../core/helpers.js';
import { harness } from './helpers.js';

const HOST = '2001:db8:1::2';
const SERVER = '203.0.113.7';
const SERVER6 = '2001:db8:64::cb00:7107';
const POOL4 = '198.51.100.1';
const PORT = 61010; // in the pool4 range: kept

function setup() {
  const h = harness(['pool4 198.51.100.1 61000-65535']);
  let now = 0;
  const t = new Translator(config({ clock: () => now }), new TestMapper([]), h.nat);
  return { t, advance: (ms: number) => (now += ms) };
}

/** A 3000-byte UDP datagram (2972 data bytes) as its UDP segment. */
const DATA = bytes(2992 - 8 - 12, 11);
const seg4 = () => udp(53, PORT, DATA, pseudo4(ip4(SERVER), ip4(POOL4), 17, 8 + DATA.length));
const seg6 = (sport = PORT) =>
  udp(sport, 53, DATA, pseudo6(ip6(HOST), ip6(SERVER6), 17, 8 + DATA.length));

/** IPv4 fragments of `seg` as an IPv4 stack sends them on a 1500-byte link. */
function frags4(seg: Uint8Array, id = 0x4321): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < seg.length; at += 1480) {
    const part = seg.subarray(at, Math.min(at + 1480, seg.length));
    out.push(
      ipv4({
        src: SERVER,
        dst: POOL4,
        proto: 17,
        id,
        mf: at + 1480 < seg.length,
        fragOffset: at,
        payload: part,
      }),
    );
  }
  return out;
}

/** IPv6 fragments of `seg` (Fragment header, id) of at most 1280 bytes. */
function frags6(seg: Uint8Array, id = 0x01020304, src = HOST): Uint8Array[] {
  const out: Uint8Array[] = [];
  const size = 1232;
  for (let at = 0; at < seg.length; at += size) {
    const part = seg.subarray(at, Math.min(at + size, seg.length));
    const more = at + size < seg.length;
    const fh = Uint8Array.of(
      17,
      0,
      at >> 8,
      (at & 0xf8) | (more ? 1 : 0),
      id >>> 24,
      (id >>> 16) & 0xff,
      (id >>> 8) & 0xff,
      id & 0xff,
    );
    out.push(ipv6({ src, dst: SERVER6, nh: 44, payload: concat(fh, part) }));
  }
  return out;
}

describe('stateful NAT64 fragments (RFC 6146 §3.4)', () => {
  it('IPv6 -> IPv4: every fragment leaves from the pool4 transport address, the ports only in the first', () => {
    const { t } = setup();
    const seg = seg6();
    const out = frags6(seg).flatMap((f) => run(t, f));
    // The translated datagram, fragment by fragment: same offsets, MF, id's low 16 bits.
    const seg4out = udp(PORT, 53, DATA, pseudo4(ip4(POOL4), ip4(SERVER), 17, 8 + DATA.length));
    const expected = [0, 1232, 2464].map((at) =>
      ipv4({
        src: POOL4,
        dst: SERVER,
        proto: 17,
        ttl: 63,
        id: 0x0304,
        mf: at + 1232 < seg.length,
        fragOffset: at,
        payload: seg4out.subarray(at, Math.min(at + 1232, seg.length)),
      }),
    );
    expect(out.map((p) => Buffer.from(p).toString('hex'))).toEqual(
      expected.map((p) => Buffer.from(p).toString('hex')),
    );
    expect(t.counters.translated6to4).toBe(3);
  });

  it('IPv4 -> IPv6: a 3000-byte answer reaches the IPv6 host, fragments split to 1280 bytes', () => {
    const { t } = setup();
    // The client's query makes the binding HOST#61010 <-> POOL4#61010.
    const q = udp(PORT, 53, bytes(20), pseudo6(ip6(HOST), ip6(SERVER6), 17, 28));
    expect(run(t, ipv6({ src: HOST, dst: SERVER6, nh: 17, payload: q }))).toHaveLength(1);
    const out = frags4(seg4()).flatMap((f) => run(t, f));
    const seg6in = udp(53, PORT, DATA, pseudo6(ip6(SERVER6), ip6(HOST), 17, 8 + DATA.length));
    // 1480 + 1480 + 32 bytes of IPv4 fragments; each leaves as IPv6 fragments of <= 1232 data.
    const pieces: [number, number][] = [
      [0, 1232],
      [1232, 248],
      [1480, 1232],
      [2712, 248],
      [2960, seg6in.length - 2960],
    ];
    const expected = pieces.map(([at, len]) =>
      ipv6({
        src: SERVER6,
        dst: HOST,
        nh: 44,
        hop: 63,
        payload: concat(
          Uint8Array.of(
            17,
            0,
            at >> 8,
            (at & 0xf8) | (at + len < seg6in.length ? 1 : 0),
            0,
            0,
            0x43,
            0x21,
          ),
          seg6in.subarray(at, at + len),
        ),
      }),
    );
    expect(out.map((p) => Buffer.from(p).toString('hex'))).toEqual(
      expected.map((p) => Buffer.from(p).toString('hex')),
    );
  });

  it('a fragment that comes before its first is held, then follows the first', () => {
    const { t } = setup();
    const [first, second, third] = frags6(seg6());
    expect(run(t, third!)).toEqual([]);
    expect(run(t, second!)).toEqual([]);
    expect(t.counters.statefulFragmentsHeld).toBe(2);
    const out = run(t, first!);
    // First, then the held ones in the order of their slots (third came first).
    expect(out.map((p) => ((p[6]! << 8) | p[7]!) & 0x1fff)).toEqual([0, 2464 / 8, 1232 / 8]);
    expect(out.every((p) => p[12] === 198 && p[15] === 1)).toBe(true); // from POOL4
    expect(t.counters.dropStatefulFragmentTimeout).toBe(0);
  });

  it('held fragments without a first are dropped after 2 s, counted', () => {
    const { t, advance } = setup();
    const [, second] = frags6(seg6());
    expect(run(t, second!)).toEqual([]);
    advance(2001);
    // Anything that looks at the held slots frees the expired one.
    const [, other] = frags6(seg6(), 0x0a0b0c0d);
    expect(run(t, other!)).toEqual([]);
    expect(t.counters.dropStatefulFragmentTimeout).toBe(1);
    expect(t.counters.statefulFragmentsHeld).toBe(2);
  });

  it('one source cannot hold more than its share; another still can', () => {
    const { t } = setup();
    for (let i = 0; i <= HELD_PER_HOST; i++) run(t, frags6(seg6(), 0x1000 + i)[1]!);
    expect(t.counters.statefulFragmentsHeld).toBe(HELD_PER_HOST);
    expect(t.counters.dropStatefulFragmentLimit).toBe(1);
    run(t, frags6(seg6(), 0x2000, '2001:db8:1::3')[1]!);
    expect(t.counters.statefulFragmentsHeld).toBe(HELD_PER_HOST + 1);
  });

  it('one IPv6 host has at most its share of fragmented datagrams at once; expired ones free it', () => {
    const { t, advance } = setup();
    for (let i = 0; i < RECORDS_PER_HOST; i++) {
      expect(run(t, frags6(seg6(), 0x5000 + i)[0]!)).toHaveLength(1);
    }
    expect(t.counters.dropStatefulFragmentLimit).toBe(0);
    // One more: its first fragment still goes (it has its ports), the rest of it cannot.
    const [first, second] = frags6(seg6(), 0x6000);
    expect(run(t, first!)).toHaveLength(1);
    expect(t.counters.dropStatefulFragmentLimit).toBe(1);
    expect(run(t, second!)).toEqual([]);
    // FRAGMENT_MIN later the old datagrams are over and the host may fragment again.
    advance(2001);
    const [again, againSecond] = frags6(seg6(), 0x7000);
    expect(run(t, again!)).toHaveLength(1);
    expect(run(t, againSecond!)).toHaveLength(1);
    expect(t.counters.dropStatefulFragmentLimit).toBe(1);
  });

  it('a non-first IPv4 fragment with no first and no session is held, never delivered', () => {
    const { t } = setup();
    const [, second] = frags4(seg4(), 0x7777);
    expect(run(t, second!)).toEqual([]);
    expect(t.counters.statefulFragmentsHeld).toBe(1);
    expect(t.counters.translated4to6).toBe(0);
  });
});
