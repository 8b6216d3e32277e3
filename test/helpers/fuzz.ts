import { b64url, query } from './dns';

/** Seeded PRNG (mulberry32): the same seed gives the same fuzz run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzRequest {
  kind: string;
  path: string;
  init: RequestInit;
  /** The DNS ID when the request carries a well-formed enough query to expect it echoed. */
  id: number | null;
}

const NAMES = ['a-only.test', 'dual.test', 'www.chain.test', 'missing.test', 'ipv4only.arpa', 'x'];
const TYPES = ['A', 'AAAA', 'PTR', 'MX', 'TXT', 'SOA', 'ANY', 'CNAME'];

/** Random and mutated DoH requests: the bad ones the Internet sends a public resolver. */
export function fuzzRequest(rand: () => number): FuzzRequest {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const int = (n: number) => Math.floor(rand() * n);
  const valid = () =>
    query(pick(NAMES), pick(TYPES), {
      id: int(65536),
      edns: rand() < 0.5,
      dnssecOk: rand() < 0.2,
      cd: rand() < 0.2,
      padding: rand() < 0.1,
    });
  const random = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const mutate = (bytes: Uint8Array) => {
    const out = Uint8Array.from(bytes);
    const flips = 1 + int(4);
    for (let i = 0; i < flips; i++) {
      const at = int(out.length);
      out[at] = out[at]! ^ (1 << int(8));
    }
    return out;
  };
  const post = (body: Uint8Array | string, type = 'application/dns-message'): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': type },
    body,
  });
  switch (int(12)) {
    case 0: {
      const q = valid();
      return {
        kind: 'valid GET',
        path: `/dns-query?dns=${b64url(q)}`,
        init: {},
        id: (q[0]! << 8) | q[1]!,
      };
    }
    case 1: {
      const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/%.~ ';
      const s = Array.from({ length: int(80) }, () => pick([...chars])).join('');
      return {
        kind: 'bad base64',
        path: `/dns-query?dns=${encodeURIComponent(s)}`,
        init: {},
        id: null,
      };
    }
    case 2: {
      const q = valid();
      return {
        kind: 'truncated',
        path: `/dns-query?dns=${b64url(q.subarray(0, int(q.length)))}`,
        init: {},
        id: null,
      };
    }
    case 3:
      return { kind: 'mutated POST', path: '/dns-query', init: post(mutate(valid())), id: null };
    case 4: {
      // A question name that points at itself, or forward: compression loops.
      const q = valid();
      const loop = Uint8Array.from([...q.subarray(0, 12), 0xc0, 12 + int(3), 0, 1, 0, 1]);
      loop[5] = 1;
      return { kind: 'compression loop', path: '/dns-query', init: post(loop), id: null };
    }
    case 5: {
      const q = valid();
      for (let i = 4; i < 12; i++) q[i] = int(256);
      return { kind: 'absurd counts', path: '/dns-query', init: post(q), id: null };
    }
    case 6:
      return {
        kind: 'oversized',
        path: '/dns-query',
        init: post(random(65536 + int(2000))),
        id: null,
      };
    case 7:
      return {
        kind: 'wrong content type',
        path: '/dns-query',
        init: post(
          valid(),
          pick(['text/plain', 'application/json', '', 'application/dns-messagex']),
        ),
        id: null,
      };
    case 8:
      return { kind: 'random bytes', path: '/dns-query', init: post(random(int(600))), id: null };
    case 9:
      return {
        kind: 'odd method',
        path: pick(['/dns-query', '/resolve', '/t/x/dns-query', '/admin/tenants']),
        init: { method: pick(['PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']), body: null },
        id: null,
      };
    case 10: {
      const name = pick([
        ...NAMES,
        'a'.repeat(64) + '.test',
        '..',
        '.',
        'x'.repeat(300),
        '%00',
        'ä.test',
      ]);
      const type = pick([...TYPES, '0', '65536', 'BOGUS', '-1', '']);
      return {
        kind: 'JSON API',
        path: `${pick(['/resolve', '/dns-query'])}?name=${encodeURIComponent(name)}&type=${encodeURIComponent(type)}&ct=application/dns-json&do=${int(2)}`,
        init: {},
        id: null,
      };
    }
    default: {
      const prefix = pick([
        '2001:db8::/96',
        '2001:db8::/33',
        'zzz/96',
        '64:ff9b::/96',
        '::/0',
        '2001:db8::1/96',
      ]);
      const q = valid();
      return {
        kind: 'prefix URL',
        path: `/p/${prefix}/dns-query?dns=${b64url(q)}`,
        init: {},
        id: null,
      };
    }
  }
}
