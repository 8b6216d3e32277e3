/** Helpers for tests that build network namespaces (root only). */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Why namespace tests cannot run here, or null when they can. */
export function netnsUnavailable(tools: readonly string[] = ['ip']): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'no /dev/net/tun';
  }
  for (const tool of tools) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(`${d}/${tool}`))) {
      return `missing tool: ${tool}`;
    }
  }
  return null;
}

export const suffix = (): string => randomBytes(3).toString('hex');

export function sh(cmd: string, args: readonly string[], timeout = 10_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command in a namespace; returns {code, stdout, stderr} instead of throwing. */
export function nsRun(
  ns: string,
  args: readonly string[],
  timeout = 10_000,
): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('ip', ['netns', 'exec', ns, ...args], {
      encoding: 'utf8',
      timeout,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function ns(nsName: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', nsName, ...args]);
}

export function addNetns(name: string): void {
  sh('ip', ['netns', 'add', name]);
  ns(name, 'ip', 'link', 'set', 'lo', 'up');
}

export function delNetns(name: string): void {
  try {
    // Kill anything left inside, then delete the namespace.
    const pids = sh('ip', ['netns', 'pids', name]).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    sh('ip', ['netns', 'del', name]);
  } catch {
    // already gone
  }
}

/** A long-running process in a namespace, with its output collected. */
export interface NsProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the output contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnInNs(nsName: string, args: readonly string[]): NsProcess {
  const child = spawn('ip', ['netns', 'exec', nsName, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    waitFor(text, timeoutMs = 10_000) {
      const matches = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${String(text)}; output:\n${out}`)),
          timeoutMs,
        );
        const check = () => {
          if (matches()) {
            clearTimeout(timer);
            resolve();
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited (${child.exitCode}) before ${String(text)}; output:\n${out}`));
          } else waiters.push(check);
        };
        child.on('exit', () => {
          for (const w of waiters.splice(0)) w();
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Namespaces and links of a NAT64 test: client (IPv6 only) - gateway - server (IPv4 only). */
export interface Nat64Topology {
  readonly client: string;
  readonly gateway: string;
  readonly server: string;
  /** The client's veth device (extra addresses may be added to it). */
  readonly clientDev: string;
  /** The server's veth device. */
  readonly serverDev: string;
  destroy(): void;
}

/**
 * Builds the three namespaces: the client has `clientAddrs` (in 2001:db8:1::/64, gateway
 * 2001:db8:1::1), the server 203.0.113.2/24 (gateway 203.0.113.1); the gateway forwards.
 */
export function makeNat64Topology(clientAddrs: readonly string[]): Nat64Topology {
  const id = suffix();
  const client = `n64c-${id}`;
  const gateway = `n64g-${id}`;
  const server = `n64s-${id}`;
  for (const n of [client, gateway, server]) addNetns(n);
  const destroy = () => {
    for (const n of [client, gateway, server]) delNetns(n);
  };
  try {
    for (const [end, peer, nsName] of [
      [`c${id}`, `gc${id}`, client],
      [`s${id}`, `gs${id}`, server],
    ] as const) {
      sh('ip', ['link', 'add', end, 'netns', nsName, 'type', 'veth', 'peer', 'name', peer]);
      sh('ip', ['link', 'set', peer, 'netns', gateway]);
    }
    ns(client, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
    ns(client, 'ip', 'link', 'set', `c${id}`, 'up');
    for (const a of clientAddrs) ns(client, 'ip', 'addr', 'add', a, 'dev', `c${id}`, 'nodad');
    ns(client, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
    ns(server, 'ip', 'link', 'set', `s${id}`, 'up');
    ns(server, 'ip', 'addr', 'add', '203.0.113.2/24', 'dev', `s${id}`);
    ns(server, 'ip', 'route', 'add', 'default', 'via', '203.0.113.1');
    ns(gateway, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
    ns(gateway, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    ns(gateway, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    ns(gateway, 'ip', 'link', 'set', `gc${id}`, 'up');
    ns(gateway, 'ip', 'link', 'set', `gs${id}`, 'up');
    ns(gateway, 'ip', 'addr', 'add', '2001:db8:1::1/64', 'dev', `gc${id}`, 'nodad');
    ns(gateway, 'ip', 'addr', 'add', '203.0.113.1/24', 'dev', `gs${id}`);
  } catch (err) {
    destroy();
    throw err;
  }
  return { client, gateway, server, clientDev: `c${id}`, serverDev: `s${id}`, destroy };
}
