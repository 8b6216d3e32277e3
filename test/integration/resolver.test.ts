import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, requireCommand, startBind, startDnsdist, startWrangler } from './servers';

/**
 * The worker in workerd (`wrangler dev --local-protocol https`), asking a real upstream:
 * dnsdist's DoH in front of BIND serving dns64.test. Clients: dnspython and curl.
 */
let bind: Running;
let dnsdist: Running;
let worker: Running;
let base: string;

beforeAll(async () => {
  requireCommand('/usr/bin/python3', 'python3-dnspython python3-httpx');
  requireCommand('curl', 'curl');
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  worker = await startWrangler({
    UPSTREAMS: `http://127.0.0.1:${dnsdist.port}/dns-query`,
    DNS64_PREFIX: '2001:db8:64::/96',
  });
  base = `https://127.0.0.1:${worker.port}`;
});

afterAll(async () => {
  await worker?.stop();
  await dnsdist?.stop();
  await bind?.stop();
});

interface PyAnswer {
  id_matches: boolean;
  rcode: string;
  flags: string[];
  answer: [string, number, string, string][];
  authority: [string, number, string, string][];
  ede: number[];
}

function dnspython(path: string, name: string, type: string, method = 'post'): PyAnswer {
  const script = join(__dirname, 'doh_client.py');
  const out = execFileSync('/usr/bin/python3', [script, `${base}${path}`, name, type, method]);
  return JSON.parse(out.toString()) as PyAnswer;
}

describe('dnspython against the worker, BIND behind dnsdist as the upstream', () => {
  it('synthesizes AAAA for an A-only name (POST)', () => {
    const r = dnspython('/dns-query', 'a-only.dns64.test', 'AAAA');
    expect(r.id_matches).toBe(true);
    expect(r.rcode).toBe('NOERROR');
    expect(r.flags).toEqual(['QR', 'RD', 'RA']);
    expect(r.answer).toEqual([['a-only.dns64.test.', 300, 'AAAA', '2001:db8:64::cb00:710a']]);
    expect(r.ede).toEqual([29]);
  });

  it('follows the CNAME chain (GET)', () => {
    const r = dnspython('/dns-query', 'www.dns64.test', 'AAAA', 'get');
    expect(r.answer).toEqual([
      ['www.dns64.test.', 900, 'CNAME', 'mid.dns64.test.'],
      ['mid.dns64.test.', 800, 'CNAME', 'a-only.dns64.test.'],
      ['a-only.dns64.test.', 300, 'AAAA', '2001:db8:64::cb00:710a'],
    ]);
  });

  it('returns a real AAAA untouched and ignores an excluded one', () => {
    expect(dnspython('/dns-query', 'dual.dns64.test', 'AAAA').answer).toEqual([
      ['dual.dns64.test.', 3600, 'AAAA', '2001:db8:1::5'],
    ]);
    expect(dnspython('/dns-query', 'mapped.dns64.test', 'AAAA').answer).toEqual([
      ['mapped.dns64.test.', 600, 'AAAA', '2001:db8:64::c000:206'],
    ]);
  });

  it('answers NXDOMAIN without synthesis, with the SOA', () => {
    const r = dnspython('/dns-query', 'missing.dns64.test', 'AAAA');
    expect(r.rcode).toBe('NXDOMAIN');
    expect(r.answer).toEqual([]);
    expect(r.authority).toEqual([
      ['dns64.test.', 300, 'SOA', 'ns.dns64.test. admin.dns64.test. 1 3600 600 86400 300'],
    ]);
  });

  it('maps a PTR under the prefix to in-addr.arpa through a CNAME', () => {
    const r = dnspython(
      '/dns-query',
      'a.0.1.7.0.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.4.6.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
      'PTR',
    );
    expect(r.answer).toEqual([
      [
        'a.0.1.7.0.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.4.6.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
        600,
        'CNAME',
        '10.113.0.203.in-addr.arpa.',
      ],
      ['10.113.0.203.in-addr.arpa.', 700, 'PTR', 'a-only.dns64.test.'],
    ]);
  });

  it('uses the prefix of a /p/ URL', () => {
    const r = dnspython('/p/2001:db8:122:344::/64/dns-query', 'two.dns64.test', 'AAAA');
    // BIND rotates the order of an RRset's records (rrset-order cyclic): compare them sorted.
    expect([...r.answer].sort()).toEqual([
      ['two.dns64.test.', 300, 'AAAA', '2001:db8:122:344:c0:2:100:0'],
      ['two.dns64.test.', 300, 'AAAA', '2001:db8:122:344:c0:2:200:0'],
    ]);
  });

  it('passes other types through (TXT)', () => {
    expect(dnspython('/dns-query', 'txt.dns64.test', 'TXT').answer).toEqual([
      ['txt.dns64.test.', 3600, 'TXT', '"hello world"'],
    ]);
  });
});

describe('curl against the worker', () => {
  it('GET ?dns= gets application/dns-message with Cache-Control from the TTL', () => {
    // a-only.dns64.test AAAA, ID 0, RD
    const q = 'AAABAAABAAAAAAAABmEtb25seQVkbnM2NAR0ZXN0AAAcAAE';
    const out = execFileSync('curl', [
      '-sk',
      '-D',
      '-',
      '-o',
      '/dev/null',
      `${base}/dns-query?dns=${q}`,
    ]);
    const headers = out.toString().toLowerCase();
    expect(headers).toMatch(/^http\/1\.1 200/);
    expect(headers).toContain('content-type: application/dns-message');
    expect(headers).toContain('cache-control: max-age=300');
  });

  it('the JSON API discovers the prefix through ipv4only.arpa (RFC 7050)', () => {
    const out = execFileSync('curl', ['-sk', `${base}/resolve?name=ipv4only.arpa&type=AAAA`]);
    const body = JSON.parse(out.toString()) as { Answer: { data: string }[] };
    expect(body.Answer.map((a) => a.data)).toEqual([
      '2001:db8:64::c000:aa',
      '2001:db8:64::c000:ab',
    ]);
  });

  it('a bad request gets 400 and its reason', () => {
    const out = execFileSync('curl', ['-sk', '-w', '%{http_code}', `${base}/dns-query?dns=%%%`]);
    expect(out.toString()).toBe('dns parameter is not base64url\n400');
  });
});
