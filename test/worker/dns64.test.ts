import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decode, edes, rcode, rows } from '../helpers/dns';
import { harness, UP_A, UP_B } from './setup';

const AD = 0x20;

describe('DNS64 synthesis (RFC 6147 sec. 5.1)', () => {
  it('synthesizes AAAA from A when the AAAA answer is NODATA, TTL capped by the SOA', async () => {
    const { ask } = harness();
    const res = await ask('a-only.test', 'AAAA', { edns: true });
    expect(res.id).toBe(0x1234);
    expect(rcode(res)).toBe(0);
    // min(A TTL 1000, min(SOA TTL 3600, SOA MINIMUM 300)) = 300
    expect(rows(res.answers)).toEqual([['a-only.test', 'AAAA', 300, '2001:db8:64::cb00:710a']]);
    expect(edes(res)).toEqual([{ code: 29, text: '' }]);
    expect((res.flags ?? 0) & AD).toBe(0);
  });

  it('keeps a smaller A TTL and synthesizes one AAAA per A record', async () => {
    const { ask } = harness();
    expect(rows((await ask('short.test', 'AAAA')).answers)).toEqual([
      ['short.test', 'AAAA', 120, '2001:db8:64::c633:6407'],
    ]);
    expect(rows((await ask('two.test', 'AAAA')).answers)).toEqual([
      ['two.test', 'AAAA', 300, '2001:db8:64::c000:201'],
      ['two.test', 'AAAA', 300, '2001:db8:64::c000:202'],
    ]);
  });

  it('adds no EDNS and no EDE when the query had no OPT record (RFC 6891 sec. 7)', async () => {
    const { ask } = harness();
    const res = await ask('a-only.test', 'AAAA');
    expect(res.additionals ?? []).toEqual([]);
  });

  it('returns real AAAA records unchanged', async () => {
    const { ask } = harness();
    const res = await ask('dual.test', 'AAAA');
    expect(rows(res.answers)).toEqual([['dual.test', 'AAAA', 3600, '2001:db8:1::5']]);
  });

  it('treats an answer of only excluded AAAA (::ffff:0:0/96) as NODATA', async () => {
    const { ask } = harness();
    const res = await ask('mapped.test', 'AAAA');
    // The AAAA answer had records, so no SOA: min(A TTL 3600, 600)
    expect(rows(res.answers)).toEqual([['mapped.test', 'AAAA', 600, '2001:db8:64::c000:206']]);
  });

  it('filters excluded records one by one and keeps the rest', async () => {
    const { ask } = harness();
    const res = await ask('mixed.test', 'AAAA');
    expect(rows(res.answers)).toEqual([['mixed.test', 'AAAA', 3600, '2001:db8:1::7']]);
  });

  it('does not synthesize for NXDOMAIN', async () => {
    const { ask, upstream } = harness();
    const res = await ask('missing.test', 'AAAA');
    expect(rcode(res)).toBe(3);
    expect(res.answers).toEqual([]);
    expect(rows(res.authorities)[0]?.slice(0, 2)).toEqual(['test', 'SOA']);
    expect(upstream.log.map((l) => l.type).sort()).toEqual(['A', 'AAAA']);
  });

  it('synthesizes when the AAAA query gets SERVFAIL from every upstream', async () => {
    const { ask } = harness();
    const res = await ask('v6fail.test', 'AAAA');
    expect(rcode(res)).toBe(0);
    // No SOA from a failed AAAA query: TTL = min(A TTL, 600)
    expect(rows(res.answers)).toEqual([['v6fail.test', 'AAAA', 600, '2001:db8:64::c000:208']]);
  });

  it('synthesizes when the AAAA query times out', async () => {
    const { ask } = harness();
    const res = await ask('v6slow.test', 'AAAA', { edns: true });
    expect(rows(res.answers)).toEqual([['v6slow.test', 'AAAA', 600, '2001:db8:64::c000:209']]);
    expect(edes(res)).toEqual([{ code: 29, text: '' }]);
  });

  it('follows a CNAME chain and returns it before the synthesized record', async () => {
    const { ask } = harness();
    const res = await ask('www.chain.test', 'AAAA');
    expect(rows(res.answers)).toEqual([
      ['www.chain.test', 'CNAME', 900, 'mid.chain.test'],
      ['mid.chain.test', 'CNAME', 800, 'a-only.test'],
      ['a-only.test', 'AAAA', 300, '2001:db8:64::cb00:710a'],
    ]);
  });

  it('passes the additional section through', async () => {
    const { ask } = harness();
    const res = await ask('extra.test', 'AAAA');
    expect(rows(res.additionals)).toEqual([['extra.test', 'TXT', 60, [Buffer.from('hello')]]]);
  });

  it('answers NODATA when neither AAAA nor A exist', async () => {
    const { ask } = harness();
    const res = await ask('noaddr.test', 'AAAA');
    expect(rcode(res)).toBe(0);
    expect(res.answers).toEqual([]);
    expect(rows(res.authorities)[0]?.slice(0, 3)).toEqual(['test', 'SOA', 3600]);
  });

  it('asks A and AAAA in parallel, with ID 0 and RD set (RFC 8484 sec. 4.1)', async () => {
    const { ask, upstream } = harness();
    await ask('a-only.test', 'AAAA');
    expect(upstream.maxInFlight).toBe(2);
    expect(upstream.log.map((l) => [l.id, l.flags & 0x100, l.type]).sort()).toEqual([
      [0, 0x100, 'A'],
      [0, 0x100, 'AAAA'],
    ]);
  });

  it('never synthesizes non-global IPv4 under the Well-Known Prefix (RFC 6052 sec. 3.1)', async () => {
    const { ask } = harness();
    const doc = await ask('a-only.test', 'AAAA', {}, '/p/64:ff9b::/96/dns-query');
    expect(doc.answers).toEqual([]);
    expect(rcode(doc)).toBe(0);
    const pub = await ask('public.test', 'AAAA', {}, '/p/64:ff9b::/96/dns-query');
    expect(rows(pub.answers)).toEqual([['public.test', 'AAAA', 300, '64:ff9b::909:909']]);
  });

  it('lets a network-specific prefix carry any IPv4 address', async () => {
    const { ask } = harness();
    const res = await ask('a-only.test', 'AAAA', {}, '/p/64:ff9b:1::/48/dns-query');
    expect(rows(res.answers)).toEqual([['a-only.test', 'AAAA', 300, '64:ff9b:1:cb00:71:a00::']]);
  });
});

