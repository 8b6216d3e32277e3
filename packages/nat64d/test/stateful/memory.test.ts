/**
 * One million sessions within 256 bytes each. The worst case: every session has its own
 * BIB entry (distinct source ports), spread over 1000 IPv6 hosts. Measured as the growth of
 * process.memoryUsage() arrayBuffers + heapUsed across the build, after a full GC.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PROTO_UDP, StatefulNat } from '../../src/stateful/index.js';
import { statefulSettings } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

const SESSIONS = 1_000_000;
const HOSTS = 1000;

describe('memory', () => {
  it('holds one million sessions in at most 256 bytes per session', () => {
    const before = used();
    let t = 1_700_000_000;
    const nat = new StatefulNat(
      statefulSettings('pool4 198.51.100.0/24 udp 1024-65535', 'max-sessions-per-host 2000'),
      { clock: () => t },
    );
    const src = new Uint8Array(16);
    src.set([0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    const perHost = SESSIONS / HOSTS;
    const remote = 0xcb007107; // 203.0.113.7
    for (let h = 0; h < HOSTS; h++) {
      src[14] = h >>> 8;
      src[15] = h & 0xff;
      for (let p = 0; p < perHost; p++) {
        if (!nat.outbound(PROTO_UDP, src, 0, 10000 + p, remote, 53, 0)) {
          throw new Error(`refused at host ${h} port ${p}`);
        }
      }
    }
    expect(nat.sessionCount).toBe(SESSIONS);
    expect(nat.stats().udp).toMatchObject({ sessions: SESSIONS, bib: SESSIONS });
    const after = used();
    const perSession = (after - before) / SESSIONS;
    const arrays = nat.byteLength / SESSIONS;
    console.log(
      `stateful memory: ${perSession.toFixed(1)} bytes/session measured ` +
        `(arrayBuffers+heapUsed), ${arrays.toFixed(1)} bytes/session in typed arrays`,
    );
    expect(perSession).toBeLessThanOrEqual(256);
    expect(arrays).toBeLessThanOrEqual(256);
    // The table still answers: a lookup in the middle and expiry of everything.
    src[14] = 0x01;
    src[15] = 0xf4; // host 500
    expect(nat.errorFrom6(PROTO_UDP, remote, 53, src, 0, 10000 + 123)).toBe(true);
    t += 300;
    while (nat.tick(200_000) > 0);
    expect(nat.sessionCount).toBe(0);
    expect(nat.stats().udp.poolPortsFree).toBe(256 * 64512);
  }, 120_000);
});
