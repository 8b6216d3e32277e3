import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { b64url, decode, edes, query, rcode, rows } from '../helpers/dns';
import { harness } from './setup';

const DNS_MESSAGE = 'application/dns-message';

describe('RFC 8484 GET and POST', () => {
  it('answers GET ?dns= (base64url without padding), echoing the client ID', async () => {
    const { get } = harness();
    const q = query('dual.test', 'A', { id: 0xbeef });
    const res = await get(`/dns-query?dns=${b64url(q)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(DNS_MESSAGE);
    // RFC 8484 sec. 5.1: the smallest TTL of the answer
    expect(res.headers.get('cache-control')).toBe('max-age=3600');
    const answer = decode(await res.arrayBuffer());
    expect(answer.id).toBe(0xbeef);
    expect(rows(answer.answers)).toEqual([['dual.test', 'A', 3600, '192.0.2.5']]);
  });

  it('tolerates base64 padding in ?dns=', async () => {
    const { get } = harness();
    const q = query('a-only.test', 'A', { id: 1 });
    const padded = Buffer.from(q).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    expect(padded.endsWith('=')).toBe(true);
    const res = await get(`/dns-query?dns=${padded}`);
    expect(res.status).toBe(200);
    expect(decode(await res.arrayBuffer()).id).toBe(1);
  });

  it('answers POST application/dns-message', async () => {
    const { get } = harness();
    const res = await get('/dns-query', {
      method: 'POST',
      headers: { 'content-type': DNS_MESSAGE, accept: DNS_MESSAGE },
      body: query('a-only.test', 'AAAA', { id: 77 }),
    });
    expect(res.status).toBe(200);
    const answer = decode(await res.arrayBuffer());
    expect(answer.id).toBe(77);
    expect(rows(answer.answers)).toEqual([['a-only.test', 'AAAA', 300, '2001:db8:64::cb00:710a']]);
    expect(res.headers.get('cache-control')).toBe('max-age=300');
  });

  it('gives negative answers the SOA-derived lifetime (RFC 2308)', async () => {
    const { get } = harness();
    const res = await get(`/dns-query?dns=${b64url(query('missing.test', 'A'))}`);
    expect(rcode(decode(await res.arrayBuffer()))).toBe(3);
    expect(res.headers.get('cache-control')).toBe('max-age=300');
  });

  it('lets nobody cache a SERVFAIL', async () => {
    const { get } = harness({
      'https://upstream-a.test/dns-query': 'http502',
      'https://upstream-b.test/dns-query': 'http502',
    });
    const res = await get(`/dns-query?dns=${b64url(query('dual.test', 'A'))}`);
    expect(rcode(decode(await res.arrayBuffer()))).toBe(2);
    expect(res.headers.get('cache-control')).toBe('max-age=0');
  });

  it('pads the response to a multiple of 468 octets when the query was padded (RFC 8467)', async () => {
    const { get, upstream } = harness();
    const res = await get(
      `/dns-query?dns=${b64url(query('a-only.test', 'AAAA', { padding: true }))}`,
    );
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length % 468).toBe(0);
    expect(edes(decode(bytes))).toEqual([{ code: 29, text: '' }]);
    // and the upstream queries were padded to a multiple of 128 (RFC 8467 sec. 4.1)
    expect(upstream.log.map((l) => [l.queryLength % 128, (l.paddingLength ?? 0) > 0])).toEqual([
      [0, true],
      [0, true],
    ]);
  });
});

describe('HTTP errors carry a status and a one-line reason', () => {
  const cases: [string, string, RequestInit | undefined, number, string][] = [
    ['missing dns', '/dns-query', undefined, 400, 'missing dns parameter'],
    ['bad base64', '/dns-query?dns=***', undefined, 400, 'dns parameter is not base64url'],
    [
      'too short',
      '/dns-query?dns=AAAA',
      undefined,
      400,
      'not a DNS message: shorter than 12 bytes',
    ],
    [
      'a response, not a query',
      `/dns-query?dns=${b64url(Uint8Array.from([0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]))}`,
      undefined,
      400,
      'not a DNS query: QR bit is set',
    ],
    [
      'no question',
      `/dns-query?dns=${b64url(Uint8Array.from([0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))}`,
      undefined,
      400,
      'DNS query has no question',
    ],
    [
      'wrong content type',
      '/dns-query',
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' },
      415,
      'content-type must be application/dns-message, not text/plain',
    ],
    [
      'body over 65535 bytes',
      '/dns-query',
      { method: 'POST', headers: { 'content-type': DNS_MESSAGE }, body: new Uint8Array(65536) },
      413,
      'body exceeds 65535 bytes',
    ],
    ['PUT', '/dns-query', { method: 'PUT', body: 'x' }, 405, 'method PUT not allowed'],
    ['unknown path', '/nope', undefined, 404, 'not found: DoH is served at /dns-query'],
  ];
  for (const [what, path, init, status, reason] of cases) {
    it(`${what}: ${status}`, async () => {
      const { get, upstream } = harness();
      const res = await get(path, init);
      expect(res.status).toBe(status);
      expect(await res.text()).toBe(`${reason}\n`);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      if (status === 405) expect(res.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
      expect(upstream.log).toEqual([]);
    });
  }
});

describe('bad settings', () => {
  it('names every bad variable at once in the 500 text, not only the first', async () => {
    const { get, upstream } = harness({}, undefined, {
      UPSTREAMS: 'ftp://x,not a url',
      DNS64_PREFIX: 'bad',
      UPSTREAM_TIMEOUT_MS: '10',
    });
    const res = await get(`/dns-query?dns=${b64url(query('dual.test', 'A'))}`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(
      'misconfigured: UPSTREAMS: ftp://x must be an https:// or http:// DoH URL, or udp://, tcp:// or tls:// host[:port]; ' +
        'UPSTREAMS: not a url is not a URL; DNS64_PREFIX: bad: a prefix needs a length (e.g. /96); ' +
        'UPSTREAM_TIMEOUT_MS: 10 is not a whole number from 50 to 30000\n',
    );
    expect(upstream.log).toEqual([]);
  });
});

describe('CORS for browser-based clients', () => {
  it('answers a preflight and marks answers readable from any origin', async () => {
    const { get } = harness();
    const pre = await get('/dns-query', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET,POST,OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe('Content-Type,Accept');
    const res = await get(`/dns-query?dns=${b64url(query('dual.test', 'A'))}`, {
      headers: { origin: 'https://app.example' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('JSON API (application/dns-json)', () => {
  it('answers Google-style /resolve with the synthesized record', async () => {
    const { get } = harness();
    const res = await get('/resolve?name=a-only.test&type=AAAA');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({
      Status: 0,
      TC: false,
      RD: true,
      RA: true,
      AD: false,
      CD: false,
      Question: [{ name: 'a-only.test.', type: 28 }],
      Answer: [{ name: 'a-only.test.', type: 28, TTL: 300, data: '2001:db8:64::cb00:710a' }],
      Comment: ['EDE(29)'],
    });
  });

  it('answers Cloudflare-style /dns-query with Accept: application/dns-json', async () => {
    const { get } = harness();
    const res = await get('/dns-query?name=www.chain.test&type=28', {
      headers: { accept: 'application/dns-json' },
    });
    expect(res.headers.get('content-type')).toBe('application/dns-json');
    const body = (await res.json()) as { Answer: unknown[] };
    expect(body.Answer).toEqual([
      { name: 'www.chain.test.', type: 5, TTL: 900, data: 'mid.chain.test.' },
      { name: 'mid.chain.test.', type: 5, TTL: 800, data: 'a-only.test.' },
      { name: 'a-only.test.', type: 28, TTL: 300, data: '2001:db8:64::cb00:710a' },
    ]);
  });

  it('takes ct=application/dns-json, do and cd, and reports NXDOMAIN with the SOA', async () => {
    const { get, upstream } = harness();
    const res = await get('/dns-query?name=missing.test&type=A&do=1&cd=1&ct=application/dns-json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.Status).toBe(3);
    expect(body.CD).toBe(true);
    expect(body.Authority).toEqual([
      { name: 'test.', type: 6, TTL: 3600, data: 'ns.test. admin.test. 1 3600 600 86400 300' },
    ]);
    expect(upstream.log.map((l) => [l.dnssecOk, l.flags & 0x10])).toEqual([[true, 0x10]]);
  });

  it('refuses a missing name, a bad type and an over-long label with 400', async () => {
    const { get } = harness();
    const long = 'a'.repeat(64);
    for (const [path, reason] of [
      ['/resolve?type=A', 'missing name parameter'],
      ['/resolve?name=x.test&type=BOGUS', 'type BOGUS is not an RR type'],
      [`/resolve?name=${long}.test`, `name ${long}.test has a label longer than 63 octets`],
    ]) {
      const res = await get(path!);
      expect([res.status, await res.text()]).toEqual([400, `${reason}\n`]);
    }
  });
});

describe('names of any octets (RFC 2181 sec. 11)', () => {
  it('answers a question label that is not UTF-8 or holds a dot, question echoed', async () => {
    const { get, upstream } = harness();
    // one 3-byte label 0xff 0xfe 0xc3 (not UTF-8), and one label "a.b"; type A, class IN
    const bad = Uint8Array.from([
      0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xfe, 0xc3, 0, 0, 1, 0, 1,
    ]);
    const dotted = Uint8Array.from([
      0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 97, 46, 98, 0, 0, 1, 0, 1,
    ]);
    for (const q of [bad, dotted]) {
      const res = await get(`/dns-query?dns=${b64url(q)}`);
      expect(res.status).toBe(200);
      const body = new Uint8Array(await res.arrayBuffer());
      expect([...body.subarray(12, q.length)]).toEqual([...q.subarray(12)]);
    }
    // Both were asked upstream (this fake zone has neither name, so each upstream in turn).
    expect(upstream.log.length).toBeGreaterThanOrEqual(2);
  });

  it('counts JSON API label lengths in UTF-8 octets', async () => {
    const { get } = harness();
    const label = 'ä'.repeat(32); // 32 characters, 64 octets
    const res = await get(`/resolve?name=${encodeURIComponent(label)}.test&type=A`);
    expect([res.status, await res.text()]).toEqual([
      400,
      `name ${label}.test has a label longer than 63 octets\n`,
    ]);
  });
});
