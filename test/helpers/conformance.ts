import { b64url, query } from './dns';

/**
 * One table of DoH requests and what RFC 8484, RFC 9110 and the README say each must get, run
 * through every front (the worker, the Node server over HTTP/1.1 and HTTP/2, cleartext and TLS)
 * by test/integration/conformance.test.ts. Every row states all the headers that matter; `null`
 * means the header must be absent.
 */

/** The deployment the table is written for; the test starts every front with these settings. */
export const CONFORMANCE = {
  /** DNS64_PREFIX: the default tenant's prefix. */
  defaultPrefix: '2001:db8:46::/96',
  /** A /p/ URL's prefix, different from the default so that the URL is seen to count. */
  urlPrefix: '2001:db8:64::/96',
  /** Tenants created through the admin API on every front. */
  tenants: {
    acme: { prefixes: ['2001:db8:ac::/96'] },
    keyed: { prefixes: ['2001:db8:ee::/96'], key: 'conformance-key-0123' },
  },
  adminToken: 'conformance-admin-token',
} as const;

export type ExpectedBody =
  /** A DNS message: decoded and compared record by record. */
  | { readonly kind: 'dns'; readonly dns: ExpectedDns }
  /** JSON, compared as a value. */
  | { readonly kind: 'json'; readonly json: unknown }
  /** One line of text, exactly (the reason, and a newline). */
  | { readonly kind: 'text'; readonly text: string }
  /** A page whose bytes name the front's own origin: it must start with `start`. */
  | { readonly kind: 'page'; readonly start: string }
  | { readonly kind: 'empty' };

export interface ExpectedRecord {
  readonly name: string;
  readonly type: string;
  /** The exact TTL, or for answers from the upstream (counted down in caches) the most. */
  readonly ttl: number;
  readonly data: unknown;
}

export interface ExpectedDns {
  readonly id: number;
  readonly rcode: number;
  /** QR, AA, TC, RD, RA, AD, CD as a string of the set ones, e.g. 'QR AA RD RA'. */
  readonly flags: string;
  readonly question: readonly [name: string, type: string];
  readonly answers: readonly ExpectedRecord[];
  readonly authorities: readonly ExpectedRecord[];
  /** TTLs come from the upstream and count down in caches: each may be up to this much lower. */
  readonly ttlSlack: number;
  /** An EDNS query with the padding option: one OPT back, the message a multiple of 468 octets. */
  readonly padded?: boolean;
}

/** `max-age=` the smallest TTL of the DNS answer the response carries (RFC 8484 §5.1). */
export const MAX_AGE_OF_BODY = Symbol('max-age of the body');

export interface Expectation {
  readonly status: number;
  readonly contentType: string | null;
  readonly cacheControl: string | null | typeof MAX_AGE_OF_BODY;
  readonly allow: string | null;
  /** Every access-control-* header, exactly: no more, no fewer. */
  readonly cors: Readonly<Record<string, string>>;
  readonly body: ExpectedBody;
}

export interface ConformanceRow {
  readonly name: string;
  readonly method: string;
  /** Path and query, sent as they are. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  readonly expect: Expectation;
  /**
   * A HEAD row: the name of the GET row it mirrors (its content-length and a cache-control taken
   * from the body are that one's).
   */
  readonly headOf?: string;
  /**
   * A discrepancy known and not fixed yet (why): the row still asserts the right behaviour and
   * is expected to fail until it is fixed; then the mark must go.
   */
  readonly known?: string;
}

const DNS_MESSAGE = 'application/dns-message';
const TEXT = 'text/plain; charset=utf-8';
const ANY_ORIGIN = { 'access-control-allow-origin': '*' };
const PREFLIGHT = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET,POST,OPTIONS',
  'access-control-allow-headers': 'Content-Type,Accept',
  'access-control-max-age': '86400',
};
const DOH_ALLOW = 'GET, HEAD, POST, OPTIONS';
const JSON_ALLOW = 'GET, HEAD, OPTIONS';
const IPV4ONLY = 'ipv4only.arpa';
/** RFC 7050 §2.2: ipv4only.arpa's two addresses, answered with this TTL by the resolver. */
const IPV4ONLY_TTL = 86400;

