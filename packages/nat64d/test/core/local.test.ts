import { describe, expect, it } from 'vitest';
import { Translator } from '../../src/core/index.js';
import {
  bytes,
  checkIpv4,
  checkIpv6,
  checkL4v4,
  checkL4v6,
  config,
  defaultMapper,
  icmp,
  icmp6msg,
  ipv4,
  ipv6,
  OWN4,
  OWN6,
  run,
  udp4,
  V4SERVER,
  V6HOST,
} from './helpers.js';

/** Packets to the translator's own addresses are answered (echo) or dropped, never translated. */
describe('packets for the translator itself', () => {
  it('answers an ICMPv4 echo request to ipv4-addr with the exact reply', () => {
    const t = new Translator(config(), defaultMapper());
    const data = bytes(56, 3);
    const req = ipv4({
      src: V4SERVER,
      dst: OWN4,
      proto: 1,
      ttl: 9,
      options: [1, 1, 1, 0],
      payload: icmp(8, 0, 0x4242_0001, data, null),
    });
    const out = run(t, req);
    const expected = ipv4({
      src: OWN4,
      dst: V4SERVER,
      proto: 1,
      ttl: 64,
      id: 0x1234,
      payload: icmp(0, 0, 0x4242_0001, data, null),
    });
    expect(out).toEqual([expected]);
    expect(checkIpv4(out[0]!) && checkL4v4(out[0]!)).toBe(true);
    expect(t.counters.echoRepliedLocally).toBe(1);
    expect(t.counters.translated4to6).toBe(0);
  });

  it('answers an ICMPv6 echo request to ipv6-addr with the exact reply', () => {
    const t = new Translator(config(), defaultMapper());
    const data = bytes(100, 5);
    const req = ipv6({
      src: V6HOST,
      dst: OWN6,
      nh: 58,
      hop: 3,
      payload: icmp6msg(V6HOST, OWN6, 128, 0, 0x0007_0002, data),
    });
    const out = run(t, req);
    const expected = ipv6({
      src: OWN6,
      dst: V6HOST,
      nh: 58,
      hop: 64,
      payload: icmp6msg(OWN6, V6HOST, 129, 0, 0x0007_0002, data),
    });
    expect(out).toEqual([expected]);
    expect(checkIpv6(out[0]!) && checkL4v6(out[0]!)).toBe(true);
    expect(t.counters.echoRepliedLocally).toBe(1);
  });

  it('drops other traffic to its addresses, and echo requests with a bad checksum', () => {
    const t = new Translator(config(), defaultMapper());
    expect(
      run(
        t,
        ipv4({ src: V4SERVER, dst: OWN4, proto: 17, payload: udp4(V4SERVER, OWN4, bytes(8)) }),
      ),
    ).toEqual([]);
    const bad = ipv4({
      src: V4SERVER,
      dst: OWN4,
      proto: 1,
      payload: icmp(8, 0, 1, bytes(8), null),
    });
    bad[25] = bad[25]! ^ 0xff;
    expect(run(t, bad)).toEqual([]);
    const bad6 = ipv6({
      src: V6HOST,
      dst: OWN6,
      nh: 58,
      payload: icmp6msg(V6HOST, OWN6, 128, 0, 1, bytes(8)),
    });
    bad6[50] = bad6[50]! ^ 1;
    expect(run(t, bad6)).toEqual([]);
    expect(t.counters.dropToTranslator).toBe(3);
    expect(t.counters.echoRepliedLocally).toBe(0);
  });
});
