import { describe, expect, it } from 'vitest';
import { edes, rcode, rows } from '../helpers/dns';
import type { Fault } from '../helpers/fake-upstream';
import { harness, UP_A, UP_B, ZONE } from './setup';

/**
 * Upstream faults injected per query type (issue 7): the client always gets an answer — the
 * healthy second upstream's, a synthesis where RFC 6147 allows it, or SERVFAIL with an EDE.
 */
const FAULTS: Fault[] = ['hang', 'slow', 'http502', 'garbage', 'wrong-id', 'truncated'];
const TIMEOUTS = new Set<Fault>(['hang', 'slow']);

const EXPECTED: Record<string, [string, unknown][]> = {
  A: [['A', '192.0.2.5']],
  AAAA: [['AAAA', '2001:db8:1::5']],
  MX: [],
  PTR: [],
};

describe('upstream faults, per query type', () => {
  for (const fault of FAULTS) {
    for (const type of Object.keys(EXPECTED)) {
      it(`${fault} on the first upstream, ${type}: the second takes over`, async () => {
        const { ask } = harness({ [UP_A]: fault });
        const res = await ask('dual.test', type, { edns: true });
        expect(rcode(res)).toBe(0);
        expect(rows(res.answers).map((r) => [r[1], r[3]])).toEqual(EXPECTED[type]);
      });

      it(`${fault} on both upstreams, ${type}: SERVFAIL with EDE ${TIMEOUTS.has(fault) ? 22 : 23}`, async () => {
        const { ask } = harness({ [UP_A]: fault, [UP_B]: fault });
        const res = await ask('dual.test', type, { edns: true });
        expect(rcode(res)).toBe(2);
        expect(edes(res).map((e) => e.code)).toEqual([TIMEOUTS.has(fault) ? 22 : 23]);
      });
    }

    it(`${fault} on the AAAA question only: synthesis from A (RFC 6147 sec. 5.1.2)`, async () => {
      const zone = { ...ZONE, 'f.test': { A: ['192.0.2.77'], ttl: 100, fault: { AAAA: fault } } };
      const { ask } = harness({}, zone);
      const res = await ask('f.test', 'AAAA', { edns: true });
      expect(rows(res.answers)).toEqual([['f.test', 'AAAA', 100, '2001:db8:64::c000:24d']]);
      expect(edes(res)).toEqual([{ code: 29, text: '' }]);
    });

    it(`${fault} on the A question of an A-only name: SERVFAIL with EDE`, async () => {
      const zone = { ...ZONE, 'g.test': { A: ['192.0.2.78'], fault: { A: fault } } };
      const { ask } = harness({}, zone);
      const res = await ask('g.test', 'AAAA', { edns: true });
      // The AAAA answer was a clean NODATA, but the A error is the basis: SERVFAIL, not a NODATA
      // the client would cache for a name that has an address.
      expect(rcode(res)).toBe(2);
      expect(edes(res).map((e) => e.code)).toEqual([TIMEOUTS.has(fault) ? 22 : 23]);
    });
  }
});