/** The RFC 6052 /96 address of an IPv4 address: the prefix's first 96 bits and the 32 bits. */
export function embed96(prefix: string, v4: string): string {
  const base = prefix.replace(/::\/96$/, '');
  const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
  const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
  return `${base}::${hex(a, b)}:${hex(c, d)}`;
}

/** The resolver's local answer to `ipv4only.arpa AAAA` under a /96 (RFC 7050, RFC 8880). */
function ipv4onlyAaaa(prefix: string, id: number): ExpectedDns {
  return {
    id,
    rcode: 0,
    flags: 'QR AA RD RA',
    question: [IPV4ONLY, 'AAAA'],
    answers: ['192.0.0.170', '192.0.0.171'].map((v4) => ({
      name: IPV4ONLY,
      type: 'AAAA',
      ttl: IPV4ONLY_TTL,
      data: embed96(prefix, v4),
    })),
    authorities: [],
    ttlSlack: 0,
  };
}

function dnsAnswer(dns: ExpectedDns): Expectation {
  return {
    status: 200,
    contentType: DNS_MESSAGE,
    cacheControl: dns.ttlSlack ? MAX_AGE_OF_BODY : `max-age=${minTtl(dns)}`,
    allow: null,
    cors: ANY_ORIGIN,
    body: { kind: 'dns', dns },
  };
}

function minTtl(dns: ExpectedDns): number {
  return Math.min(...[...dns.answers, ...dns.authorities].map((r) => r.ttl));
}

/** An HTTP error: a status and its one-line reason. */
function error(status: number, reason: string, allow: string | null = null): Expectation {
  return {
    status,
    contentType: TEXT,
    cacheControl: null,
    allow,
    cors: ANY_ORIGIN,
    body: { kind: 'text', text: `${reason}\n` },
  };
}

const PREFLIGHT_ANSWER: Expectation = {
  status: 204,
  contentType: null,
  cacheControl: null,
  allow: null,
  cors: PREFLIGHT,
  body: { kind: 'empty' },
};

/** The JSON API's answer to ipv4only.arpa AAAA (Google's and Cloudflare's format). */
function ipv4onlyJson(prefix: string, contentType: string): Expectation {
  const dns = ipv4onlyAaaa(prefix, 0);
  return {
    status: 200,
    contentType,
    cacheControl: `max-age=${IPV4ONLY_TTL}`,
    allow: null,
    cors: ANY_ORIGIN,
    body: {
      kind: 'json',
      json: {
        Status: 0,
        TC: false,
        RD: true,
        RA: true,
        AD: false,
        CD: false,
        Question: [{ name: `${IPV4ONLY}.`, type: 28 }],
        Answer: dns.answers.map((r) => ({
          name: `${IPV4ONLY}.`,
          type: 28,
          TTL: r.ttl,
          data: r.data,
        })),
      },
    },
  };
}

/** A query's header flipped into a response (QR set): bytes that are not a query. */
function withQr(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  out[2] = out[2]! | 0x80;
  return out;
}

/** The same request with HEAD: the GET's status and headers, no body (RFC 9110 §9.3.2). */
function head(row: ConformanceRow): ConformanceRow {
  if (row.method !== 'GET') throw new Error(`${row.name}: HEAD mirrors a GET`);
  return {
    ...row,
    name: `HEAD ${row.name.replace(/^GET /, '')}`,
    method: 'HEAD',
    expect: { ...row.expect, body: { kind: 'empty' } },
    headOf: row.name,
  };
}

/** GET rows followed by their HEAD twins. */
function withHead(...rows: ConformanceRow[]): ConformanceRow[] {
  return rows.flatMap((r) => [r, head(r)]);
}

