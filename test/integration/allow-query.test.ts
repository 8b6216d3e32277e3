import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeServer, requireCommand, startNodeServer } from './servers';

/**
 * Safe by default, with clients in network namespaces of their own (root needed):
 * - LAN: a namespace on a veth whose host side carries 198.19.N.1/24 and 2001:db8:5100:N::1/64,
 *   so the client (198.19.N.2, 2001:db8:5100:N::2) is on a network of the host's own interfaces;
 * - FAR: a namespace reached over a 198.18.N.0/30 link, its client address 203.0.113.M/32
 *   routed through it: a network none of the host's interfaces has (a stranger on the Internet).
 * The server runs in the host's namespace, listening on every address, as a gateway's would.
 */
const run = promisify(execFile);
const ID = process.pid % 200;
const LAN_NS = `i12o-lan-${process.pid}`;
const FAR_NS = `i12o-far-${process.pid}`;
const H_LAN = `i12l${process.pid % 100000}`;
const H_FAR = `i12f${process.pid % 100000}`;
const LAN_HOST = `198.19.${ID}.1`;
const LAN_CLIENT = `198.19.${ID}.2`;
const LAN6_HOST = `2001:db8:5100:${ID.toString(16)}::1`;
const LAN6_CLIENT = `2001:db8:5100:${ID.toString(16)}::2`;
const FAR_LINK_HOST = `198.18.${ID}.1`;
const FAR_LINK_NS = `198.18.${ID}.2`;
const FAR_CLIENT = `203.0.113.${(ID % 250) + 3}`;
/** RFC 7050's ipv4only.arpa under the default prefix: answered without any upstream. */
const WKA = ['64:ff9b::c000:aa', '64:ff9b::c000:ab'];
const REASON = 'client not allowed to query this server';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function cleanup(): void {
  for (const args of [
    ['route', 'del', `${FAR_CLIENT}/32`],
    ['link', 'del', H_LAN],
    ['link', 'del', H_FAR],
    ['netns', 'del', LAN_NS],
    ['netns', 'del', FAR_NS],
  ]) {
    try {
      ip(...args);
    } catch {
      // already gone
    }
  }
}

