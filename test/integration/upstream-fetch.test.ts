import * as dnsPacket from 'dns-packet';
import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { literalName } from '../../src/dns/name';
import { decode } from '../helpers/dns';
import { upstreamFetch } from '../../src/node/upstream-fetch';
import { queryUpstreams } from '../../src/upstream/doh-client';
import { UpstreamHealth } from '../../src/upstream/health';

/** The Node server's upstream fetch (node:http keep-alive) behind the real DoH client. */
let server: Server;
let base: string;
let aborted = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/hang') {
        res.on('close', () => aborted++);
        return;
      }
      if (req.url === '/500') {
        res.writeHead(500).end('broken');
        return;
      }
      const q = dnsPacket.decode(Buffer.concat(chunks));
      const answer = dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
        questions: q.questions,
        answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '192.0.2.1' }],
      });
      res.writeHead(200, { 'content-type': 'application/dns-message' }).end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const Q = {
  name: literalName('x.test'),
  type: 1,
  edns: false,
  dnssecOk: false,
  checkingDisabled: false,
  padding: false,
};

describe('upstreamFetch', () => {
  it('carries a DoH POST and its answer', async () => {
    const r = await queryUpstreams(Q, {
      urls: [`${base}/dns-query`],
      deadlineMs: 2000,
      fetch: upstreamFetch,
      health: new UpstreamHealth(),
    });
    expect(r.ok && decode(r.bytes).answers).toEqual([
      { name: 'x.test', type: 'A', ttl: 60, class: 'IN', flush: false, data: '192.0.2.1' },
    ]);
  });

  it('fails over past an HTTP 500 and aborts a request that hangs at the deadline', async () => {
    const r = await queryUpstreams(Q, {
      urls: [`${base}/500`, `${base}/dns-query`],
      deadlineMs: 2000,
      fetch: upstreamFetch,
      health: new UpstreamHealth(),
    });
    expect(r.ok && r.upstream).toBe(`${base}/dns-query`);
    const hung = await queryUpstreams(Q, {
      urls: [`${base}/hang`],
      deadlineMs: 300,
      fetch: upstreamFetch,
      health: new UpstreamHealth(),
    });
    expect(hung.ok).toBe(false);
    expect(!hung.ok && hung.kind).toBe('timeout');
    await new Promise((r) => setTimeout(r, 100));
    expect(aborted).toBe(1);
  });
});
