import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NodeServer,
  type Running,
  nodeServerRefuses,
  requireCommand,
  startBind,
  startDnsdist,
  startNodeServer,
} from './servers';

/**
 * The self-hosted server (`npm run serve`) end to end: BIND behind dnsdist as the upstream, and
 * clients this project did not write: dig, kdig, curl and dnspython, over DoH (HTTP/1.1, h2c,
 * HTTP/2 over TLS), classic DNS (UDP, TCP) and DNS over TLS.
 */
const run = promisify(execFile);
const PREFIX = '2001:db8:64::/96';
const A_ONLY = '2001:db8:64::cb00:710a';
const ACME = '2001:db8:ac::cb00:710a';
const LAN = '2001:db8:1a::cb00:710a';
const MANY = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`);

const dir = mkdtempSync(join(tmpdir(), 'node-server-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const tenantsFile = join(dir, 'tenants.json');
let bind: Running;
let dnsdist: Running;
let upstream: string;
let plain: NodeServer;
let tls: NodeServer;

beforeAll(async () => {
  requireCommand('kdig', 'knot-dnsutils');
  requireCommand('openssl', 'openssl');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
  ], { stdio: 'ignore' }); // prettier-ignore
  writeFileSync(
    tenantsFile,
    JSON.stringify({
      acme: { name: 'Acme ISP', prefixes: ['2001:db8:ac::/96'] },
      lan: { prefixes: ['2001:db8:1a::/96'], allowQuery: ['10.0.0.0/8'] },
    }),
  );
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  upstream = `http://127.0.0.1:${dnsdist.port}/dns-query`;
  const common = { UPSTREAMS: upstream, DNS64_PREFIX: PREFIX, TENANTS_FILE: tenantsFile };
  [plain, tls] = await Promise.all([
    startNodeServer(common),
    startNodeServer({
      ...common,
      TLS_CERT: cert,
      TLS_KEY: key,
      TRUST_PROXY: 'true',
      DNS_TENANT: 'acme',
      // The X-Forwarded-For clients below (10.1.2.3, 192.0.2.7) are no local network: let the
      // tenant's allowQuery, not the server's ALLOW_QUERY (default localnets), decide.
      ALLOW_QUERY: 'any',
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), tls?.stop()]);
  await dnsdist?.stop();
  await bind?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Row = [name: string, ttl: number, type: string, data: string];

/** The answer section of `dig`/`kdig` output (+noall +answer, or kdig +short-free sections). */
function answerRows(out: string): Row[] {
  return out
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && f[2] === 'IN')
    .map((f) => [f[0]!, Number(f[1]), f[3]!, f.slice(4).join(' ')]);
}

async function dig(...args: string[]): Promise<string> {
  return (await run('dig', ['+time=5', '+tries=1', ...args])).stdout;
}

async function kdig(...args: string[]): Promise<string> {
  return (await run('kdig', ['+time=5', '+retry=0', ...args])).stdout;
}

async function curl(...args: string[]): Promise<string> {
  return (await run('curl', ['-sS', '--max-time', '10', ...args])).stdout;
}

/** A TTL that a cache may have counted down a little since the first answer. */
function expectAOnly(rows: Row[], address = A_ONLY) {
  expect(rows).toHaveLength(1);
  const [name, ttl, type, data] = rows[0]!;
  expect([name, type, data]).toEqual(['a-only.dns64.test.', 'AAAA', address]);
  expect(ttl).toBeGreaterThan(290);
  expect(ttl).toBeLessThanOrEqual(300);
}

function dnspython(url: string, name: string, type: string) {
  const out = execFileSync('/usr/bin/python3', [join(__dirname, 'doh_client.py'), url, name, type]);
  return JSON.parse(out.toString()) as { rcode: string; answer: Row[]; ede: number[] };
}

