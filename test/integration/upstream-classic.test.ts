import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classicExchangers } from '../../src/node/upstream-classic';
import { b64url, decode, edes, query, rcode, rows } from '../helpers/dns';
import {
  type NodeServer,
  type Running,
  freePort,
  nodeServerRefuses,
  requireCommand,
  startBind,
  startDnsdist,
  startDnsdistDot,
  startNodeServer,
} from './servers';

/**
 * Issue 12: upstreams beyond DoH on the self-hosted server. udp:// and tcp:// against BIND,
 * tls:// against dnsdist's DoT listener (a test certificate for dot.dns64.test and 127.0.0.1),
 * http:// DoH against dnsdist, mixed in one list; NSID and CH TXT identity asked with dig and
 * kdig. Every answer read back exactly.
 */
const run = promisify(execFile);
const PREFIX = '2001:db8:64::/96';
const A_ONLY = '2001:db8:64::cb00:710a';
const MANY = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`).sort();

const dir = mkdtempSync(join(tmpdir(), 'upstream-classic-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const tenantsFile = join(dir, 'tenants.json');
let bind: Running;
let dot: Running;
let doh: Running;
let dead: number;
let server: NodeServer;
let bare: NodeServer;

beforeAll(async () => {
  requireCommand('kdig', 'knot-dnsutils');
  requireCommand('openssl', 'openssl');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=dot.dns64.test',
    '-addext', 'subjectAltName=DNS:dot.dns64.test,IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  bind = await startBind();
  [dot, doh] = await Promise.all([startDnsdistDot(bind.port, cert, key), startDnsdist(bind.port)]);
  dead = await freePort(); // nothing listens here, UDP or TCP
  const udp = `udp://127.0.0.1:${bind.port}`;
  const tcp = `tcp://127.0.0.1:${bind.port}`;
  const tls = `tls://dot.dns64.test@127.0.0.1:${dot.port}`;
  const wrong = `tls://wrong.dns64.test@127.0.0.1:${dot.port}`;
  const http = `http://127.0.0.1:${doh.port}/dns-query`;
  const down = [`udp://127.0.0.1:${dead}`, `tcp://127.0.0.1:${dead}`];
  const tenant = (upstreams: string[]) => ({ prefixes: [PREFIX], upstreams });
  writeFileSync(
    tenantsFile,
    JSON.stringify({
      udp: tenant([udp]),
      tcp: tenant([tcp]),
      tls: tenant([tls]),
      'tls-ip': tenant([`tls://127.0.0.1:${dot.port}`]),
      'wrong-name': tenant([wrong, udp]),
      'wrong-only': tenant([wrong]),
      mixed: tenant([...down, http]),
      down: tenant(down),
    }),
  );
  [server, bare] = await Promise.all([
    startNodeServer({
      UPSTREAMS: udp,
      DNS64_PREFIX: PREFIX,
      TENANTS_FILE: tenantsFile,
      UPSTREAM_CA_FILE: cert,
      SERVER_ID: 'gw-1',
    }),
    // No UPSTREAM_CA_FILE (the test certificate is not trusted) and no SERVER_ID.
    startNodeServer({ UPSTREAMS: tls, DNS64_PREFIX: PREFIX }),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([server?.stop(), bare?.stop(), dot?.stop(), doh?.stop()]);
  await bind?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A DoH GET to the server (the tenant's upstreams), decoded. */
async function ask(path: string, name: string, type: string, edns = true) {
  const res = await fetch(
    `http://127.0.0.1:${server.port}${path}?dns=${b64url(query(name, type, { edns }))}`,
  );
  expect(res.status).toBe(200);
  return decode(await res.arrayBuffer());
}

async function dig(s: NodeServer, ...args: string[]): Promise<string> {
  const out = await run('dig', [
    '-p',
    String(s.dnsPort),
    '@127.0.0.1',
    '+time=5',
    '+tries=1',
    ...args,
  ]);
  return out.stdout;
}

describe('udp://, tcp:// and tls:// upstreams', () => {
  for (const t of ['udp', 'tcp', 'tls', 'tls-ip']) {
    it(`${t}: exact answers, synthesized and plain`, async () => {
      const aaaa = await ask(`/t/${t}/dns-query`, 'a-only.dns64.test', 'AAAA');
      expect(rcode(aaaa)).toBe(0);
      expect(rows(aaaa.answers)).toEqual([['a-only.dns64.test', 'AAAA', 300, A_ONLY]]);
      expect(edes(aaaa)).toEqual([{ code: 29, text: '' }]);
      const a = await ask(`/t/${t}/dns-query`, 'two.dns64.test', 'A');
      expect(
        rows(a.answers)
          .map((r) => r[3])
          .sort(),
      ).toEqual(['192.0.2.1', '192.0.2.2']);
      const txt = await ask(`/t/${t}/dns-query`, 'txt.dns64.test', 'TXT');
      expect(rows(txt.answers).map((r) => String(r[3]))).toEqual(['hello world']);
    });
  }

  it('classic DNS through a udp:// upstream, with dig over UDP and TCP', async () => {
    expect((await dig(server, '+short', 'a-only.dns64.test', 'AAAA')).trim()).toBe(A_ONLY);
    expect((await dig(server, '+tcp', '+short', 'www.dns64.test', 'AAAA')).trim()).toBe(
      `mid.dns64.test.\na-only.dns64.test.\n${A_ONLY}`,
    );
  });

  it('TC=1 from the udp:// upstream: asked again over TCP, all 40 records arrive', async () => {
    // No EDNS from the client, so none upstream: BIND truncates 40 A records at 512 octets.
    const out = await dig(server, '+tcp', '+noedns', '+short', 'many.dns64.test', 'A');
    expect(out.trim().split('\n').sort()).toEqual(MANY);
  });

  it('a certificate for another name fails over to the next upstream', async () => {
    const res = await ask('/t/wrong-name/dns-query', 'a-only.dns64.test', 'A');
    expect(rows(res.answers)).toEqual([['a-only.dns64.test', 'A', 1000, '203.0.113.10']]);
  });

  it('a certificate for another name alone: SERVFAIL naming the mismatch', async () => {
    const res = await ask('/t/wrong-only/dns-query', 'a-only.dns64.test', 'A');
    expect(rcode(res)).toBe(2);
    expect(edes(res)).toEqual([
      {
        code: 23,
        text:
          `upstream failed: tls://wrong.dns64.test@127.0.0.1:${dot.port}: TLS: Hostname/IP does ` +
          "not match certificate's altnames: Host: wrong.dns64.test. is not in the cert's " +
          'altnames: DNS:dot.dns64.test, IP Address:127.0.0.1',
      },
    ]);
  });

  it('an untrusted certificate (no UPSTREAM_CA_FILE): SERVFAIL saying so', async () => {
    const out = await dig(bare, 'a-only.dns64.test', 'A');
    expect(out).toContain('status: SERVFAIL');
    expect(out).toContain(
      `; EDE: 23 (Network Error): (upstream failed: tls://dot.dns64.test@127.0.0.1:${dot.port}: TLS: self-signed certificate)`,
    );
  });

  it('a mixed list: dead udp:// and tcp:// upstreams, then DoH answers', async () => {
    const res = await ask('/t/mixed/dns-query', 'a-only.dns64.test', 'AAAA');
    expect(rows(res.answers)).toEqual([['a-only.dns64.test', 'AAAA', 300, A_ONLY]]);
  });

  it('every upstream of both questions keeps its cause', async () => {
    const res = await ask('/t/down/dns-query', 'a-only.dns64.test', 'AAAA');
    expect(rcode(res)).toBe(2);
    const each =
      `udp://127.0.0.1:${dead}: recvmsg ECONNREFUSED; ` +
      `tcp://127.0.0.1:${dead}: connect ECONNREFUSED 127.0.0.1:${dead}`;
    expect(edes(res)).toEqual([{ code: 23, text: `upstream failed: AAAA: ${each}; A: ${each}` }]);
  });

  it('refuses a malformed upstream at start, naming it', () => {
    const r = nodeServerRefuses({ UPSTREAMS: 'udp://127.0.0.1:53/x', PORT: '1' });
    expect([r.code, r.stderr.trim()]).toEqual([
      1,
      'UPSTREAMS: udp://127.0.0.1:53/x must be udp://host[:port] with nothing after it',
    ]);
  });
});

describe('classic exchangers: random IDs, answers matched by ID (RFC 5452 sec. 9.2)', () => {
  it('ignore a datagram with another ID and take the one that matches', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const port = (sock.address() as { port: number }).port;
    const seen: number[] = [];
    sock.on('message', (msg, from) => {
      const q = dnsPacket.decode(msg);
      seen.push(q.id!);
      const reply = (id: number, address: string) =>
        dnsPacket.encode({
          type: 'response',
          id,
          flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
          questions: q.questions,
          answers: [{ type: 'A', name: 'x.test', ttl: 60, class: 'IN', data: address }],
        });
      // A spoofed answer with the wrong ID first, then the real one.
      sock.send(reply((q.id! + 1) & 0xffff, '192.0.2.66'), from.port, from.address);
      sock.send(reply(q.id!, '192.0.2.1'), from.port, from.address);
    });
    const udp = classicExchangers()['udp:']!;
    const wire = query('x.test', 'A', { id: 0 });
    const answers: string[] = [];
    for (let i = 0; i < 8; i++) {
      const got = await udp(`udp://127.0.0.1:${port}`, wire, new AbortController().signal);
      if (!(got instanceof Uint8Array)) throw new Error(got.detail);
      const p = decode(got);
      expect(p.id).toBe(0); // handed back with ID 0, as DoH answers are
      answers.push(...rows(p.answers).map((r) => String(r[3])));
    }
    sock.close();
    expect(answers).toEqual(Array(8).fill('192.0.2.1'));
    // Eight random 16-bit IDs: equal ones would mean no randomness (a 1 in 10^15 fluke).
    expect(new Set(seen).size).toBeGreaterThan(1);
  });
});

/**
 * A TCP DNS server for the exchanger tests: collects `batch` queries, then answers them in
 * reverse order, each with an A record that names its question; `dropSecond` closes the
 * connection on its second query instead of answering it.
 */
async function tcpUpstream(batch: number, dropSecond = false) {
  const state = { connections: 0 };
  const server = createServer((conn) => {
    state.connections++;
    let buf = Buffer.alloc(0);
    let seen = 0;
    const held: dnsPacket.Packet[] = [];
    conn.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (dropSecond && ++seen === 2) {
          conn.destroy();
          return;
        }
        held.push(q);
        if (held.length < batch) continue;
        for (const h of held.reverse()) {
          const n = Number(h.questions![0]!.name.split('.')[0]!.slice(1));
          const msg = dnsPacket.encode({
            type: 'response',
            id: h.id,
            flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
            questions: h.questions,
            answers: [{ type: 'A', name: h.questions![0]!.name, ttl: 60, data: `192.0.2.${n}` }],
          });
          const len = Buffer.alloc(2);
          len.writeUInt16BE(msg.length);
          conn.write(Buffer.concat([len, msg]));
        }
        held.length = 0;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `tcp://127.0.0.1:${port}`, state, close: () => server.close() };
}

describe('classic exchangers over TCP: pipelining (RFC 7766 sec. 6.2.1.1)', () => {
  it('three queries at once share one connection; answers out of order are matched by ID', async () => {
    const up = await tcpUpstream(3);
    const tcp = classicExchangers()['tcp:']!;
    const ask = async (n: number) => {
      const got = await tcp(
        up.url,
        query(`q${n}.test`, 'A', { id: 0 }),
        new AbortController().signal,
      );
      if (!(got instanceof Uint8Array)) throw new Error(got.detail);
      return rows(decode(got).answers).map((r) => `${r[0]} ${String(r[3])}`);
    };
    expect(await Promise.all([ask(1), ask(2), ask(3)])).toEqual([
      ['q1.test 192.0.2.1'],
      ['q2.test 192.0.2.2'],
      ['q3.test 192.0.2.3'],
    ]);
    expect(up.state.connections).toBe(1);
    up.close();
  });

  it('a reused connection that closes under a query: sent again on a new one', async () => {
    const up = await tcpUpstream(1, true);
    const ex = classicExchangers()['tcp:']!;
    const ask = async (n: number) => {
      const got = await ex(
        up.url,
        query(`q${n}.test`, 'A', { id: 0 }),
        new AbortController().signal,
      );
      if (!(got instanceof Uint8Array)) throw new Error(got.detail);
      return rows(decode(got).answers).map((r) => String(r[3]));
    };
    expect(await ask(7)).toEqual(['192.0.2.7']);
    expect(await ask(8)).toEqual(['192.0.2.8']);
    expect(up.state.connections).toBe(2);
    up.close();
  });
});

describe('identity: NSID (RFC 5001) and CH TXT (RFC 4892)', () => {
  it('dig +nsid and kdig +nsid get SERVER_ID', async () => {
    const out = await dig(server, '+nsid', 'a-only.dns64.test', 'AAAA');
    expect(out).toContain('; NSID: 67 77 2d 31 ("gw-1")');
    expect(out).toMatch(
      new RegExp(`\\na-only\\.dns64\\.test\\.\\t\\d+\\tIN\\tAAAA\\t${A_ONLY}\\n`),
    );
    const k = await run('kdig', [
      '-p',
      String(server.dnsPort),
      '@127.0.0.1',
      '+nsid',
      'two.dns64.test',
      'A',
    ]);
    expect(k.stdout).toContain(';; NSID: 67772D31 "gw-1"');
    // Not asked, not given.
    expect(await dig(server, 'a-only.dns64.test', 'AAAA')).not.toContain('NSID');
  });

  it('dig CH TXT id.server and hostname.bind answer SERVER_ID', async () => {
    for (const name of ['id.server', 'hostname.bind']) {
      const out = await dig(server, 'CH', 'TXT', name);
      expect(out).toContain('status: NOERROR');
      expect(out).toContain(`${name}.\t\t0\tCH\tTXT\t"gw-1"`);
    }
  });

  it('without SERVER_ID: REFUSED, and no NSID', async () => {
    const out = await dig(bare, 'CH', 'TXT', 'id.server');
    expect(out).toContain('status: REFUSED');
    expect(out).toContain('; EDE: 0 (Other): (server identity not disclosed (SERVER_ID is unset))');
    expect(await dig(bare, '+nsid', 'CH', 'TXT', 'hostname.bind')).not.toContain('NSID:');
  });
});
