/**
 * UDP GSO on the read side (TUN_F_USO4/USO6): a run of same-flow datagrams read as one packet
 * is translated whole when every datagram would get the same translation, else segmented in
 * software first. Both must give exactly what the datagrams one by one give.
 */
import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import { GSO_UDP, segmentUdp4, segmentUdp6 } from '../../src/core/gso-segment.js';
import {
  checkIpv4,
  checkL4v4,
  checkL4v6,
  concat,
  config,
  defaultMapper,
  inetChecksum,
  ip4,
  ip6,
  ipv4,
  ipv6,
  OWN6,
  pseudo4,
  pseudo6,
  run,
  u16,
  udp,
  V4SERVER,
  V4SERVER_AS6,
  V6HOST,
  V6POOL,
} from './helpers.js';

const SIZE = 64;
const N = 5;

/** Payload of datagram k: 64 distinct bytes. */
function data(k: number, size = SIZE): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (k * 31 + i) & 0xff;
  return b;
}

/** The datagrams one by one (full checksums), as a sender makes them. */
function datagrams6(n: number, hop = 64, size = SIZE, lastSize = size): Uint8Array[] {
  return Array.from({ length: n }, (_, k) => {
    const d = data(k, k === n - 1 ? lastSize : size);
    const ph = pseudo6(ip6(V6HOST), ip6(V4SERVER_AS6), 17, 8 + d.length);
    return ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 17, hop, payload: udp(40000, 9, d, ph) });
  });
}

/**
 * The same run as the kernel hands it over with UDP GSO (after the addon): one UDP header
 * whose length covers all payloads, and in the checksum field the complemented pseudo-header
 * sum (native/tun.c, vnet_rx).
 */
function super6(n: number, hop = 64, size = SIZE, lastSize = size): Uint8Array {
  const body = concat(
    ...Array.from({ length: n }, (_, k) => data(k, k === n - 1 ? lastSize : size)),
  );
  const u = udp(40000, 9, body, null);
  const ck = inetChecksum(pseudo6(ip6(V6HOST), ip6(V4SERVER_AS6), 17, u.length));
  u[6] = ck >> 8;
  u[7] = ck & 0xff;
  return ipv6({ src: V6HOST, dst: V4SERVER_AS6, nh: 17, hop, payload: u });
}

function offload(): Translator {
  return new Translator(config({ ipv4MaxPacket: 65535 }), defaultMapper());
}

function oneByOne(t: Translator, pkts: Uint8Array[]): Uint8Array[] {
  return pkts.flatMap((p) => run(t, p));
}

function whole(t: Translator, p: Uint8Array, gso: number): Uint8Array[] {
  expect(t.udpGsoWhole(p, gso)).toBe(true);
  t.gso = gso;
  try {
    return run(t, p);
  } finally {
    t.gso = 0;
  }
}

function segmented(t: Translator, p: Uint8Array, gso: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  t.translateUdpSegments(p, gso, (x) => out.push(x.slice()));
  return out;
}

/** What the kernel makes of a UDP/IPv4 GSO write: the datagrams (segmentUdp4, checked below). */
function kernelSegments(p: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  expect(segmentUdp4(p, size, new Uint8Array(65536), (s) => out.push(s.slice()))).toBe(true);
  return out;
}