export function conformanceRows(): ConformanceRow[] {
  const { defaultPrefix, urlPrefix, tenants } = CONFORMANCE;
  const q = query(IPV4ONLY, 'AAAA', { id: 0 });
  const qId = query(IPV4ONLY, 'AAAA', { id: 0xbeef });
  const dns = b64url(q);
  if (q.length % 3 === 0) throw new Error('the padded rows need a query whose base64 is padded');
  const padded = `${dns}${'='.repeat(3 - (q.length % 3))}`;
  const answer = dnsAnswer(ipv4onlyAaaa(defaultPrefix, 0));
  const p = `/p/${urlPrefix}/dns-query`;
  const acme = '/t/acme/dns-query';
  const keyed = `/t/keyed/${tenants.keyed.key}/dns-query`;
  const json = 'ct=application/dns-json';
  const notAQuery = b64url(withQr(q));
  const noQuestion = b64url(q.slice(0, 12).fill(0, 4, 6));
  const upstreamAnswer = (id: number): ExpectedDns => ({
    id,
    rcode: 0,
    flags: 'QR RD RA',
    question: ['a-only.dns64.test', 'AAAA'],
    // test/integration/servers.ts TEST_ZONE: `a-only 1000 IN A 203.0.113.10`, no AAAA, SOA
    // negative TTL 300: synthesized, TTL min(A TTL, SOA minimum) (RFC 6147 §5.1.7).
    answers: [
      {
        name: 'a-only.dns64.test',
        type: 'AAAA',
        ttl: 300,
        data: embed96(urlPrefix, '203.0.113.10'),
      },
    ],
    authorities: [],
    ttlSlack: 60,
  });
  const nxdomain: ExpectedDns = {
    id: 0,
    rcode: 3,
    // Relayed from an authoritative server (BIND behind dnsdist) with AA cleared and RA set:
    // the client is answered by a recursive service.
    flags: 'QR RD RA',
    question: ['nothing-here.dns64.test', 'AAAA'],
    answers: [],
    authorities: [
      {
        name: 'dns64.test',
        type: 'SOA',
        ttl: 300,
        data: {
          mname: 'ns.dns64.test',
          rname: 'admin.dns64.test',
          serial: 1,
          refresh: 3600,
          retry: 600,
          expire: 86400,
          minimum: 300,
        },
      },
    ],
    ttlSlack: 60,
  };

  const get = (name: string, path: string, expect: Expectation, headers?: Record<string, string>) =>
    ({ name: `GET ${name}`, method: 'GET', path, expect, headers }) satisfies ConformanceRow;
  const post = (
    name: string,
    path: string,
    body: Uint8Array,
    headers: Record<string, string>,
    expect: Expectation,
  ) =>
    ({
      name: `POST ${name}`,
      method: 'POST',
      path,
      body,
      headers,
      expect,
    }) satisfies ConformanceRow;
  const other = (method: string, path: string, expect: Expectation) =>
    ({ name: `${method} ${path}`, method, path, expect }) satisfies ConformanceRow;
  const ct = { 'content-type': DNS_MESSAGE };
  const preflight = (path: string) => other('OPTIONS', path, PREFLIGHT_ANSWER);
  const paddedQuery = query(IPV4ONLY, 'AAAA', { id: 0, padding: true });
  const paddedAnswer = dnsAnswer({ ...ipv4onlyAaaa(defaultPrefix, 0), padded: true });
  const page = (contentType: string, start: string): Expectation => ({
    status: 200,
    contentType,
    cacheControl: 'no-store',
    allow: null,
    cors: ANY_ORIGIN,
    body: { kind: 'page', start },
  });
  const setupPage = page('text/html; charset=utf-8', '<!DOCTYPE html>');

  return [
    // RFC 8484 on /dns-query: GET (each base64url form) and POST (each content-type form).
    ...withHead(
      get('/dns-query?dns= unpadded', `/dns-query?dns=${dns}`, answer),
      get('/dns-query?dns= padded', `/dns-query?dns=${padded}`, answer),
      get('/dns-query?dns= padding percent-encoded', `/dns-query?dns=${dns}%3D%3D`, answer),
      get(
        '/dns-query?dns= ID echoed',
        `/dns-query?dns=${b64url(qId)}`,
        dnsAnswer(ipv4onlyAaaa(defaultPrefix, 0xbeef)),
      ),
      get('/dns-query?dns=&extra=1', `/dns-query?dns=${dns}&extra=1`, answer),
      get('/dns-query/?dns= (trailing slash)', `/dns-query/?dns=${dns}`, answer),
      get('/dns-query?dns= with Origin', `/dns-query?dns=${dns}`, answer, {
        origin: 'https://example.org',
      }),
      get(
        '/dns-query?dns= from the upstream',
        `/p/${urlPrefix}/dns-query?dns=${b64url(query('a-only.dns64.test', 'AAAA', { id: 0 }))}`,
        dnsAnswer(upstreamAnswer(0)),
      ),
      get(
        '/dns-query?dns= NXDOMAIN from the upstream',
        `/dns-query?dns=${b64url(query('nothing-here.dns64.test', 'AAAA', { id: 0 }))}`,
        dnsAnswer(nxdomain),
      ),
      get('/dns-query (no dns)', '/dns-query', error(400, 'missing dns parameter')),
      get('/dns-query?dns= (empty)', '/dns-query?dns=', error(400, 'missing dns parameter')),
      get(
        '/dns-query?dns= not base64url',
        '/dns-query?dns=AA*A',
        error(400, 'dns parameter is not base64url'),
      ),
      get(
        '/dns-query?dns= standard base64',
        `/dns-query?dns=${dns.slice(0, 4)}+/==`,
        error(400, 'dns parameter is not base64url'),
      ),
      get(
        '/dns-query?dns= too short',
        '/dns-query?dns=AAAA',
        error(400, 'not a DNS message: shorter than 12 bytes'),
      ),
      get(
        '/dns-query?dns= a response',
        `/dns-query?dns=${notAQuery}`,
        error(400, 'not a DNS query: QR bit is set'),
      ),
      get(
        '/dns-query?dns= no question',
        `/dns-query?dns=${noQuestion}`,
        error(400, 'DNS query has no question'),
      ),
    ),
    ...withHead(
      get(
        '/dns-query?dns= EDNS with padding',
        `/dns-query?dns=${b64url(paddedQuery)}`,
        paddedAnswer,
      ),
    ),
    post('/dns-query', '/dns-query', q, ct, answer),
    post('/dns-query EDNS with padding', '/dns-query', paddedQuery, ct, paddedAnswer),
    post(
      '/dns-query ID echoed',
      '/dns-query',
      qId,
      ct,
      dnsAnswer(ipv4onlyAaaa(defaultPrefix, 0xbeef)),
    ),
    post(
      '/dns-query content-type odd case',
      '/dns-query',
      q,
      { 'content-type': 'Application/DNS-Message' },
      answer,
    ),
    post(
      '/dns-query content-type with parameters',
      '/dns-query',
      q,
      { 'content-type': 'application/dns-message; charset=binary' },
      answer,
    ),
    post(
      '/dns-query content-type text/plain',
      '/dns-query',
      q,
      { 'content-type': 'text/plain' },
      error(415, `content-type must be ${DNS_MESSAGE}, not text/plain`),
    ),
    post(
      '/dns-query no content-type',
      '/dns-query',
      q,
      {},
      error(415, `content-type must be ${DNS_MESSAGE}, not missing`),
    ),
    post(
      '/dns-query empty body',
      '/dns-query',
      new Uint8Array(0),
      ct,
      error(400, 'not a DNS message: shorter than 12 bytes'),
    ),
    post(
      '/dns-query a response',
      '/dns-query',
      withQr(q),
      ct,
      error(400, 'not a DNS query: QR bit is set'),
    ),
    post(
      '/dns-query no question',
      '/dns-query',
      q.slice(0, 12).fill(0, 4, 6),
      ct,
      error(400, 'DNS query has no question'),
    ),
    post(
      '/dns-query body of 65535 bytes',
      '/dns-query',
      new Uint8Array(65535),
      ct,
      error(400, 'DNS query has no question'),
    ),
    post(
      '/dns-query body of 65536 bytes',
      '/dns-query',
      new Uint8Array(65536),
      ct,
      error(413, 'body exceeds 65535 bytes'),
    ),
    preflight('/dns-query'),
    {
      ...preflight('/dns-query'),
      name: 'OPTIONS /dns-query CORS preflight',
      headers: {
        origin: 'https://example.org',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    },
    ...['PUT', 'DELETE', 'PATCH'].map((m) =>
      other(m, '/dns-query', error(405, `method ${m} not allowed`, DOH_ALLOW)),
    ),

    // The JSON API on /dns-query (Cloudflare's) and /resolve (Google's).
    ...withHead(
      get(
        '/dns-query?name=&type=&ct=json',
        `/dns-query?name=${IPV4ONLY}&type=AAAA&${json}`,
        ipv4onlyJson(defaultPrefix, 'application/dns-json'),
      ),
      get(
        '/dns-query?name=&type= Accept json',
        `/dns-query?name=${IPV4ONLY}&type=AAAA`,
        ipv4onlyJson(defaultPrefix, 'application/dns-json'),
        { accept: 'application/dns-json' },
      ),
      get(
        '/dns-query?type=&ct=json (no name)',
        `/dns-query?type=AAAA&${json}`,
        error(400, 'missing name parameter'),
      ),
      get(
        '/dns-query?name=&type=BOGUS&ct=json',
        `/dns-query?name=${IPV4ONLY}&type=BOGUS&${json}`,
        error(400, 'type BOGUS is not an RR type'),
      ),
      get(
        '/resolve?name=&type=',
        `/resolve?name=${IPV4ONLY}&type=AAAA`,
        ipv4onlyJson(defaultPrefix, 'application/json'),
      ),
      get('/resolve (no name)', '/resolve', error(400, 'missing name parameter')),
    ),
    post(
      '/dns-query?ct=json',
      `/dns-query?${json}`,
      q,
      ct,
      error(405, 'the JSON API takes GET', JSON_ALLOW),
    ),
    post('/resolve', '/resolve', q, ct, error(405, 'the JSON API takes GET', JSON_ALLOW)),
    preflight('/resolve'),
    // RFC 9110 §15.5.6: Allow lists what the resource supports; /resolve takes no POST.
    ...['PUT', 'DELETE', 'PATCH'].map((m) =>
      other(m, '/resolve', error(405, `method ${m} not allowed`, JSON_ALLOW)),
    ),

    // /p/{prefix}/dns-query: the URL's prefix.
    ...withHead(
      get('/p/.../dns-query?dns=', `${p}?dns=${dns}`, dnsAnswer(ipv4onlyAaaa(urlPrefix, 0))),
      get(
        '/p/.../dns-query?name=&type=&ct=json',
        `${p}?name=${IPV4ONLY}&type=AAAA&${json}`,
        ipv4onlyJson(urlPrefix, 'application/dns-json'),
      ),
      get('/p/.../dns-query (no dns)', p, error(400, 'missing dns parameter')),
      get(
        '/p/ with a /33 prefix',
        `/p/2001:db8:64::/33/dns-query?dns=${dns}`,
        error(
          400,
          'invalid prefix: 2001:db8:64::/33: RFC 6052 allows only /32, /40, /48, /56, /64 or /96',
        ),
      ),
      get(
        '/p/ with a non-address',
        `/p/nonsense/96/dns-query?dns=${dns}`,
        error(400, 'invalid prefix: nonsense/96: nonsense is not an IPv6 address'),
      ),
      get(
        '/p/ with bits after the length',
        `/p/2001:db8::1/96/dns-query?dns=${dns}`,
        error(400, 'invalid prefix: 2001:db8::1/96: bits after /96 must be zero'),
      ),
    ),
    post('/p/.../dns-query', p, q, ct, dnsAnswer(ipv4onlyAaaa(urlPrefix, 0))),
    post(
      '/p/.../dns-query text/plain',
      p,
      q,
      { 'content-type': 'text/plain' },
      error(415, `content-type must be ${DNS_MESSAGE}, not text/plain`),
    ),
    preflight(p),
    ...['PUT', 'DELETE', 'PATCH'].map((m) =>
      other(m, p, error(405, `method ${m} not allowed`, DOH_ALLOW)),
    ),

    // Tenants.
    ...withHead(
      get(
        '/t/acme/dns-query?dns=',
        `${acme}?dns=${dns}`,
        dnsAnswer(ipv4onlyAaaa(tenants.acme.prefixes[0], 0)),
      ),
      get(
        '/t/keyed/{key}/dns-query?dns=',
        `${keyed}?dns=${dns}`,
        dnsAnswer(ipv4onlyAaaa(tenants.keyed.prefixes[0], 0)),
      ),
      get(
        '/t/keyed/dns-query?dns= (no key)',
        `/t/keyed/dns-query?dns=${dns}`,
        error(403, 'tenant keyed needs its key: /t/keyed/{key}/dns-query'),
      ),
      get(
        '/t/keyed/{wrong key}/dns-query?dns=',
        `/t/keyed/wrong-key-0123456789/dns-query?dns=${dns}`,
        error(403, 'wrong key for tenant keyed'),
      ),
      get(
        '/t/nobody/dns-query?dns=',
        `/t/nobody/dns-query?dns=${dns}`,
        error(404, 'unknown tenant nobody'),
      ),
    ),
    post('/t/acme/dns-query', acme, q, ct, dnsAnswer(ipv4onlyAaaa(tenants.acme.prefixes[0], 0))),
    preflight(acme),
    other('PUT', acme, error(405, 'method PUT not allowed', DOH_ALLOW)),

    // Elsewhere.
    ...withHead(
      get('/nowhere', '/nowhere', error(404, 'not found: DoH is served at /dns-query')),
      get(
        '/DNS-QUERY?dns=',
        `/DNS-QUERY?dns=${dns}`,
        error(404, 'not found: DoH is served at /dns-query'),
      ),
      // The Apple profile is served for https URLs only (404 for http), so it differs between
      // the cleartext and the TLS fronts by design: test/worker/pages.test.ts and
      // test/integration/setup-page.test.ts check it.
      get('/ (setup page)', '/', setupPage),
      get('/t/acme/ (setup page)', '/t/acme/', setupPage),
      get('/t/keyed/{key}/ (setup page)', `/t/keyed/${tenants.keyed.key}/`, setupPage),
      get('/t/nobody/ (setup page)', '/t/nobody/', error(404, 'unknown tenant nobody')),
    ),
    // The admin API (ADMIN_TOKEN is set on every front).
    ...withHead(
      get(
        '/admin/tenants (no token)',
        '/admin/tenants',
        error(401, 'admin API needs Authorization: Bearer <ADMIN_TOKEN>'),
      ),
      get(
        '/admin/tenants',
        '/admin/tenants',
        {
          status: 200,
          contentType: 'application/json',
          cacheControl: null,
          allow: null,
          cors: ANY_ORIGIN,
          body: { kind: 'json', json: { tenants: Object.keys(tenants).sort() } },
        },
        { authorization: `Bearer ${CONFORMANCE.adminToken}` },
      ),
    ),
    post('/nowhere', '/nowhere', q, ct, error(404, 'not found: DoH is served at /dns-query')),
    other('DELETE', '/nowhere', error(404, 'not found: DoH is served at /dns-query')),
  ];
}
