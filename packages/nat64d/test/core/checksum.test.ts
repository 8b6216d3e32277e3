import { describe, expect, it } from 'vitest';
import { adjustChecksum, finish, sumWords } from '../../src/core/checksum.js';
import { inetChecksum } from './helpers.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe('checksum', () => {
  it('full checksum matches the plain reference on random data of odd and even length', () => {
    const r = rng(7);
    for (let n = 0; n < 200; n++) {
      const b = new Uint8Array(r() % 300);
      for (let i = 0; i < b.length; i++) b[i] = r() & 0xff;
      expect(finish(sumWords(b, 0, b.length))).toBe(inetChecksum(b));
    }
  });

  it('RFC 1624 eqn. 3 update equals a recomputation (up to the ±0 representation)', () => {
    const r = rng(11);
    for (let n = 0; n < 500; n++) {
      const b = new Uint8Array(40);
      for (let i = 0; i < b.length; i++) b[i] = r() & 0xff;
      if (n % 50 === 0) b.fill(0, 0, 8); // exercise zero words
      const before = inetChecksum(b);
      const oldSum = sumWords(b, 0, 8);
      for (let i = 0; i < 8; i++) b[i] = n % 25 === 0 ? 0xff : r() & 0xff;
      const updated = adjustChecksum(before, oldSum, sumWords(b, 0, 8));
      const fresh = inetChecksum(b);
      // 0x0000 and 0xffff are the same one's complement value.
      expect(updated === fresh || (updated | fresh) === 0xffff).toBe(true);
      // The data with the updated checksum must verify.
      expect(inetChecksum(b, Uint8Array.of(updated >> 8, updated & 0xff)) % 0xffff).toBe(0);
    }
  });
});
