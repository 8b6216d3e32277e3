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
  icmp,
  icmp6msg,
  ipv4,
  ipv6,
  tcp4,
  tcp6,
  TestMapper,
  u16,
  udp4,
  udp6,
  upper6,
  V4SERVER,
  V4SERVER_AS6,
  V6HOST,
  V6POOL,
} from './helpers.js';

function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

const V4S = ['203.0.113.7', '198.51.100.10', '192.0.2.33', '198.18.0.1'];
const V6S = [V6HOST, V4SERVER_AS6, '2001:db8:64::c000:221', '2001:db8:2::99', '64:ff9b::c000:201'];

/** A structurally valid packet with correct checksums, of a random kind. */
function validPacket(r: (n: number) => number): Uint8Array {
  const len = r(1600);
  const data = bytes(len, r(200));
  const s4 = V4S[r(V4S.length)]!;
  const d4 = r(3) ? V6POOL : V4S[r(V4S.length)]!;
  const s6 = r(3) ? V6HOST : V6S[r(V6S.length)]!;
  const d6 = r(3) ? V4SERVER_AS6 : V6S[r(V6S.length)]!;
  const ttl = r(4) === 0 ? r(3) : 64;
  const df = r(2) === 0;
  switch (r(8)) {
    case 0:
      return ipv4({ src: s4, dst: d4, proto: 17, ttl, df, payload: udp4(s4, d4, data) });
    case 1:
      return ipv4({
        src: s4,
        dst: d4,
        proto: 6,
        ttl,
        df,
        options: r(2) ? [1, 1, 1, 0] : [],
        payload: tcp4(s4, d4, data),
      });
    case 2:
      return ipv4({
        src: s4,
        dst: d4,
        proto: 1,
        ttl,
        df,
        payload: icmp(r(2) ? 8 : 0, 0, r(65536), data, null),
      });
    case 3: {
      const inner = ipv4({
        src: d4,
        dst: s4,
        proto: 17,
        payload: udp4(d4, s4, data.subarray(0, r(200))),
      });
      return ipv4({
        src: s4,
        dst: d4,
        proto: 1,
        ttl,
        payload: icmp([3, 11, 12][r(3)]!, r(16), r(2) ? 1400 : r(1 << 30), inner, null),
      });
    }
    case 4:
      return ipv6({ src: s6, dst: d6, nh: 17, hop: ttl, payload: udp6(s6, d6, data) });
    case 5: {
      const hbh = Uint8Array.of(6, 0, 1, 4, 0, 0, 0, 0);
      return ipv6({ src: s6, dst: d6, nh: 0, hop: ttl, payload: concat(hbh, tcp6(s6, d6, data)) });
    }
    case 6:
      return ipv6({
        src: s6,
        dst: d6,
        nh: 58,
        hop: ttl,
        payload: icmp6msg(s6, d6, r(2) ? 128 : 129, 0, r(65536), data),
      });
    default: {
      const inner = ipv6({
        src: d6,
        dst: s6,
        nh: 17,
        payload: udp6(d6, s6, data.subarray(0, r(300))),
      });
      return ipv6({
        src: s6,
        dst: d6,
        nh: 58,
        hop: ttl,
        payload: icmp6msg(s6, d6, 1 + r(4), r(5), r(2) ? 1400 : r(64), inner),
      });
    }
  }
}

function mutate(r: (n: number) => number, p: Uint8Array): Uint8Array {
  switch (r(4)) {
    case 0:
      return p.subarray(0, r(p.length + 1));
    case 1: {
      const q = p.slice();
      for (let k = r(6) + 1; k > 0; k--) q[r(q.length)] = r(256);
      return q;
    }
    case 2: {
      const q = p.slice();
      q[r(Math.min(q.length, 60))] = r(256);
      return q;
    }
    default: {
      const q = new Uint8Array(r(200));
      for (let i = 0; i < q.length; i++) q[i] = r(256);
      if (q.length) q[0] = (r(2) ? 0x45 : 0x60) | (q[0]! & 0x0f);
      return q;
    }
  }
}

/**
 * Packets per run: 20 000 in CI; `NAT64D_FUZZ_PACKETS=1000000 npx vitest run test/core/fuzz.test.ts`
 * runs the full-size million (issue 7).
 */
const COUNT = Number(process.env.NAT64D_FUZZ_PACKETS || 20_000);

describe('robustness', () => {
  it(`never throws on ${COUNT} packets; every emitted packet has consistent lengths and checksums`, () => {
    const r = lcg(20240601);
    const mapper = new TestMapper([
      [V6HOST, V6POOL],
      ['2001:db8:2::99', V4SERVER],
    ]);
    const translators = [
      new Translator(config({ udpChecksumMode: 'calc' }), mapper),
      new Translator(config({ strictFragHdr: true, ipv6Mtu: 1280, tunMtu: 1500 }), mapper),
    ];
    let emitted = 0;
    let checkedTransport = 0;
    for (let i = 0; i < COUNT; i++) {
      const valid = validPacket(r);
      const intact = r(3) === 0;
      const input = intact ? valid : mutate(r, valid);
      const t = translators[i % 2]!;
      const out: Uint8Array[] = [];
      expect(() => t.translate(input, (x) => out.push(x.slice()))).not.toThrow();
      for (const p of out) {
        emitted++;
        if (p[0]! >> 4 === 4) {
          expect(checkIpv4(p)).toBe(true);
          const fragment = (u16(p, 6) & 0x3fff) !== 0;
          if (!fragment && (p[9] === 1 || intact)) {
            expect(checkL4v4(p)).toBe(true);
            checkedTransport++;
          }
        } else {
          expect(checkIpv6(p)).toBe(true);
          expect(p.length).toBeLessThanOrEqual(1500);
          const [nh] = upper6(p);
          // A real fragment (not an atomic one) cannot be checked alone.
          const fragment = p[6] === 44 && (u16(p, 42) & 0xfff9) !== 0;
          if (!fragment && (nh === 58 || intact)) {
            expect(checkL4v6(p)).toBe(true);
            checkedTransport++;
          }
        }
      }
    }
    for (const t of translators) expect(t.counters.dropInternalError).toBe(0);
    // The loop must really exercise the translator.
    expect(emitted).toBeGreaterThan(COUNT / 5);
    expect(checkedTransport).toBeGreaterThan(COUNT / 10);
    // For the record (README's hardening figures): how much was really checked.
    console.log(
      `translator fuzz: ${COUNT} inputs, ${emitted} emitted, ${checkedTransport} transport checksums verified`,
    );
  }, 1_800_000);

  it('survives every truncation of valid packets', () => {
    const r = lcg(7);
    const t = new Translator(
      config({ udpChecksumMode: 'calc' }),
      new TestMapper([[V6HOST, V6POOL]]),
    );
    for (let i = 0; i < 40; i++) {
      const p = validPacket(r);
      for (let n = 0; n <= Math.min(p.length, 120); n++) {
        t.translate(p.subarray(0, n), (x) => {
          expect(x[0]! >> 4 === 4 ? checkIpv4(x) : checkIpv6(x)).toBe(true);
        });
      }
    }
    expect(t.counters.dropInternalError).toBe(0);
  });
});