describe('DoH on PORT', () => {
  it('answers over HTTP/1.1: dnspython (wire format) and curl (JSON)', async () => {
    const first = dnspython(
      `http://127.0.0.1:${plain.port}/dns-query`,
      'a-only.dns64.test',
      'AAAA',
    );
    expect(first.rcode).toBe('NOERROR');
    expect(first.answer).toEqual([['a-only.dns64.test.', 300, 'AAAA', A_ONLY]]);
    expect(first.ede).toEqual([29]);
    const out = await curl(
      '--http1.1',
      '-w',
      '\n%{http_version}',
      `http://127.0.0.1:${plain.port}/resolve?name=a-only.dns64.test&type=AAAA`,
    );
    const [body, version] = out.split('\n');
    expect(version).toBe('1.1');
    expect(JSON.parse(body!).Answer[0].data).toBe(A_ONLY);
  });

  it('answers h2c with prior knowledge on the same port: dig +http-plain and curl', async () => {
    const out = await dig(
      '+http-plain',
      '-p',
      String(plain.port),
      '@127.0.0.1',
      'a-only.dns64.test',
      'AAAA',
      '+noall',
      '+answer',
    );
    expectAOnly(answerRows(out));
    const viaCurl = await curl(
      '--http2-prior-knowledge',
      '-w',
      '\n%{http_version}',
      `http://127.0.0.1:${plain.port}/resolve?name=www.dns64.test&type=AAAA`,
    );
    const [body, version] = viaCurl.split('\n');
    expect(version).toBe('2');
    expect(JSON.parse(body!).Answer.map((a: { data: string }) => a.data)).toEqual([
      'mid.dns64.test.',
      'a-only.dns64.test.',
      A_ONLY,
    ]);
  });

  it('answers HTTP/2 and HTTP/1.1 over TLS (ALPN): kdig +https, dig +https, curl', async () => {
    const k = await kdig(
      '+https',
      '-p',
      String(tls.port),
      '@127.0.0.1',
      'a-only.dns64.test',
      'AAAA',
    );
    expect(k).toContain('HTTP/2');
    expectAOnly(answerRows(k));
    const d = await dig(
      '+https',
      '-p',
      String(tls.port),
      '@127.0.0.1',
      'a-only.dns64.test',
      'AAAA',
    );
    expectAOnly(answerRows(d));
    for (const [flag, want] of [
      ['--http2', '2'],
      ['--http1.1', '1.1'],
    ]) {
      const out = await curl(
        '-k',
        flag!,
        '-w',
        '\n%{http_version}',
        `https://127.0.0.1:${tls.port}/resolve?name=a-only.dns64.test&type=AAAA`,
      );
      const [body, version] = out.split('\n');
      expect(version).toBe(want);
      expect(JSON.parse(body!).Answer[0].data).toBe(A_ONLY);
    }
  });

  it('answers a TENANTS_FILE tenant at /t/{id}/dns-query with its prefix', () => {
    const r = dnspython(
      `http://127.0.0.1:${plain.port}/t/acme/dns-query`,
      'a-only.dns64.test',
      'AAAA',
    );
    expect(r.answer).toEqual([['a-only.dns64.test.', 300, 'AAAA', ACME]]);
  });

  it('believes X-Forwarded-For only with TRUST_PROXY (tenant allowQuery 10.0.0.0/8)', async () => {
    const ask = async (server: NodeServer, scheme: string, xff: string) => {
      const out = await curl(
        '-k',
        '-H',
        `X-Forwarded-For: ${xff}, 127.0.0.1`,
        `${scheme}://127.0.0.1:${server.port}/t/lan/dns-query?name=a-only.dns64.test&type=AAAA&ct=application/dns-json`,
      );
      return JSON.parse(out) as { Status: number; Answer?: { data: string }[] };
    };
    // Without TRUST_PROXY the socket's address (127.0.0.1) counts: REFUSED.
    expect((await ask(plain, 'http', '10.1.2.3')).Status).toBe(5);
    // With TRUST_PROXY the first X-Forwarded-For address counts.
    const allowed = await ask(tls, 'https', '10.1.2.3');
    expect(allowed.Status).toBe(0);
    expect(allowed.Answer?.[0]?.data).toBe(LAN);
    expect((await ask(tls, 'https', '192.0.2.7')).Status).toBe(5);
  });
});

