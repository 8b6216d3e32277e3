import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import {
  bytes,
  checkIpv4,
  checkIpv6,
  checkL4v4,
  concat,
  config,
  defaultMapper,
  inetChecksum,
  ip4,
  ip6,
  ipv4,
  ipv6,
  pseudo6,
  run,
  u16,
  u32,
  udp4,
  udp6,
  V4SERVER,
  V4SERVER_AS6,
  V6HOST,
  V6POOL,
} from './helpers.js';

/** Fragment header fields of an emitted IPv6 packet whose Next Header is 44. */
function fragHdr(p: Uint8Array): { nh: number; offset: number; more: boolean; id: number } {
  expect(p[6]).toBe(44);
  return { nh: p[40]!, offset: u16(p, 42) & 0xfff8, more: (u16(p, 42) & 1) === 1, id: u32(p, 44) };
}

describe('IPv4 fragments -> IPv6 (RFC 7915 §4.1)', () => {
  const whole4 = udp4(V4SERVER, V6POOL, bytes(100));
  const whole6 = udp6(V4SERVER_AS6, V6HOST, bytes(100));

  it('first fragment: Fragment header, low 16 bits id, M set, UDP checksum adjusted', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      id: 0xabcd,
      mf: true,
      payload: whole4.subarray(0, 48),
    });
    const o = run(t, input)[0]!;
    const fh = Uint8Array.of(17, 0, 0, 1, 0, 0, 0xab, 0xcd);
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv6({
          src: V4SERVER_AS6,
          dst: V6HOST,
          nh: 44,
          hop: 63,
          payload: concat(fh, whole6.subarray(0, 48)),
        }),
      ),
    );
  });

  it('non-first fragment: data untouched, offset copied, M clear on the last', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      id: 0xabcd,
      fragOffset: 48,
      payload: whole4.subarray(48),
    });
    const o = run(t, input)[0]!;
    const fh = Uint8Array.of(17, 0, 0, 48, 0, 0, 0xab, 0xcd);
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv6({
          src: V4SERVER_AS6,
          dst: V6HOST,
          nh: 44,
          hop: 63,
          payload: concat(fh, whole4.subarray(48)),
        }),
      ),
    );
  });

  it('DF-clear packet larger than ipv6Mtu is fragmented into 8-byte multiples that reassemble', () => {
    const t = new Translator(config({ ipv6Mtu: 1280 }), defaultMapper());
    const payload = bytes(3000, 3);
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      id: 0x4321,
      payload: udp4(V4SERVER, V6POOL, payload),
    });
    const out = run(t, input);
    expect(out.length).toBe(3);
    let expectOffset = 0;
    const pieces: Uint8Array[] = [];
    out.forEach((p, i) => {
      expect(p.length).toBeLessThanOrEqual(1280);
      expect(checkIpv6(p)).toBe(true);
      const f = fragHdr(p);
      expect(f).toMatchObject({
        nh: 17,
        offset: expectOffset,
        more: i < out.length - 1,
        id: 0x4321,
      });
      const chunk = p.subarray(48);
      if (i < out.length - 1) expect(chunk.length % 8).toBe(0);
      expectOffset += chunk.length;
      pieces.push(chunk);
    });
    const reassembled = concat(...pieces);
    expect(Array.from(reassembled)).toEqual(Array.from(udp6(V4SERVER_AS6, V6HOST, payload)));
    expect(
      inetChecksum(pseudo6(ip6(V4SERVER_AS6), ip6(V6HOST), 17, reassembled.length), reassembled),
    ).toBe(0);
    expect(t.counters.fragmentsCreated6).toBe(2);
    expect(t.counters.translated4to6).toBe(1);
  });

  it('an IPv4 fragment that is still too big is split further, keeping M on the last piece', () => {
    const t = new Translator(config({ ipv6Mtu: 1280 }), defaultMapper());
    const data = bytes(1600);
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      id: 9,
      mf: true,
      fragOffset: 800,
      payload: data,
    });
    const out = run(t, input);
    expect(out.length).toBe(2);
    expect(fragHdr(out[0]!)).toMatchObject({ offset: 800, more: true, id: 9 });
    expect(fragHdr(out[1]!)).toMatchObject({ offset: 800 + 1232, more: true, id: 9 });
    expect(Array.from(concat(out[0]!.subarray(48), out[1]!.subarray(48)))).toEqual(
      Array.from(data),
    );
  });

  it('DF-set packet too big for the next hop (TUN MTU) -> Fragmentation Needed with MTU tunMtu - 20', () => {
    const t = new Translator(config({ ipv6Mtu: 1280, tunMtu: 1500 }), defaultMapper());
    // 1481 bytes of IPv4: 1501 as IPv6, one byte over the next hop (RFC 7915 §4.1).
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      df: true,
      payload: udp4(V4SERVER, V6POOL, bytes(1453)),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    const e = out[0]!;
    expect(checkIpv4(e) && checkL4v4(e)).toBe(true);
    expect([e[20], e[21], u16(e, 24), u16(e, 26)]).toEqual([3, 4, 0, 1480]);
    expect(u32(e, 16)).toBe(ip4(V4SERVER));
    expect(e.length).toBe(576);
    expect(Array.from(e.subarray(28))).toEqual(Array.from(input.subarray(0, 548)));
    expect(t.counters.dropTooBig).toBe(1);
  });

  it('issue 13: DF-set 1400-byte packet with offlink-mtu 1280 goes through whole (1420 bytes)', () => {
    const t = new Translator(config({ ipv6Mtu: 1280, tunMtu: 1500 }), defaultMapper());
    const data = bytes(1372);
    const out = run(
      t,
      ipv4({
        src: V4SERVER,
        dst: V6POOL,
        proto: 17,
        df: true,
        payload: udp4(V4SERVER, V6POOL, data),
      }),
    );
    expect(out).toHaveLength(1);
    expect(Array.from(out[0]!)).toEqual(
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
    expect(t.counters.dropTooBig).toBe(0);
  });

  it('DF-set packet of exactly the next-hop MTU after translation passes', () => {
    const t = new Translator(config({ ipv6Mtu: 1280, tunMtu: 1500 }), defaultMapper());
    const input = ipv4({
      src: V4SERVER,
      dst: V6POOL,
      proto: 17,
      df: true,
      payload: udp4(V4SERVER, V6POOL, bytes(1452)),
    });
    expect(run(t, input)[0]!.length).toBe(1500);
  });

  it('DF-clear packets follow offlink-mtu (RFC 7915 §4.1 lowest-ipv6-mtu), DF-set ones do not', () => {
    // offlink-mtu 1500: 1420 bytes fit, one packet with no Fragment header (as Tayga).
    const t = new Translator(config({ ipv6Mtu: 1500, tunMtu: 1500 }), defaultMapper());
    const data = bytes(1372);
    const out = run(
      t,
      ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, payload: udp4(V4SERVER, V6POOL, data) }),
    );
    expect(out.map((p) => p.length)).toEqual([1420]);
    // offlink-mtu 1280: fragments of at most 1280 bytes.
    const t2 = new Translator(config({ ipv6Mtu: 1280, tunMtu: 1500 }), defaultMapper());
    const out2 = run(
      t2,
      ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, payload: udp4(V4SERVER, V6POOL, data) }),
    );
    expect(out2.map((p) => p.length)).toEqual([1280, 196]);
  });

  it('strict-frag-hdr: DF-clear packets get an atomic Fragment header, DF-set ones do not', () => {
    const t = new Translator(config({ strictFragHdr: true }), defaultMapper());
    const u4 = udp4(V4SERVER, V6POOL, bytes(20));
    const u6 = udp6(V4SERVER_AS6, V6HOST, bytes(20));
    const clear = run(
      t,
      ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, id: 0x55aa, payload: u4 }),
    )[0]!;
    const fh = Uint8Array.of(17, 0, 0, 0, 0, 0, 0x55, 0xaa);
    expect(Array.from(clear)).toEqual(
      Array.from(
        ipv6({ src: V4SERVER_AS6, dst: V6HOST, nh: 44, hop: 63, payload: concat(fh, u6) }),
      ),
    );
    const set = run(t, ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, df: true, payload: u4 }))[0]!;
    expect(Array.from(set)).toEqual(
      Array.from(ipv6({ src: V4SERVER_AS6, dst: V6HOST, nh: 17, hop: 63, payload: u6 })),
    );
  });

  it('without strict-frag-hdr a small DF-clear packet has no Fragment header', () => {
    const t = new Translator(config(), defaultMapper());
    const o = run(
      t,
      ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, payload: udp4(V4SERVER, V6POOL, bytes(20)) }),
    )[0]!;
    expect(o[6]).toBe(17);
  });
});