beforeAll(() => {
  requireCommand('ip', 'iproute2');
  requireCommand('dig', 'bind9-dnsutils');
  requireCommand('curl', 'curl');
  if (process.getuid?.() !== 0)
    throw new Error('these tests create network namespaces: run as root');
  cleanup();
  ip('netns', 'add', LAN_NS);
  ip('netns', 'add', FAR_NS);
  ip('link', 'add', H_LAN, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', LAN_NS);
  ip('addr', 'add', `${LAN_HOST}/24`, 'dev', H_LAN);
  ip('-6', 'addr', 'add', `${LAN6_HOST}/64`, 'dev', H_LAN, 'nodad');
  ip('link', 'set', H_LAN, 'up');
  ip('-n', LAN_NS, 'addr', 'add', `${LAN_CLIENT}/24`, 'dev', 'lan0');
  ip('-n', LAN_NS, '-6', 'addr', 'add', `${LAN6_CLIENT}/64`, 'dev', 'lan0', 'nodad');
  ip('-n', LAN_NS, 'link', 'set', 'lan0', 'up');
  ip('-n', LAN_NS, 'link', 'set', 'lo', 'up');
  ip('link', 'add', H_FAR, 'type', 'veth', 'peer', 'name', 'far0', 'netns', FAR_NS);
  ip('addr', 'add', `${FAR_LINK_HOST}/30`, 'dev', H_FAR);
  ip('link', 'set', H_FAR, 'up');
  ip('-n', FAR_NS, 'addr', 'add', `${FAR_LINK_NS}/30`, 'dev', 'far0');
  ip('-n', FAR_NS, 'addr', 'add', `${FAR_CLIENT}/32`, 'dev', 'far0');
  ip('-n', FAR_NS, 'link', 'set', 'far0', 'up');
  ip('-n', FAR_NS, 'link', 'set', 'lo', 'up');
  ip('-n', FAR_NS, 'route', 'add', 'default', 'via', FAR_LINK_HOST, 'src', FAR_CLIENT);
  ip('route', 'add', `${FAR_CLIENT}/32`, 'via', FAR_LINK_NS);
});

afterAll(cleanup);

/** The stranger asks from its routed address, not from the link's (which is the host's network). */
function source(ns: string): string[] {
  return ns === FAR_NS ? ['-b', FAR_CLIENT] : [];
}

/** The server's answer to `dig` in a namespace: status, EDE line, AAAA data. */
async function digIn(ns: string, server: string, port: number, ...opts: string[]) {
  const { stdout } = await run('ip', [
    'netns', 'exec', ns, 'dig', '+time=5', '+tries=1', '-p', String(port), `@${server}`,
    ...source(ns), 'ipv4only.arpa', 'AAAA', ...opts,
  ]); // prettier-ignore
  const status = /status: (\w+)/.exec(stdout)?.[1];
  const ede = /; EDE: (.*)/.exec(stdout)?.[1] ?? null;
  const aaaa = stdout
    .split('\n')
    .filter((l) => !l.startsWith(';') && /\sIN\s+AAAA\s/.test(l))
    .map((l) => l.trim().split(/\s+/)[4])
    .sort();
  return { status, ede, aaaa };
}

/** HTTP status and body of a DoH JSON query with curl in a namespace. */
async function curlIn(ns: string, server: string, port: number) {
  const host = server.includes(':') ? `[${server}]` : server;
  const { stdout } = await run('ip', [
    'netns', 'exec', ns, 'curl', '-sS', '--max-time', '10', '-w', '\n%{http_code}',
    ...(ns === FAR_NS ? ['--interface', FAR_CLIENT] : []),
    `http://${host}:${port}/resolve?name=ipv4only.arpa&type=AAAA`,
  ]); // prettier-ignore
  const lines = stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

const answered = { status: 'NOERROR', ede: null, aaaa: WKA };
const refused = { status: 'REFUSED', ede: `18 (Prohibited): (${REASON})`, aaaa: [] };

describe('ALLOW_QUERY', () => {
  let server: NodeServer | undefined;
  afterAll(async () => server?.stop());
  const start = async (env: Record<string, string>) => {
    await server?.stop();
    server = await startNodeServer({ UPSTREAMS: 'http://127.0.0.1:9/dns-query', ...env });
    return server;
  };

  it('default (localnets): the LAN and loopback are answered, a routed stranger is refused', async () => {
    const s = await start({});
    expect(s.messages()).toMatch(
      new RegExp(`^allow-query: localnets \\(.*198\\.19\\.${ID}\\.0/24`, 'm'),
    );
    expect(await digIn(LAN_NS, LAN_HOST, s.dnsPort)).toEqual(answered);
    expect(await digIn(LAN_NS, LAN_HOST, s.dnsPort, '+tcp')).toEqual(answered);
    expect(await digIn(LAN_NS, LAN6_HOST, s.dnsPort)).toEqual(answered);
    expect((await curlIn(LAN_NS, LAN_HOST, s.port)).status).toBe(200);
    // Loopback, from the host itself.
    const local = await run('dig', ['+time=5', '+tries=1', '-p', String(s.dnsPort), '@127.0.0.1', 'ipv4only.arpa', 'AAAA', '+short']); // prettier-ignore
    expect(local.stdout.trim().split('\n').sort()).toEqual(WKA);
    // The stranger: REFUSED with EDE 18 over UDP and TCP, 403 with the reason over DoH.
    expect(await digIn(FAR_NS, FAR_LINK_HOST, s.dnsPort)).toEqual(refused);
    expect(await digIn(FAR_NS, FAR_LINK_HOST, s.dnsPort, '+tcp')).toEqual(refused);
    expect(await curlIn(FAR_NS, FAR_LINK_HOST, s.port)).toEqual({
      status: 403,
      body: `${REASON}\n`,
    });
  });

  it('any answers the stranger too', async () => {
    const s = await start({ ALLOW_QUERY: 'any' });
    expect(await digIn(FAR_NS, FAR_LINK_HOST, s.dnsPort)).toEqual(answered);
    expect((await curlIn(FAR_NS, FAR_LINK_HOST, s.port)).status).toBe(200);
    expect(await digIn(LAN_NS, LAN_HOST, s.dnsPort)).toEqual(answered);
  });

  it('a CIDR list answers exactly its ranges, the LAN and loopback not included', async () => {
    const s = await start({ ALLOW_QUERY: `${FAR_CLIENT}/32, ${LAN6_CLIENT}/128` });
    expect(await digIn(FAR_NS, FAR_LINK_HOST, s.dnsPort)).toEqual(answered);
    expect(await digIn(LAN_NS, LAN6_HOST, s.dnsPort)).toEqual(answered);
    expect(await digIn(LAN_NS, LAN_HOST, s.dnsPort)).toEqual(refused);
    expect(await curlIn(LAN_NS, LAN_HOST, s.port)).toEqual({ status: 403, body: `${REASON}\n` });
    const local = await run('dig', ['+time=5', '+tries=1', '-p', String(s.dnsPort), '@127.0.0.1', 'ipv4only.arpa', 'AAAA']); // prettier-ignore
    expect(local.stdout).toMatch(/status: REFUSED/);
  });
});

describe('UDP response rate limiting', () => {
  let server: NodeServer | undefined;
  afterAll(async () => server?.stop());

  it('limits a flood from one /24 (drops, and every 2nd limited answer slips with TC=1) while another client gets every answer', async () => {
    server = await startNodeServer({
      UPSTREAMS: 'http://127.0.0.1:9/dns-query',
      ALLOW_QUERY: 'any',
      RRL_RESPONSES_PER_SECOND: '10',
      RRL_WINDOW: '5',
      RRL_SLIP: '2',
    });
    const s = server;
    const flood = run('ip', [
      'netns', 'exec', LAN_NS, '/usr/bin/python3', join(__dirname, 'rrl_flood.py'), LAN_HOST,
      String(s.dnsPort), '400',
    ]); // prettier-ignore
    // Meanwhile the stranger asks 5 times, fewer than its own network's credit of 10.
    const other = [];
    for (let i = 0; i < 5; i++) other.push(await digIn(FAR_NS, FAR_LINK_HOST, s.dnsPort));
    const result = JSON.parse((await flood).stdout) as {
      sent: number;
      full: number;
      truncated: number;
      truncated_with_records: number;
      other: number;
    };
    expect(other).toEqual(Array(5).fill(answered));
    // Invariants only (no timing): not every query was answered in full; some were slipped,
    // each a TC=1 answer without records; nothing else came back.
    expect(result.sent).toBe(400);
    expect(result.full).toBeGreaterThanOrEqual(1);
    expect(result.full).toBeLessThan(400);
    expect(result.truncated).toBeGreaterThanOrEqual(1);
    expect(result.truncated_with_records).toBe(0);
    expect(result.other).toBe(0);
    expect(result.full + result.truncated).toBeLessThan(400);
    // The same client over TCP (what a slipped client does next) is not limited.
    expect(await digIn(LAN_NS, LAN_HOST, s.dnsPort, '+tcp')).toEqual(answered);
  });
});