describe('classic DNS on DNS_PORT and DoT on DOT_PORT', () => {
  it('answers over UDP and TCP, on IPv6 and IPv4 (dual-stack by default)', async () => {
    for (const at of ['@127.0.0.1', '@::1']) {
      for (const transport of ['+notcp', '+tcp']) {
        const out = await dig(
          transport,
          '-p',
          String(plain.dnsPort),
          at,
          'a-only.dns64.test',
          'AAAA',
        );
        expect(out).toContain('status: NOERROR');
        expectAOnly(answerRows(out));
      }
    }
    const k = await kdig('+notcp', '-p', String(plain.dnsPort), '@::1', 'two.dns64.test', 'AAAA');
    expect(
      answerRows(k)
        .map((r) => r[3])
        .sort(),
    ).toEqual(['2001:db8:64::c000:201', '2001:db8:64::c000:202']);
    for (const url of [`http://127.0.0.1:${plain.port}`, `http://[::1]:${plain.port}`]) {
      const out = await curl(`${url}/resolve?name=a-only.dns64.test&type=AAAA`);
      expect(JSON.parse(out).Answer[0].data).toBe(A_ONLY);
    }
  });

  it('answers pipelined TCP queries on one connection (dnspython, one write)', () => {
    const out = execFileSync('/usr/bin/python3', [
      join(__dirname, 'tcp_pipeline.py'),
      '127.0.0.1',
      String(plain.dnsPort),
      'a-only.dns64.test/AAAA',
      'two.dns64.test/A',
      'dual.dns64.test/AAAA',
      'nope.dns64.test/AAAA',
    ]);
    const r = JSON.parse(out.toString()) as {
      sent_ids: number[];
      answers: { id: number; question: string; rcode: string; answer: Row[] }[];
    };
    expect(r.answers.map((a) => a.id).sort()).toEqual([...r.sent_ids].sort());
    const by = Object.fromEntries(r.answers.map((a) => [a.question, a]));
    expect(by['a-only.dns64.test./AAAA']!.answer[0]![3]).toBe(A_ONLY);
    expect(by['two.dns64.test./A']!.answer.map((x) => x[3]).sort()).toEqual([
      '192.0.2.1',
      '192.0.2.2',
    ]);
    expect(by['dual.dns64.test./AAAA']!.answer.map((x) => x[3])).toEqual(['2001:db8:1::5']);
    expect(by['nope.dns64.test./AAAA']!.rcode).toBe('NXDOMAIN');
  });

  it('keeps a TCP connection open for several queries (kdig +keepopen)', async () => {
    const out = await kdig(
      '+tcp',
      '+keepopen',
      '-p',
      String(plain.dnsPort),
      '@127.0.0.1',
      'a-only.dns64.test',
      'AAAA',
      'two.dns64.test',
      'A',
    );
    const rows = answerRows(out);
    expect(rows[0]![3]).toBe(A_ONLY); // BIND rotates the two A records
    expect(
      rows
        .slice(1)
        .map((r) => r[3])
        .sort(),
    ).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  it('truncates UDP answers over 512 octets without EDNS; dig retries over TCP', async () => {
    const port = String(plain.dnsPort);
    const udp = await dig('+ignore', '+noedns', '-p', port, '@127.0.0.1', 'many.dns64.test', 'A');
    expect(udp).toMatch(
      /flags: qr[a-z ]* tc[a-z ]*; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 0/,
    );
    const retried = await dig('+noedns', '-p', port, '@127.0.0.1', 'many.dns64.test', 'A');
    expect(retried).toContain('Truncated, retrying in TCP mode');
    expect(
      answerRows(retried)
        .map((r) => r[3])
        .sort(),
    ).toEqual([...MANY].sort());
    // With EDNS the client's buffer size counts: 1232 holds all 40, 512 does not (TC + OPT).
    const big = await dig(
      '+ignore',
      '+bufsize=1232',
      '-p',
      port,
      '@127.0.0.1',
      'many.dns64.test',
      'A',
    );
    expect(big).not.toMatch(/flags:[a-z ]* tc/);
    expect(answerRows(big)).toHaveLength(40);
    const small = await dig(
      '+ignore',
      '+bufsize=512',
      '-p',
      port,
      '@127.0.0.1',
      'many.dns64.test',
      'A',
    );
    expect(small).toMatch(
      /flags: qr[a-z ]* tc[a-z ]*; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1/,
    );
    expect(small).toContain('; EDNS: version: 0');
  });

  it('answers FORMERR to a query it cannot decode, drops what is not DNS, keeps serving', async () => {
    const sock = createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const send = (b: Uint8Array) =>
      new Promise<void>((r) => sock.send(b, plain.dnsPort, '127.0.0.1', () => r()));
    // ID 0x1234, RD, QD=1, AN=1 but no answer record: header and question readable, rest not.
    const question = Buffer.from('016105646e7336340474657374000001' + '0001', 'hex'); // a.dns64.test A
    await send(Buffer.concat([Buffer.from('123401000001000100000000', 'hex'), question]));
    await send(Buffer.from('garbage')); // not even a header
    await send(Buffer.from('5678010000000000000000ff', 'hex')); // a header, no question
    await new Promise((r) => setTimeout(r, 500));
    sock.close();
    expect(replies.map((b) => b.toString('hex'))).toEqual([
      `123481810001000000000000${question.toString('hex')}`,
    ]);
    const out = await dig('-p', String(plain.dnsPort), '@127.0.0.1', 'a-only.dns64.test', 'AAAA');
    expectAOnly(answerRows(out));
  });

  it('answers DNS over TLS with the DNS_TENANT tenant: kdig +tls, dig +tls', async () => {
    const k = await kdig(
      '+tls',
      '-p',
      String(tls.dotPort),
      '@127.0.0.1',
      'a-only.dns64.test',
      'AAAA',
    );
    expect(k).toContain('TLS');
    expectAOnly(answerRows(k), ACME);
    const d = await dig('+tls', '-p', String(tls.dotPort), '@::1', 'a-only.dns64.test', 'AAAA');
    expectAOnly(answerRows(d), ACME);
    // DNS_TENANT applies to classic DNS too; DoH's /dns-query stays the default tenant.
    const udp = await dig('-p', String(tls.dnsPort), '@127.0.0.1', 'a-only.dns64.test', 'AAAA');
    expectAOnly(answerRows(udp), ACME);
  });
});

describe('DDR, Discovery of Designated Resolvers (RFC 9462)', () => {
  it('answers _dns.resolver.arpa SVCB with the DoH and DoT endpoints when it has TLS (dig, kdig)', async () => {
    const port = String(tls.dnsPort);
    const out = await dig(
      '+noall',
      '+answer',
      '-p',
      port,
      '@127.0.0.1',
      '_dns.resolver.arpa',
      'SVCB',
    );
    // The target is the certificate's first DNS name (no SERVER_NAME is set here); DoH's path
    // is DNS_TENANT's, so the upgraded client keeps acme's answers.
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).join(' ')),
    ).toEqual([
      `_dns.resolver.arpa. 300 IN SVCB 1 localhost. alpn="h2" port=${tls.port} key7="/t/acme/dns-query{?dns}"`,
      `_dns.resolver.arpa. 300 IN SVCB 2 localhost. alpn="dot" port=${tls.dotPort}`,
    ]);
    const k = await kdig('-p', port, '@::1', '_dns.resolver.arpa', 'SVCB');
    expect(k).toContain(`SVCB\t2 localhost. alpn=dot port=${tls.dotPort}`);
  });

  it('answers resolver.arpa itself, never upstream: NODATA without TLS, NXDOMAIN below', async () => {
    const port = String(plain.dnsPort);
    const none = await dig(
      '+noall',
      '+comments',
      '+authority',
      '-p',
      port,
      '@127.0.0.1',
      '_dns.resolver.arpa',
      'SVCB',
    );
    expect(none).toContain('status: NOERROR');
    expect(none).toMatch(/ANSWER: 0,/);
    expect(none).toMatch(
      /resolver\.arpa\.\s+300\s+IN\s+SOA\s+resolver\.arpa\. nobody\.invalid\. 1 3600 600 86400 300/,
    );
    const below = await dig(
      '+noall',
      '+comments',
      '-p',
      port,
      '@127.0.0.1',
      'x.resolver.arpa',
      'A',
    );
    expect(below).toContain('status: NXDOMAIN');
  });
});

