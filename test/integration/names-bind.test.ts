import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NodeServer,
  type Running,
  many40,
  requireCommand,
  startBind,
  startDnsdist,
  startNodeServer,
  startWrangler,
} from './servers';

/**
 * Issue 11's inputs with the exact right answers on both runtimes: the worker (wrangler dev)
 * and the self-hosted server, each asking BIND (behind dnsdist's DoH) for dns64.test. Clients:
 * dnspython and httpx (doh_client.py), dig, kdig and curl.
 */
const run = promisify(execFile);
let bind: Running;
let dnsdist: Running;
let worker: Running;
let node: NodeServer;
const PREFIX = '2001:db8:64::/96';

beforeAll(async () => {
  requireCommand('/usr/bin/python3', 'python3-dnspython python3-httpx');
  requireCommand('kdig', 'knot-dnsutils');
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  const vars = { UPSTREAMS: `http://127.0.0.1:${dnsdist.port}/dns-query`, DNS64_PREFIX: PREFIX };
  [worker, node] = await Promise.all([startWrangler(vars), startNodeServer(vars)]);
});

afterAll(async () => {
  await Promise.all([worker?.stop(), node?.stop()]);
  await dnsdist?.stop();
  await bind?.stop();
});

type Row = [name: string, ttl: number, type: string, data: string];
interface WireAnswer {
  id_matches: boolean;
  rcode: string;
  flags: string[];
  answer: Row[];
  ede: number[];
  length: number;
  question: string;
  asked: string;
}

function ask(target: string, name: string, type: string): WireAnswer {
  const script = join(__dirname, 'doh_client.py');
  const out = execFileSync('/usr/bin/python3', [script, target, name, type]);
  return JSON.parse(out.toString()) as WireAnswer;
}

/** The DoH URL of each runtime, for a path. */
function runtimes(path: string): [string, string][] {
  return [
    ['worker', `https://127.0.0.1:${worker.port}${path}`],
    ['node', `http://127.0.0.1:${node.port}${path}`],
  ];
}

const WKP = '/p/64:ff9b::/96/dns-query';

describe('a dot inside a label is not a label boundary (RFC 1035 sec. 3.1, RFC 2181 sec. 11)', () => {
  it('follows the CNAME to the one-label name and synthesizes its own address', () => {
    for (const [runtime, url] of runtimes(WKP)) {
      const r = ask(url, 'to-dot.field.dns64.test', 'AAAA');
      expect([runtime, r.rcode, r.answer]).toEqual([
        runtime,
        'NOERROR',
        [
          ['to-dot.field.dns64.test.', 900, 'CNAME', 'dot\\.label.field.dns64.test.'],
          // min(A TTL 1000, the AAAA NODATA's negative TTL 300)
          ['dot\\.label.field.dns64.test.', 300, 'AAAA', '64:ff9b::c633:1a01'],
        ],
      ]);
    }
  });

  it('answers a direct query for the one-label and the two-label name, each its own', () => {
    for (const [runtime, url] of runtimes(WKP)) {
      const one = ask(url, 'dot\\.label.field.dns64.test', 'AAAA');
      const two = ask(url, 'dot.label.field.dns64.test', 'AAAA');
      expect([runtime, one.question === one.asked, one.answer]).toEqual([
        runtime,
        true,
        [['dot\\.label.field.dns64.test.', 300, 'AAAA', '64:ff9b::c633:1a01']],
      ]);
      expect([runtime, two.answer]).toEqual([
        runtime,
        [['dot.label.field.dns64.test.', 300, 'AAAA', '64:ff9b::c633:1a02']],
      ]);
    }
  });
});

describe('responses no larger than BIND writes (RFC 1035 sec. 4.1.4)', () => {
  it('40 synthesized AAAA take the size of BIND 40 AAAA plus the EDE option', () => {
    const bindAnswer = ask(`udp:127.0.0.1:${bind.port}`, 'm40b.dns64.test', 'AAAA');
    expect(bindAnswer.answer).toHaveLength(40);
    for (const [runtime, url] of runtimes('/dns-query')) {
      const ours = ask(url, 'many.dns64.test', 'AAAA');
      const addresses = ours.answer.map((r) => r[3]).sort();
      expect([runtime, addresses]).toEqual([
        runtime,
        Array.from({ length: 40 }, (_, i) => many40(i)).sort(),
      ]);
      // Same owner-name length; ours carries EDE 29 (Synthesized): 4 + 2 octets more.
      expect([runtime, ours.length]).toEqual([runtime, bindAnswer.length + 6]);
    }
    // Over UDP with the usual EDNS size 1232 the answer fits: no TC, no retry over TCP.
    const udp = ask(`udp:127.0.0.1:${node.dnsPort}`, 'many.dns64.test', 'AAAA');
    expect([udp.flags.includes('TC'), udp.answer.length, udp.length]).toEqual([
      false,
      40,
      bindAnswer.length + 6,
    ]);
  });
});

describe('tried as a new user would, against npm run serve', () => {
  it('dig, kdig and curl resolve a name with an escaped dot in a label', async () => {
    const port = String(node.dnsPort);
    const dig = await run('dig', [
      '+short',
      '-p',
      port,
      '@127.0.0.1',
      'dot\\.label.field.dns64.test',
      'AAAA',
    ]);
    expect(dig.stdout.trim()).toBe('2001:db8:64::c633:1a01');
    const kdig = await run('kdig', [
      '+short',
      '-p',
      port,
      '@127.0.0.1',
      'dot\\.label.field.dns64.test',
      'AAAA',
    ]);
    expect(kdig.stdout.trim()).toBe('2001:db8:64::c633:1a01');
    const curl = await run('curl', [
      '-sS',
      '--get',
      '--data-urlencode',
      'name=to-dot.field.dns64.test',
      '--data',
      'type=AAAA',
      `http://127.0.0.1:${node.port}/resolve`,
    ]);
    const json = JSON.parse(curl.stdout) as { Answer: { name: string; data: string }[] };
    expect(json.Answer.map((r) => [r.name, r.data])).toEqual([
      ['to-dot.field.dns64.test.', 'dot\\.label.field.dns64.test.'],
      ['dot\\.label.field.dns64.test.', '2001:db8:64::c633:1a01'],
    ]);
  });
});