describe('RFC 6052 sec. 2.4 examples through /p/{prefix}/dns-query', () => {
  const zone = { 'ex.test': { A: ['192.0.2.33'], ttl: 60 } };
  const cases: [string, string][] = [
    ['2001:db8::/32', '2001:db8:c000:221::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
    ['2001:db8:122:344::/96', '2001:db8:122:344::c000:221'],
  ];
  for (const [prefix, expected] of cases) {
    it(`${prefix} embeds 192.0.2.33 as ${expected}`, async () => {
      const { ask } = harness({}, zone);
      const res = await ask('ex.test', 'AAAA', {}, `/p/${prefix}/dns-query`);
      expect(rows(res.answers)).toEqual([['ex.test', 'AAAA', 60, expected]]);
    });
  }

  const invalid: [string, string][] = [
    [
      '2001:db8::/33',
      'invalid prefix: 2001:db8::/33: RFC 6052 allows only /32, /40, /48, /56, /64 or /96',
    ],
    ['2001:db8::1/96', 'invalid prefix: 2001:db8::1/96: bits after /96 must be zero'],
    [
      '2001:db8:0:0:ff00::/96',
      'invalid prefix: 2001:db8:0:0:ff00::/96: bits 64-71 (the u-octet) must be zero (RFC 6052 §2.2)',
    ],
    ['192.0.2.0/24', 'invalid prefix: 192.0.2.0/24: 192.0.2.0 is not an IPv6 address'],
  ];
  for (const [prefix, reason] of invalid) {
    it(`refuses ${prefix} with 400 and the rule it breaks`, async () => {
      const { get } = harness({}, zone);
      const res = await get(`/p/${prefix}/dns-query?dns=AAABAAABAAAAAAAAAmV4BHRlc3QAABwAAQ`);
      expect(res.status).toBe(400);
      expect(await res.text()).toBe(`${reason}\n`);
    });
  }
});

describe('PTR for synthesized addresses (RFC 6147 sec. 5.3.1)', () => {
  it('answers an ip6.arpa name under the prefix with a CNAME and the PTR', async () => {
    const { ask, upstream } = harness();
    const name = 'a.0.1.7.0.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.4.6.0.0.8.b.d.0.1.0.0.2.ip6.arpa';
    const res = await ask(name, 'PTR', { edns: true });
    expect(rows(res.answers)).toEqual([
      [name, 'CNAME', 600, '10.113.0.203.in-addr.arpa'],
      ['10.113.0.203.in-addr.arpa', 'PTR', 700, 'a-only.test'],
    ]);
    expect(upstream.log.map((l) => [l.name, l.type])).toEqual([
      ['10.113.0.203.in-addr.arpa', 'PTR'],
    ]);
  });

  it('forwards an ip6.arpa name outside every prefix unchanged', async () => {
    const { ask, upstream } = harness();
    const name = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';
    const res = await ask(name, 'PTR');
    expect(rcode(res)).toBe(3);
    expect(upstream.log.map((l) => l.name)).toEqual([name]);
  });
});

describe('ipv4only.arpa (RFC 7050, RFC 8880)', () => {
  it('answers A, AAAA and PTR locally without asking upstream', async () => {
    const { ask, upstream } = harness();
    expect(rows((await ask('ipv4only.arpa', 'A')).answers)).toEqual([
      ['ipv4only.arpa', 'A', 86400, '192.0.0.170'],
      ['ipv4only.arpa', 'A', 86400, '192.0.0.171'],
    ]);
    expect(rows((await ask('IPv4only.ARPA', 'AAAA')).answers)).toEqual([
      ['IPv4only.ARPA', 'AAAA', 86400, '2001:db8:64::c000:aa'],
      ['IPv4only.ARPA', 'AAAA', 86400, '2001:db8:64::c000:ab'],
    ]);
    expect(rows((await ask('170.0.0.192.in-addr.arpa', 'PTR')).answers)).toEqual([
      ['170.0.0.192.in-addr.arpa', 'PTR', 86400, 'ipv4only.arpa'],
    ]);
    const wkp = await ask('ipv4only.arpa', 'AAAA', {}, '/p/64:ff9b::/96/dns-query');
    expect(rows(wkp.answers).map((r) => r[3])).toEqual(['64:ff9b::c000:aa', '64:ff9b::c000:ab']);
    const mx = await ask('ipv4only.arpa', 'MX');
    expect(rcode(mx)).toBe(0);
    expect(mx.answers).toEqual([]);
    expect(rows(mx.authorities)[0]?.slice(0, 2)).toEqual(['ipv4only.arpa', 'SOA']);
    expect(upstream.log).toEqual([]);
  });
});

describe('DNSSEC (RFC 6147 sec. 5.5)', () => {
  it('with DO=1 and CD=1 returns the real NODATA, unsynthesized', async () => {
    const { ask } = harness();
    const res = await ask('a-only.test', 'AAAA', { dnssecOk: true, cd: true });
    expect(res.answers).toEqual([]);
    expect(rcode(res)).toBe(0);
    expect(rows(res.authorities)[0]?.slice(0, 2)).toEqual(['test', 'SOA']);
  });

  it('never sets AD on a synthesized answer, even when the A answer had it', async () => {
    const { ask, upstream } = harness();
    const res = await ask('signed.test', 'AAAA', { dnssecOk: true });
    expect(rows(res.answers)).toEqual([['signed.test', 'AAAA', 300, '2001:db8:64::c000:20a']]);
    expect((res.flags ?? 0) & AD).toBe(0);
    expect(upstream.log.every((l) => l.dnssecOk)).toBe(true);
  });
});

describe('upstream failures', () => {
  it('fails over to the second upstream on HTTP 502, garbage, wrong ID, wrong question, TC', async () => {
    for (const fault of [
      'http502',
      'garbage',
      'wrong-id',
      'wrong-question',
      'truncated',
    ] as const) {
      const { ask, upstream } = harness({ [UP_A]: fault });
      const res = await ask('dual.test', 'A');
      expect(rows(res.answers), fault).toEqual([['dual.test', 'A', 3600, '192.0.2.5']]);
      expect(upstream.log.map((l) => l.url)).toEqual([UP_A, UP_B]);
    }
  });

  it('answers SERVFAIL with EDE 23 and the reasons when every upstream fails', async () => {
    const { ask } = harness({ [UP_A]: 'http502', [UP_B]: 'garbage' });
    const res = await ask('dual.test', 'MX', { edns: true });
    expect(rcode(res)).toBe(2);
    expect(edes(res)).toEqual([
      {
        code: 23,
        text:
          'upstream failed: https://upstream-a.test/dns-query: HTTP 502; ' +
          'https://upstream-b.test/dns-query: malformed DNS message',
      },
    ]);
  });

  it('answers SERVFAIL with EDE 22 when every upstream times out', async () => {
    const { ask } = harness({ [UP_A]: 'hang', [UP_B]: 'hang' });
    const res = await ask('a-only.test', 'AAAA', { edns: true });
    expect(rcode(res)).toBe(2);
    expect(edes(res).map((e) => e.code)).toEqual([22]);
    expect(edes(res)[0]?.text).toMatch(/^upstream timed out: AAAA: .*no answer within \d+ ms/);
  });
});

describe('DNS-level errors', () => {
  it('answers BADVERS to EDNS version 1 (RFC 6891 sec. 6.1.3)', async () => {
    const { ask } = harness();
    const res = await ask('dual.test', 'A', { ednsVersion: 1 });
    const opt = res.additionals?.find((r) => r.type === 'OPT') as { extendedRcode: number };
    expect([rcode(res), opt.extendedRcode]).toEqual([0, 1]);
  });

  it('answers FORMERR to two questions and NOTIMP to a non-QUERY opcode', async () => {
    const { get } = harness();
    // id 7, RD, QDCOUNT 2: a.test A, b.test A
    const two = Uint8Array.from([
      0, 7, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 97, 4, 116, 101, 115, 116, 0, 0, 1, 0, 1, 1, 98, 4,
      116, 101, 115, 116, 0, 0, 1, 0, 1,
    ]);
    const r1 = await get('/dns-query', {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: two,
    });
    expect(r1.status).toBe(200);
    expect(rcode(decode(await r1.arrayBuffer()))).toBe(1);
    const notify = Uint8Array.from([
      0, 8, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 4, 116, 101, 115, 116, 0, 0, 6, 0, 1,
    ]);
    const r2 = await get('/dns-query', {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: notify,
    });
    expect(rcode(decode(await r2.arrayBuffer()))).toBe(4);
  });
});