describe('settings', () => {
  it('refuses a bad TENANTS_FILE with file: tenant id: field: reason', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        ok: { prefixes: ['64:ff9b::/96'] },
        broken: { prefixes: ['2001:db8::/33'], allowQuery: ['10.0.0.0/33'] },
      }),
    );
    const r = nodeServerRefuses({ TENANTS_FILE: bad, PORT: '1', DNS_PORT: '2' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `${bad}: broken: prefixes.0: 2001:db8::/33: RFC 6052 allows only /32, /40, /48, /56, /64 or /96\n` +
        `${bad}: broken: allowQuery.0: 10.0.0.0/33: prefix length must be 0 to 32\n`,
    );
  });

  it('refuses a bad variable with VARIABLE: reason (more cases in node-units.test.ts)', () => {
    const r = nodeServerRefuses({ PORT: 'http' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('PORT: http is not a port number from 1 to 65535\n');
  });
});

describe('processes', () => {
  it('drains on SIGTERM: queries in flight to a slow upstream get answers, exit 0', async () => {
    // An upstream that takes 1.5 s: BIND via dnsdist, held back.
    const slow: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        setTimeout(async () => {
          const r = await fetch(upstream, {
            method: 'POST',
            headers: { 'content-type': 'application/dns-message' },
            body: Buffer.concat(chunks),
          });
          res.writeHead(r.status, { 'content-type': 'application/dns-message' });
          res.end(Buffer.from(await r.arrayBuffer()));
        }, 1500);
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const slowPort = (slow.address() as { port: number }).port;
    const server = await startNodeServer({
      UPSTREAMS: `http://127.0.0.1:${slowPort}/dns-query`,
      DNS64_PREFIX: PREFIX,
      UPSTREAM_TIMEOUT_MS: '5000',
    });
    try {
      const viaUdp = dig('-p', String(server.dnsPort), '@127.0.0.1', 'a-only.dns64.test', 'AAAA');
      const viaTcp = dig('+tcp', '-p', String(server.dnsPort), '@::1', 'two.dns64.test', 'AAAA');
      const viaHttp = curl(
        '--http1.1',
        `http://127.0.0.1:${server.port}/resolve?name=dual.dns64.test&type=AAAA`,
      );
      await new Promise((r) => setTimeout(r, 500));
      const sent = Date.now();
      server.child.kill('SIGTERM');
      expectAOnly(answerRows(await viaUdp));
      const synthesized = answerRows(await viaTcp).map((r) => r[3]);
      expect(synthesized.sort()).toEqual(['2001:db8:64::c000:201', '2001:db8:64::c000:202']);
      expect(JSON.parse(await viaHttp).Answer[0].data).toBe('2001:db8:1::5');
      expect(await server.exited()).toBe(0);
      expect(Date.now() - sent).toBeLessThan(5000);
      expect(server.log()).toContain('SIGTERM: draining');
    } finally {
      await server.stop();
      slow.close();
    }
  });

  it('runs WORKERS=2 processes sharing the ports; admin changes reach every worker', async () => {
    const server = await startNodeServer({
      UPSTREAMS: upstream,
      DNS64_PREFIX: PREFIX,
      WORKERS: '2',
      ADMIN_TOKEN: 'node-admin-token',
    });
    try {
      expect(server.log()).toContain('(2 workers)');
      // Two worker processes whose parent is the primary (read from /proc, Linux).
      const children = readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((pid) => {
          try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
            return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(server.child.pid);
          } catch {
            return false;
          }
        });
      expect(children).toHaveLength(2);
      const port = String(server.dnsPort);
      for (let i = 0; i < 4; i++) {
        expectAOnly(answerRows(await dig('-p', port, '@127.0.0.1', 'a-only.dns64.test', 'AAAA')));
        expectAOnly(answerRows(await dig('+tcp', '-p', port, '@::1', 'a-only.dns64.test', 'AAAA')));
      }
      const put = await curl(
        '-X',
        'PUT',
        '-H',
        'authorization: Bearer node-admin-token',
        '-H',
        'content-type: application/json',
        '--data',
        JSON.stringify({ prefixes: ['2001:db8:ac::/96'] }),
        `http://127.0.0.1:${server.port}/admin/tenants/acme`,
      );
      expect(JSON.parse(put)).toEqual({ prefixes: ['2001:db8:ac::/96'] });
      // Each curl is a new connection; the primary hands connections to workers round-robin.
      for (let i = 0; i < 4; i++) {
        const out = await curl(
          `http://127.0.0.1:${server.port}/t/acme/dns-query?name=a-only.dns64.test&type=AAAA&ct=application/dns-json`,
        );
        expect(JSON.parse(out).Answer[0].data).toBe(ACME);
      }
      server.child.kill('SIGTERM');
      expect(await server.exited()).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
