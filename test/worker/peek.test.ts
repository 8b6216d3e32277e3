import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { clientEdns } from '../../src/dns/edns';
import { decodeMessage } from '../../src/dns/message';
import { peekQuery } from '../../src/dns/peek';
import { query } from '../helpers/dns';
import { fuzzRequest, prng } from '../helpers/fuzz';

/** The cache-hit path reads queries off the wire; it must agree with the full decoder. */
describe('peekQuery', () => {
  it('agrees with dns-packet on every query it accepts, and refuses the unusual', () => {
    const rand = prng(42);
    let accepted = 0;
    const inputs: Uint8Array[] = [
      query('Mixed-Case.example', 'AAAA', { id: 9, edns: true, dnssecOk: true, cd: true }),
      query('pad.example', 'A', { padding: true }),
      query('_srv._tcp.example', 'SRV'),
    ];
    for (let i = 0; i < 3000; i++) {
      const r = fuzzRequest(rand);
      const body = r.init.body;
      if (body instanceof Uint8Array) inputs.push(body);
      const m = /dns=([^&]+)/.exec(r.path);
      if (m) inputs.push(new Uint8Array(Buffer.from(decodeURIComponent(m[1]!), 'base64url')));
    }
    for (const raw of inputs) {
      const shape = peekQuery(raw);
      if (!shape) continue;
      accepted++;
      const decoded = decodeMessage(raw);
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) continue;
      const p = decoded.packet;
      expect(shape.id).toBe(p.id);
      expect(shape.flags).toBe(p.flags ?? 0);
      expect(shape.qname).toBe(p.questions![0]!.name);
      expect(shape.qtype).toBe(p.questions![0]!.type);
      expect(shape.edns).toEqual(clientEdns(p));
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('refuses two questions, other classes, EDNS version 1, compression and trailing bytes', () => {
    const two = Uint8Array.from([
      0, 7, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1, 1, 98, 0, 0, 1, 0, 1,
    ]);
    const chaos = Uint8Array.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 16, 0, 3]);
    const pointer = Uint8Array.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const trailing = Uint8Array.from([...query('a.example', 'A'), 0]);
    const v1 = query('a.example', 'A', { ednsVersion: 1 });
    for (const raw of [two, chaos, pointer, trailing, v1]) expect(peekQuery(raw)).toBe(null);
  });
});