describe('UDP GSO, IPv6 -> IPv4', () => {
  it('a run translated whole: exact IPv4 GSO packet, and its segments are the datagrams one by one', () => {
    const expected = oneByOne(offload(), datagrams6(N));
    const t = offload();
    const out = whole(t, super6(N), SIZE | GSO_UDP);
    expect(out.length).toBe(1);
    const o = out[0]!;
    const ulen = 8 + N * SIZE;
    // IPv4 header: length of the whole run, first Identification, no DF (92-byte datagrams),
    // TTL 63, UDP, the pool address to the server; header checksum valid.
    expect(Array.from(o.subarray(0, 12))).toEqual([
      0x45,
      0,
      (20 + ulen) >> 8,
      (20 + ulen) & 0xff,
      0,
      1,
      0,
      0,
      63,
      17,
      o[10],
      o[11],
    ]);
    expect(checkIpv4(o)).toBe(true);
    expect(o.subarray(12, 20)).toEqual(concat(ipv4Bytes(V6POOL), ipv4Bytes(V4SERVER)));
    // UDP: ports, the run's length, and the complemented IPv4 pseudo-header sum (the addon
    // turns it back into the partial sum the kernel completes per datagram).
    expect([u16(o, 20), u16(o, 22), u16(o, 24)]).toEqual([40000, 9, ulen]);
    expect(u16(o, 26)).toBe(inetChecksum(pseudo4(ip4(V6POOL), ip4(V4SERVER), 17, ulen)));
    expect(o.subarray(28)).toEqual(concat(...Array.from({ length: N }, (_, k) => data(k))));
    // Segmented as the kernel does (ids counting up), exactly the one-by-one translations.
    expect(kernelSegments(o, SIZE)).toEqual(expected);
    // Counted per datagram, and the Identifications of all N datagrams were taken.
    expect(t.counters.translated6to4).toBe(N);
    const next = run(t, datagrams6(1)[0]!)[0]!;
    expect(u16(next, 4)).toBe(N + 1);
  });

  it('the software segmenter gives valid datagrams (independent checksums)', () => {
    const segs = kernelSegments(run(offload(), super6(1))[0]!, SIZE); // not GSO: one datagram
    expect(segs.length).toBe(1);
    const out: Uint8Array[] = [];
    const p6 = super6(N);
    // A full-checksum IPv6 run (what segmentUdp6 takes apart) with a short last datagram.
    expect(
      segmentUdp6(super6(3, 64, SIZE, 10), 40, SIZE, new Uint8Array(2000), (s) =>
        out.push(s.slice()),
      ),
    ).toBe(true);
    expect(out).toEqual(datagrams6(3, 64, SIZE, 10));
    for (const s of out) expect(checkL4v6(s)).toBe(true);
    expect(p6.length).toBe(48 + N * SIZE);
  });

  it('hop limit 1: segmented, every datagram dropped and answered as alone', () => {
    const pkts = datagrams6(N, 1);
    const ref = offload();
    const expected = oneByOne(ref, pkts);
    const t = offload();
    expect(t.udpGsoWhole(super6(N, 1), SIZE | GSO_UDP)).toBe(false);
    expect(segmented(t, super6(N, 1), SIZE | GSO_UDP)).toEqual(expected);
    expect(t.counters.dropHopLimit).toBe(N);
    expect(t.counters).toEqual(ref.counters);
  });

  it('DF differs between the full datagrams and the short last one: segmented', () => {
    const p = super6(3, 64, 1300, 100);
    const t = offload();
    expect(t.udpGsoWhole(p, 1300 | GSO_UDP)).toBe(false);
    const out = segmented(t, p, 1300 | GSO_UDP);
    expect(out).toEqual(oneByOne(offload(), datagrams6(3, 64, 1300, 100)));
    expect(out.map((o) => (u16(o, 6) & 0x4000) !== 0)).toEqual([true, true, false]);
    for (const o of out) expect(checkIpv4(o) && checkL4v4(o)).toBe(true);
  });

  it('DF the same for all (all above 1260 bytes): whole, DF set', () => {
    const p = super6(3, 64, 1300, 1290);
    const [o] = whole(offload(), p, 1300 | GSO_UDP);
    expect(u16(o!, 6)).toBe(0x4000);
    expect(kernelSegments(o!, 1300)).toEqual(oneByOne(offload(), datagrams6(3, 64, 1300, 1290)));
  });

  it('a datagram larger than the IPv4 MTU: segmented, each datagram as it would be alone', () => {
    const make = () =>
      new Translator(config({ ipv4MaxPacket: 65535, tunMtu: 1400 }), defaultMapper());
    const t = make();
    const p = super6(2, 64, 1380);
    expect(t.udpGsoWhole(p, 1380 | GSO_UDP)).toBe(false);
    const ref = make();
    expect(segmented(t, p, 1380 | GSO_UDP)).toEqual(oneByOne(ref, datagrams6(2, 64, 1380)));
    expect(t.counters).toEqual(ref.counters);
  });

  it('to the translator itself, or from a source that does not map: per datagram', () => {
    const t = offload();
    const body = concat(data(0), data(1));
    const u = udp(40000, 9, body, pseudo6(ip6(V6HOST), ip6(OWN6), 17, 8 + body.length));
    const local = ipv6({ src: V6HOST, dst: OWN6, nh: 17, payload: u });
    expect(t.udpGsoWhole(local, SIZE | GSO_UDP)).toBe(false);
    segmented(t, local, SIZE | GSO_UDP);
    expect(t.counters.dropToTranslator).toBe(2);
    // The fast path's one failure after the checks: a source with no mapping, counted per datagram.
    const other = super6(N);
    other.set(ip6('2001:db8:1::99'), 8);
    const t2 = offload();
    expect(whole(t2, other, SIZE | GSO_UDP)).toEqual([]);
    expect(t2.counters.dropNoMapping).toBe(N);
  });
});

describe('UDP GSO, IPv4 -> IPv6 (TUN_F_USO4 comes with USO6)', () => {
  it('segmented in software: exactly the datagrams one by one', () => {
    const payloads = Array.from({ length: N }, (_, k) => data(k));
    const one = payloads.map((d, k) =>
      ipv4({
        src: V4SERVER,
        dst: V6POOL,
        proto: 17,
        id: 100 + k,
        payload: udp(9, 40000, d, pseudo4(ip4(V4SERVER), ip4(V6POOL), 17, 8 + d.length)),
      }),
    );
    const expected = oneByOne(offload(), one);
    const body = concat(...payloads);
    const u = udp(9, 40000, body, null);
    const ck = inetChecksum(pseudo4(ip4(V4SERVER), ip4(V6POOL), 17, u.length));
    u[6] = ck >> 8;
    u[7] = ck & 0xff;
    const run4 = ipv4({ src: V4SERVER, dst: V6POOL, proto: 17, id: 100, payload: u });
    const t = offload();
    expect(t.udpGsoWhole(run4, SIZE | GSO_UDP)).toBe(false);
    const out = segmented(t, run4, SIZE | GSO_UDP);
    expect(out).toEqual(expected);
    for (const o of out) expect(checkL4v6(o)).toBe(true);
    expect(t.counters.translated4to6).toBe(N);
  });
});

function ipv4Bytes(s: string): Uint8Array {
  const v = ip4(s);
  return Uint8Array.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
