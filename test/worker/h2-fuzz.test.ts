import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { H2Connection, type H2Handler } from '../../src/node/h2/connection';
import {
  CLIENT_PREFACE,
  ErrorCode,
  Flag,
  FrameType,
  frame,
  settingsFrame,
  wordsFrame,
} from '../../src/node/h2/frames';
import { prng } from '../helpers/fuzz';
import { joinBytes, literalBlock } from '../helpers/h2';

/** A plausible client session: preface, SETTINGS, a few GETs and a POST, a PING, a WINDOW_UPDATE. */
function session(rand: () => number): Uint8Array[] {
  const frames: Uint8Array[] = [
    CLIENT_PREFACE,
    settingsFrame([[0x4, 1 + Math.floor(rand() * 70_000)]]),
  ];
  let id = 1;
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++, id += 2) {
    const post = rand() < 0.3;
    const fields: [string, string][] = [
      [':method', post ? 'POST' : 'GET'],
      [':scheme', 'http'],
      [':path', `/dns-query?dns=AAABAAABAAAAAAAAA2Zvbwd${i}`],
      [':authority', 'doh.test'],
    ];
    const block = literalBlock(fields);
    if (post) {
      frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, block));
      frames.push(
        frame(FrameType.DATA, Flag.END_STREAM, id, new Uint8Array(Math.floor(rand() * 40))),
      );
    } else if (rand() < 0.3) {
      const cut = Math.floor(block.length / 2);
      frames.push(frame(FrameType.HEADERS, Flag.END_STREAM, id, block.subarray(0, cut)));
      frames.push(frame(FrameType.CONTINUATION, Flag.END_HEADERS, id, block.subarray(cut)));
    } else {
      frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, block));
    }
  }
  frames.push(frame(FrameType.PING, 0, 0, new Uint8Array(8)));
  frames.push(wordsFrame(FrameType.WINDOW_UPDATE, 0, [1 + Math.floor(rand() * 1000)]));
  return frames;
}

/**
 * Every output must split into whole frames (a 9-byte header and a payload of its length), and no
 * GOAWAY may say INTERNAL_ERROR: that is what receive() makes of an exception, i.e. of a bug.
 */
function wellFramed(bytes: Uint8Array): boolean {
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 9) return false;
    const length = (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
    if (bytes[at + 3] === FrameType.GOAWAY && length >= 8) {
      const code = new DataView(bytes.buffer, bytes.byteOffset + at + 13, 4).getUint32(0);
      if (code === ErrorCode.INTERNAL_ERROR) return false;
    }
    at += 9 + length;
  }
  return at === bytes.length;
}

const handler: H2Handler = (req) => {
  const body = new TextEncoder().encode(req.path);
  const res = { status: 200, headers: [['content-length', String(body.length)]] as const, body };
  return req.method === 'POST' ? Promise.resolve(res) : res;
};

function run(input: Uint8Array, rand: () => number): { out: Uint8Array; closed: boolean } {
  const conn = new H2Connection(handler, () => {});
  const out: Uint8Array[] = [];
  for (let at = 0; at < input.length;) {
    const size = 1 + Math.floor(rand() * 64);
    conn.receive(input.subarray(at, at + size));
    out.push(...conn.takeOutput());
    at += size;
  }
  out.push(...conn.takeOutput());
  return { out: joinBytes(out), closed: conn.closed };
}

describe('HTTP/2 connection under mutated input', () => {
  // CI: 3 000 sessions; `H2_FUZZ_SESSIONS=100000 npm run test:unit` runs it full size.
  const ROUNDS = Number((env as { H2_FUZZ_SESSIONS?: string }).H2_FUZZ_SESSIONS || 3000);

  it(`never throws and always writes whole frames (${ROUNDS} mutated sessions)`, async () => {
    let goaways = 0;
    for (let seed = 1; seed <= ROUNDS; seed++) {
      // A long synchronous loop starves the test runner's own connection to workerd.
      if (seed % 1000 === 0) await new Promise((r) => setTimeout(r, 0));
      const rand = prng(seed);
      const input = joinBytes(session(rand));
      const mutations = Math.floor(rand() * 4);
      for (let m = 0; m < mutations; m++) {
        // Keep the preface intact half of the time, so the frame parser sees the damage.
        const from = rand() < 0.5 ? CLIENT_PREFACE.length : 0;
        input[from + Math.floor(rand() * (input.length - from))] = Math.floor(rand() * 256);
      }
      const cut = rand() < 0.2 ? Math.floor(rand() * input.length) : input.length;
      let result: { out: Uint8Array; closed: boolean } | null = null;
      expect(() => (result = run(input.subarray(0, cut), rand)), `seed ${seed}`).not.toThrow();
      const { out, closed } = result!;
      expect(wellFramed(out), `seed ${seed}`).toBe(true);
      if (closed) goaways++;
    }
    console.log(`h2 fuzz: ${ROUNDS} sessions, ${goaways} closed with GOAWAY`);
    // The mutations do reach the error paths (not every session is accepted untouched).
    expect(goaways).toBeGreaterThan(ROUNDS / 10);
  }, 600_000);

  it('gives the same bytes whatever the chunking of an undamaged session', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const input = joinBytes(session(prng(seed)));
      const whole = run(input, () => 0.999).out; // 64-byte pieces
      const pieces = run(input, prng(seed * 7)).out; // random 1..64-byte pieces
      expect(pieces, `seed ${seed}`).toEqual(whole);
    }
  });
});
