import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logMessages, requireCommand, waitFor } from './servers';

/**
 * deploy/gateway/nftables.conf loaded by nft into a gateway namespace with the deploy's interface
 * names (uplink `eth0`, LAN `eth0.64`), the resolver listening on 53 and 8787 with ALLOW_QUERY=any
 * (so the firewall alone decides): the LAN is answered, the uplink's stranger is not.
 */
const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const GW = `i12o-gw-${process.pid}`;
const LAN = `i12o-gl-${process.pid}`;
const WAN = `i12o-gw-wan-${process.pid}`;
const GW_LAN = '2001:db8:1:64::1';
const GW_WAN = '203.0.113.1';
let resolver: ChildProcess | undefined;
let log = '';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function cleanup(): void {
  for (const ns of [GW, LAN, WAN]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there
    }
  }
}

beforeAll(async () => {
  requireCommand('nft', 'nftables');
  requireCommand('dig', 'bind9-dnsutils');
  if (process.getuid?.() !== 0)
    throw new Error('this test creates network namespaces: run as root');
  cleanup();
  for (const ns of [GW, LAN, WAN]) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', GW, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', WAN);
  ip('-n', GW, 'link', 'add', 'eth0.64', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', LAN);
  ip('-n', GW, 'addr', 'add', `${GW_WAN}/24`, 'dev', 'eth0');
  ip('-n', GW, '-6', 'addr', 'add', `${GW_LAN}/64`, 'dev', 'eth0.64', 'nodad');
  ip('-n', WAN, 'addr', 'add', '203.0.113.2/24', 'dev', 'wan0');
  ip('-n', LAN, '-6', 'addr', 'add', '2001:db8:1:64::2/64', 'dev', 'lan0', 'nodad');
  for (const [ns, dev] of [
    [GW, 'eth0'],
    [GW, 'eth0.64'],
    [WAN, 'wan0'],
    [LAN, 'lan0'],
  ] as const) {
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
  resolver = spawn(
    'ip',
    ['netns', 'exec', GW, process.execPath, '--import', 'tsx', 'src/node/serve.ts'],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_NO_WARNINGS: '1',
        DNS_PORT: '53',
        PORT: '8787',
        ALLOW_QUERY: 'any',
        UPSTREAMS: 'http://127.0.0.1:9/dns-query',
      },
    },
  );
  resolver.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  resolver.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor('the resolver', async () => /^ready:/m.test(logMessages(log)));
}, 60000);

afterAll(async () => {
  if (resolver?.pid) {
    const exited = new Promise((r) => resolver!.once('exit', r));
    try {
      process.kill(-resolver.pid, 'SIGTERM');
    } catch {
      // gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  cleanup();
});

/** dig's status line, or 'no answer' when it timed out. */
async function dig(ns: string, server: string, ...opts: string[]): Promise<string> {
  const args = ['netns', 'exec', ns, 'dig', '+time=2', '+tries=1', `@${server}`];
  try {
    const { stdout } = await run('ip', [...args, 'ipv4only.arpa', 'AAAA', ...opts]);
    return /status: (\w+)/.exec(stdout)?.[1] ?? stdout;
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? '';
    if (/timed out|no servers could be reached/.test(out)) return 'no answer';
    throw err;
  }
}

it('opens DNS and DoH to the LAN only; the uplink gets ICMP but no answers', async () => {
  // Without the firewall the uplink's stranger is answered (ALLOW_QUERY=any): an open resolver.
  expect(await dig(WAN, GW_WAN)).toBe('NOERROR');
  expect(
    execFileSync('nft', ['-c', '-f', join(ROOT, 'deploy/gateway/nftables.conf')]).toString(),
  ).toBe('');
  ip('netns', 'exec', GW, 'nft', '-f', join(ROOT, 'deploy/gateway/nftables.conf'));

  expect(await dig(LAN, GW_LAN)).toBe('NOERROR');
  expect(await dig(LAN, GW_LAN, '+tcp')).toBe('NOERROR');
  const doh = await run('ip', [
    'netns', 'exec', LAN, 'curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}',
    `http://[${GW_LAN}]:8787/resolve?name=ipv4only.arpa&type=AAAA`,
  ]); // prettier-ignore
  expect(doh.stdout).toBe('200');

  expect(await dig(WAN, GW_WAN)).toBe('no answer');
  expect(await dig(WAN, GW_WAN, '+tcp')).toBe('no answer');
  // Not a blanket drop: ICMP still answers on the uplink.
  await run('ip', ['netns', 'exec', WAN, 'ping', '-c', '1', '-W', '2', GW_WAN]);
}, 60000);
