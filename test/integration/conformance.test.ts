import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONFORMANCE,
  type ConformanceRow,
  MAX_AGE_OF_BODY,
  conformanceRows,
} from '../helpers/conformance';
import { decode } from '../helpers/dns';
import {
  type Running,
  requireCommand,
  startBind,
  startDnsdist,
  startNodeServer,
  startWrangler,
} from './servers';

/**
 * Issue 11, the same HTTP behaviour everywhere: one table of requests (test/helpers/conformance.ts)
 * through the worker (wrangler dev, workerd) and the self-hosted Node server over HTTP/1.1 and
 * HTTP/2, cleartext (h2c with prior knowledge) and TLS (ALPN). Each row's status, content-type,
 * cache-control, allow, access-control-* headers and body are checked on every front, and every
 * front must answer exactly as the worker does. Clients: node:http, node:https and node:http2.
 */

interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

interface Front {
  readonly name: string;
  send(row: ConformanceRow): Promise<Reply>;
  close(): void;
}

function flatten(headers: IncomingHttpHeaders | Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** HTTP/1.1 through node:http or node:https, one connection per request. */
function h1Front(name: string, port: number, tls: boolean): Front {
  return {
    name,
    close: () => {},
    send: (row) =>
      new Promise<Reply>((resolve, reject) => {
        const headers: Record<string, string> = { ...row.headers };
        if (row.body) headers['content-length'] = String(row.body.length);
        const req = (tls ? httpsRequest : httpRequest)(
          {
            host: '127.0.0.1',
            port,
            method: row.method,
            path: row.path,
            headers,
            agent: false,
            rejectUnauthorized: false,
            timeout: 20_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: flatten(res.headers),
                body: Buffer.concat(chunks),
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.end(row.body ? Buffer.from(row.body) : undefined);
      }),
  };
}

/** HTTP/2 through node:http2: h2c with prior knowledge, or TLS with ALPN h2. */
function h2Front(name: string, port: number, tls: boolean): Front {
  let session: ClientHttp2Session | null = null;
  const open = () => {
    if (!session || session.closed || session.destroyed) {
      session = h2Connect(`${tls ? 'https' : 'http'}://127.0.0.1:${port}`, {
        rejectUnauthorized: false,
      });
      session.on('error', () => {});
    }
    return session;
  };
  return {
    name,
    close: () => session?.close(),
    send: (row) =>
      new Promise<Reply>((resolve, reject) => {
        const stream = open().request(
          { ':method': row.method, ':path': row.path, ...row.headers },
          { endStream: !row.body },
        );
        stream.setTimeout(20_000, () => stream.close());
        let status = 0;
        let headers: Record<string, string> = {};
        const chunks: Buffer[] = [];
        stream.on('response', (h) => {
          status = Number(h[':status']);
          headers = flatten(h);
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
        stream.on('close', () => {
          if (!status) reject(new Error(`stream closed, code ${stream.rstCode}`));
        });
        if (row.body) stream.end(Buffer.from(row.body));
      }),
  };
}

const rows = conformanceRows();
const dir = mkdtempSync(join(tmpdir(), 'conformance-'));
const servers: Running[] = [];
let fronts: Front[] = [];
/** What each front sent for a GET, by front and row name, for the row's HEAD twin. */
const getReplies = new Map<string, { length: number; maxAge: string | null }>();
/** Append every problem found to this file (CONFORMANCE_REPORT), one `row<TAB>problem` a line. */
const reportFile = process.env.CONFORMANCE_REPORT;

beforeAll(async () => {
  requireCommand('openssl', 'openssl');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  const bind = await startBind();
  servers.push(bind);
  const dnsdist = await startDnsdist(bind.port);
  servers.push(dnsdist);
  const vars = {
    UPSTREAMS: `http://127.0.0.1:${dnsdist.port}/dns-query`,
    DNS64_PREFIX: CONFORMANCE.defaultPrefix,
    ADMIN_TOKEN: CONFORMANCE.adminToken,
  };
  // Every server that started is stopped in afterAll, even when another one did not start.
  const starting = await Promise.allSettled([
    startWrangler(vars),
    startNodeServer(vars),
    startNodeServer({ ...vars, TLS_CERT: cert, TLS_KEY: key }),
  ]);
  for (const s of starting) if (s.status === 'fulfilled') servers.push(s.value);
  const failed = starting.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [worker, plain, tls] = starting.map(
    (s) => (s as PromiseFulfilledResult<Running>).value,
  ) as [Running, Running, Running];
  const origins = [
    `https://127.0.0.1:${worker.port}`,
    `http://127.0.0.1:${plain.port}`,
    `https://127.0.0.1:${tls.port}`,
  ];
  // The same tenants on every front, through the admin API (KV on the worker, memory on Node).
  for (const origin of origins) {
    for (const [id, record] of Object.entries(CONFORMANCE.tenants)) {
      const res = await fetch(`${origin}/admin/tenants/${id}`, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${CONFORMANCE.adminToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(record),
      });
      if (res.status !== 201) throw new Error(`PUT tenant ${id} on ${origin}: ${res.status}`);
    }
  }
  fronts = [
    h1Front('worker HTTP/1.1 (wrangler dev)', worker.port, true),
    h1Front('node HTTP/1.1', plain.port, false),
    h2Front('node h2c', plain.port, false),
    h1Front('node HTTP/1.1 TLS', tls.port, true),
    h2Front('node HTTP/2 TLS', tls.port, true),
  ];
}, 180_000);

afterAll(async () => {
  for (const f of fronts) f.close();
  for (const s of servers.reverse()) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Section = dnsPacket.Answer[] | undefined;

/** What one reply breaks of its row's expectation, one line each (empty: it conforms). */
function problems(
  row: ConformanceRow,
  reply: Reply,
  get: { length: number; maxAge: string | null } | undefined,
): { problems: string[]; maxAge: string | null } {
  const out: string[] = [];
  const want = row.expect;
  const h = reply.headers;
  const same = (what: string, got: unknown, expected: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      out.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
    }
  };
  same('status', reply.status, want.status);
  same('content-type', h['content-type'] ?? null, want.contentType);
  same('allow', h['allow'] ?? null, want.allow);
  const cors = Object.fromEntries(
    Object.entries(h)
      .filter(([n]) => n.startsWith('access-control-'))
      .sort(),
  );
  same('access-control-*', cors, Object.fromEntries(Object.entries(want.cors).sort()));

  const length = h['content-length'];
  if (row.method === 'HEAD') {
    // RFC 9110 §9.3.2, §8.6: HEAD may leave content-length out; if sent, it is the GET's.
    if (length !== undefined && get !== undefined && Number(length) !== get.length) {
      out.push(`content-length: got ${length}, the GET's body has ${get.length} bytes`);
    }
  } else if (length !== undefined && Number(length) !== reply.body.length) {
    out.push(`content-length: got ${length}, the body has ${reply.body.length} bytes`);
  }

  const body = want.body;
  let maxAge: string | null = null;
  switch (body.kind) {
    case 'empty':
      same('body length', reply.body.length, 0);
      break;
    case 'text':
      same('body', reply.body.toString('utf8'), body.text);
      break;
    case 'page':
      if (!reply.body.toString('utf8').startsWith(body.start)) {
        out.push(`body: does not start with ${body.start}`);
      }
      break;
    case 'json': {
      let value: unknown;
      try {
        value = JSON.parse(reply.body.toString('utf8'));
      } catch {
        value = `not JSON: ${reply.body.toString('utf8').slice(0, 80)}`;
      }
      same('body', value, body.json);
      break;
    }
    case 'dns': {
      let p: dnsPacket.Packet;
      try {
        p = decode(reply.body);
      } catch (err) {
        out.push(`body: not a DNS message (${(err as Error).message}): ${reply.body.toString()}`);
        break;
      }
      const d = body.dns;
      same('DNS id', p.id, d.id);
      same('DNS rcode', (p.flags ?? 0) & 0xf, d.rcode);
      same('DNS flags', flagText(p), d.flags);
      same(
        'DNS question',
        (p.questions ?? []).map((q) => [q.name, q.type]),
        [d.question],
      );
      const records = (section: Section) =>
        (section ?? []).map((r) => ({
          name: r.name,
          type: r.type,
          ttl: 'ttl' in r ? (r.ttl ?? 0) : 0,
          data: 'data' in r ? r.data : null,
        }));
      for (const [what, got, expected] of [
        ['answer', records(p.answers), d.answers],
        ['authority', records(p.authorities), d.authorities],
      ] as const) {
        // TTLs from the upstream count down in caches: at most the zone's, at least slack less.
        const fitted = got.map((r, i) => {
          const e = expected[i];
          const fits = e && r.ttl <= e.ttl && r.ttl >= e.ttl - d.ttlSlack;
          return fits ? { ...r, ttl: e.ttl } : r;
        });
        same(`DNS ${what}`, fitted, expected);
      }
      if (d.padded) {
        // RFC 8467 §4.1: a padded query gets a response padded to a multiple of 468 octets.
        same(
          'DNS additional',
          (p.additionals ?? []).map((r) => r.type),
          ['OPT'],
        );
        const opt = p.additionals?.[0] as dnsPacket.OptAnswer | undefined;
        same(
          'EDNS options',
          (opt?.options ?? []).map((o) => o.code),
          [12],
        );
        same('length % 468', reply.body.length % 468, 0);
      } else {
        same('DNS additional', records(p.additionals), []);
      }
      const ttls = records([...(p.answers ?? []), ...(p.authorities ?? [])]).map((r) => r.ttl);
      maxAge = `max-age=${Math.min(...ttls)}`;
      break;
    }
  }
  if (want.cacheControl !== MAX_AGE_OF_BODY) {
    same('cache-control', h['cache-control'] ?? null, want.cacheControl);
  } else if (row.headOf) {
    // No body to read it from: the GET's, within the seconds between the two.
    const got = Number(/^max-age=(\d+)$/.exec(h['cache-control'] ?? '')?.[1] ?? NaN);
    const before = Number(get?.maxAge?.slice('max-age='.length) ?? NaN);
    if (!(got <= before && got >= before - 5)) {
      out.push(`cache-control: got ${h['cache-control']}, the GET's was ${get?.maxAge}`);
    }
  } else {
    same('cache-control', h['cache-control'] ?? null, maxAge);
  }
  return { problems: out, maxAge };
}

/** The header flags set, by name (dns-packet keeps QR apart, as the packet's type). */
function flagText(p: dnsPacket.Packet): string {
  const flags = (p.flags ?? 0) | (p.type === 'response' ? 0x8000 : 0);
  const names: [number, string][] = [
    [0x8000, 'QR'],
    [0x0400, 'AA'],
    [0x0200, 'TC'],
    [0x0100, 'RD'],
    [0x0080, 'RA'],
    [0x0020, 'AD'],
    [0x0010, 'CD'],
  ];
  return names
    .filter(([bit]) => flags & bit)
    .map(([, n]) => n)
    .join(' ');
}

/**
 * What must be the same on every front: the headers that matter and the body's bytes (for
 * answers from the upstream, whose TTLs count down, the decoded message without TTLs).
 */
function view(row: ConformanceRow, reply: Reply): Record<string, unknown> {
  const h = reply.headers;
  const pick = Object.fromEntries(
    Object.entries(h)
      .sort()
      .filter(
        ([n]) =>
          n === 'content-type' ||
          n === 'allow' ||
          n.startsWith('access-control-') ||
          (n === 'cache-control' && !(row.expect.cacheControl === MAX_AGE_OF_BODY)),
      ),
  );
  let body: unknown = reply.body.toString('hex');
  const want = row.expect.body;
  if (want.kind === 'page') body = `a page of ${want.start}`;
  if (want.kind === 'dns' && want.dns.ttlSlack) {
    try {
      body = JSON.stringify(decode(reply.body), (k, v: unknown) => (k === 'ttl' ? 0 : v));
    } catch {
      // not a DNS message: compared as bytes
    }
  }
  return { status: reply.status, headers: pick, body };
}

describe('one table of requests, the same answers on every front', () => {
  it('names each row once', () => {
    const names = rows.map((r) => r.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(rows.length).toBeGreaterThan(90);
  });

  for (const row of rows) {
    // A known discrepancy is expected to fail: once it passes, its mark in the table must go.
    (row.known ? it.fails : it)(row.name, async () => {
      const found: string[] = [];
      const views: [string, Record<string, unknown>][] = [];
      for (const front of fronts) {
        let reply: Reply;
        try {
          reply = await front.send(row);
        } catch (err) {
          found.push(`${front.name}: request failed: ${(err as Error).message}`);
          continue;
        }
        const get = row.headOf ? getReplies.get(`${front.name}\t${row.headOf}`) : undefined;
        const checked = problems(row, reply, get);
        if (row.method === 'GET') {
          const key = `${front.name}\t${row.name}`;
          getReplies.set(key, { length: reply.body.length, maxAge: checked.maxAge });
        }
        for (const p of checked.problems) found.push(`${front.name}: ${p}`);
        views.push([front.name, view(row, reply)]);
      }
      const [first, ...rest] = views;
      for (const [name, v] of rest) {
        for (const key of ['status', 'headers', 'body']) {
          const [a, b] = [JSON.stringify(first?.[1][key]), JSON.stringify(v[key])];
          if (first && a !== b) {
            found.push(
              `${name}: ${key} differs from ${first[0]}'s: ${b?.slice(0, 200)} / ${a?.slice(0, 200)}`,
            );
          }
        }
      }
      if (reportFile) {
        appendFileSync(reportFile, found.map((f) => `${row.name}\t${f}\n`).join(''));
      }
      expect(found).toEqual([]);
    });
  }
});