describe('IPv6 fragments -> IPv4 (RFC 7915 §5.1.1)', () => {
  const whole6 = udp6(V6HOST, V4SERVER_AS6, bytes(100));
  const whole4 = udp4(V6POOL, V4SERVER, bytes(100));
  const frag = (offset: number, more: boolean, next = 17): Uint8Array =>
    Uint8Array.of(next, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0x12, 0x34, 0x56, 0x78);

  it('first fragment: id low 16 bits, MF, DF clear, checksum adjusted', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(frag(0, true), whole6.subarray(0, 56)),
    });
    const o = run(t, input)[0]!;
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv4({
          src: V6POOL,
          dst: V4SERVER,
          proto: 17,
          ttl: 63,
          id: 0x5678,
          mf: true,
          payload: whole4.subarray(0, 56),
        }),
      ),
    );
  });

  it('last fragment: offset copied, data untouched', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(frag(56, false), whole6.subarray(56)),
    });
    const o = run(t, input)[0]!;
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv4({
          src: V6POOL,
          dst: V4SERVER,
          proto: 17,
          ttl: 63,
          id: 0x5678,
          fragOffset: 56,
          payload: whole6.subarray(56),
        }),
      ),
    );
  });

  it('atomic fragment: a whole datagram with the Fragment header id', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(frag(0, false), whole6),
    });
    const o = run(t, input)[0]!;
    expect(Array.from(o)).toEqual(
      Array.from(
        ipv4({ src: V6POOL, dst: V4SERVER, proto: 17, ttl: 63, id: 0x5678, payload: whole4 }),
      ),
    );
  });

  it('drops a second Fragment header', () => {
    const t = new Translator(config(), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 44,
      payload: concat(frag(0, false, 44), frag(0, false), whole6),
    });
    expect(run(t, input)).toHaveLength(0);
    expect(t.counters.dropMalformed).toBe(1);
  });

  it('sends Packet Too Big when the IPv4 packet would exceed the TUN MTU', () => {
    const t = new Translator(config({ tunMtu: 1400, ipv6Mtu: 1400 }), defaultMapper());
    const input = ipv6({
      src: V6HOST,
      dst: V4SERVER_AS6,
      nh: 17,
      payload: udp6(V6HOST, V4SERVER_AS6, bytes(1380)),
    });
    const out = run(t, input);
    expect(out).toHaveLength(1);
    expect([out[0]![40], out[0]![41], u32(out[0]!, 44)]).toEqual([2, 0, 1420]);
    expect(t.counters.dropTooBig).toBe(1);
  });
});
