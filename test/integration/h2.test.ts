import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NodeServer,
  type Running,
  requireCommand,
  startBind,
  startDnsdist,
  startNodeServer,
} from './servers';
import { b64url, query } from '../helpers/dns';

/**
 * The Node server's own HTTP/2 server (src/node/h2) against HTTP/2 implementations this
 * project did not write: python3-h2 (flow control with a tiny window, a body in 1-byte DATA
 * frames with trailers, HPACK table size updates, a connection error), nghttp (many requests,
 * small windows) and h2load (thousands of DoH GETs and POSTs over multiplexed streams).
 */
const run = promisify(execFile);
const A_ONLY = '2001:db8:64::cb00:710a';
const dir = mkdtempSync(join(tmpdir(), 'h2-'));
let bind: Running;
let dnsdist: Running;
let server: NodeServer;
let base: string;

async function h2py(...args: string[]): Promise<Record<string, unknown>> {
  const script = join(__dirname, 'h2_client.py');
  const { stdout } = await run('/usr/bin/python3', [script, String(server.port), ...args], {
    timeout: 20_000,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  requireCommand('nghttp', 'nghttp2-client');
  requireCommand('h2load', 'nghttp2-client');
  requireCommand('/usr/bin/python3', 'python3-h2');
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  server = await startNodeServer({
    UPSTREAMS: `http://127.0.0.1:${dnsdist.port}/dns-query`,
    DNS64_PREFIX: '2001:db8:64::/96',
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.stop();
  await dnsdist?.stop();
  await bind?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP/2 (h2c) against python3-h2', () => {
  it('sends the setup page within a 100-byte stream window, frame by frame', async () => {
    const page = await fetch(`${base}/`);
    const expected = (await page.arrayBuffer()).byteLength;
    expect(expected).toBeGreaterThan(1000);
    const got = await h2py('small-window', '/');
    expect(got.status).toBe(200);
    expect(got.length).toBe(expected);
    expect(got.max_frame).toBe(100);
    expect(got.frames).toBe(Math.ceil(expected / 100));
  });

  it('answers a POST whose body comes in 1-byte DATA frames followed by trailers', async () => {
    const got = await h2py('post-pieces', b64url(query('a-only.dns64.test', 'AAAA', { id: 0 })));
    expect([got.status, got.type]).toEqual([200, 'application/dns-message']);
    const answer = dnsPacket.decode(Buffer.from(got.body as string, 'hex'));
    expect(answer.answers?.map((a) => [a.name, a.type, 'data' in a ? a.data : null])).toEqual([
      ['a-only.dns64.test', 'AAAA', A_ONLY],
    ]);
  });

  it('follows an HPACK dynamic table size update to 0 between requests', async () => {
    const got = await h2py('table-size', b64url(query('a-only.dns64.test', 'AAAA', { id: 0 })));
    expect(got.statuses).toEqual([200, 200]);
  });

  it('ends the connection with GOAWAY PROTOCOL_ERROR for DATA on stream 0', async () => {
    expect(await h2py('data-on-zero')).toEqual({ goaway: 1 });
  });
});

describe('HTTP/2 (h2c) against nghttp2 clients', () => {
  it('nghttp: 20 requests for the page on one connection with 1 KiB stream windows', async () => {
    const { stdout } = await run(
      'nghttp',
      ['-n', '-s', '-w', '10', '-W', '12', '-m', '20', `${base}/`],
      { timeout: 30_000 },
    );
    const rows = stdout.split('\n').filter((l) => /\s200\s/.test(l) && l.includes('/'));
    expect(rows).toHaveLength(20);
  });

  it('h2load: 2000 DoH GETs and 2000 POSTs over 2 connections x 32 streams, all 200', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `n${i}.wild.dns64.test`);
    const uris = join(dir, 'uris');
    writeFileSync(
      uris,
      names.map((n) => `${base}/dns-query?dns=${b64url(query(n, 'AAAA', { id: 0 }))}`).join('\n') +
        '\n',
    );
    const get = await run(
      'h2load',
      ['-n', '2000', '-c', '2', '-m', '32', '-i', uris, '-H', 'accept: application/dns-message'],
      { timeout: 60_000 },
    );
    expect(get.stdout).toMatch(
      /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed/,
    );
    expect(get.stdout).toMatch(/status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx/);

    const body = join(dir, 'query.bin');
    writeFileSync(body, query('a-only.dns64.test', 'AAAA', { id: 0 }));
    const post = await run(
      'h2load',
      [
        '-n',
        '2000',
        '-c',
        '2',
        '-m',
        '32',
        '-d',
        body,
        '-H',
        'content-type: application/dns-message',
        `${base}/dns-query`,
      ],
      { timeout: 60_000 },
    );
    expect(post.stdout).toMatch(/2000 succeeded, 0 failed/);
    expect(post.stdout).toMatch(/status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx/);
  });
});
