import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Real servers from Debian for integration tests: BIND (authoritative), dnsdist (DoH). */

export function requireCommand(cmd: string, debPackage: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${cmd} not found: install the Debian package ${debPackage} (see .ci/run)`);
  }
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when `port` can be bound for UDP on every address (IPv6 and IPv4). */
function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket({ type: 'udp6', ipv6Only: false });
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '::', () => sock.close(() => resolve(true)));
  });
}

/**
 * A port free for TCP and UDP alike (servers here listen on both; a busy machine can hold many
 * UDP ports in the ephemeral range that the kernel still offers for TCP).
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freeTcpPort();
    if (await udpFree(port)) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/** Resolves when `predicate` returns true, polling until `ms` passes. */
export async function waitFor(what: string, predicate: () => Promise<boolean>, ms = 30000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface Running {
  readonly port: number;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, dir?: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      // Negative pid: the whole process group (wrangler starts workerd as a child).
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

export const TEST_ZONE = `$TTL 3600
@ IN SOA ns.dns64.test. admin.dns64.test. 1 3600 600 86400 300
@ IN NS ns.dns64.test.
ns IN A 192.0.2.53
a-only 1000 IN A 203.0.113.10
two 1000 IN A 192.0.2.1
two 1000 IN A 192.0.2.2
dual IN A 192.0.2.5
dual IN AAAA 2001:db8:1::5
www 900 IN CNAME mid
mid 800 IN CNAME a-only
mapped IN AAAA ::ffff:192.0.2.6
mapped IN A 192.0.2.6
txt IN TXT "hello world"
${Array.from({ length: 40 }, (_, i) => `many 300 IN A 198.51.100.${i + 1}`).join('\n')}
${Array.from({ length: 40 }, (_, i) => `m40b 300 IN AAAA ${many40(i)}`).join('\n')}
dot\\.label.field 1000 IN A 198.51.26.1
dot.label.field 1000 IN A 198.51.26.2
to-dot.field 900 IN CNAME dot\\.label.field
`;

/** The AAAA that 198.51.100.(i + 1) of \`many\` becomes under 2001:db8:64::/96. */
export function many40(i: number): string {
  return `2001:db8:64::c633:64${(i + 1).toString(16).padStart(2, '0')}`;
}

export const REVERSE_ZONE = `$TTL 3600
@ IN SOA ns.dns64.test. admin.dns64.test. 1 3600 600 86400 300
@ IN NS ns.dns64.test.
10 700 IN PTR a-only.dns64.test.
`;

/** BIND 9 as the authoritative server of dns64.test and 113.0.203.in-addr.arpa on loopback. */
/**
 * named.conf for an authoritative-only BIND on 127.0.0.1:`port` serving `zones` ([name, file in
 * `dir`]): no recursion, no validation, no NOTIFY (nothing leaves loopback), any octet in labels.
 */
export function namedConf(dir: string, port: number, zones: readonly [string, string][]): string {
  return `options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  // Labels may hold any octet (RFC 2181 sec. 11); the zone has one with a dot in it.
  check-names primary ignore;
  pid-file "${dir}/named.pid";
};
${zones.map(([name, file]) => `zone "${name}" { type primary; file "${dir}/${file}"; };`).join('\n')}
`;
}

export async function startBind(): Promise<Running> {
  requireCommand('named', 'bind9');
  const dir = mkdtempSync(join(tmpdir(), 'bind-'));
  const port = await freePort();
  writeFileSync(join(dir, 'dns64.test.zone'), TEST_ZONE);
  writeFileSync(join(dir, 'reverse.zone'), REVERSE_ZONE);
  writeFileSync(
    join(dir, 'named.conf'),
    namedConf(dir, port, [
      ['dns64.test', 'dns64.test.zone'],
      ['113.0.203.in-addr.arpa', 'reverse.zone'],
    ]),
  );
  const child = spawn('named', ['-g', '-u', 'root', '-c', join(dir, 'named.conf')], {
    stdio: 'ignore',
    detached: true,
  });
  await waitFor('BIND', async () => {
    const out = execFileSync('dig', [
      '+short',
      '+time=1',
      '+tries=1',
      '-p',
      String(port),
      '@127.0.0.1',
      'ns.dns64.test',
      'A',
    ]);
    return out.toString().trim() === '192.0.2.53';
  });
  return { port, stop: stopper(child, dir) };
}

/**
 * dnsdist in front of a DNS server on loopback with one client listener: `listen(port)` is the
 * dnsdist.conf line that adds it. Resolves once `ready(port)` is true.
 */
async function startDnsdistWith(
  backendPort: number,
  what: string,
  listen: (port: number) => string,
  ready: (port: number) => Promise<boolean>,
): Promise<Running> {
  requireCommand('dnsdist', 'dnsdist');
  const dir = mkdtempSync(join(tmpdir(), 'dnsdist-'));
  const port = await freePort();
  const dnsPort = await freePort();
  writeFileSync(
    join(dir, 'dnsdist.conf'),
    `setLocal("127.0.0.1:${dnsPort}")
newServer({address="127.0.0.1:${backendPort}"})
${listen(port)}
setSecurityPollSuffix("")
`,
  );
  const child = spawn('dnsdist', ['--supervised', '-C', join(dir, 'dnsdist.conf')], {
    stdio: 'ignore',
    detached: true,
  });
  await waitFor(what, () => ready(port));
  return { port, stop: stopper(child, dir) };
}

/** dnsdist serving plain-HTTP DoH at /dns-query in front of a DNS server on loopback. */
export function startDnsdist(backendPort: number): Promise<Running> {
  return startDnsdistWith(
    backendPort,
    'dnsdist DoH',
    (port) => `addDOHLocal("127.0.0.1:${port}", nil, nil, "/dns-query")`,
    async (port) => {
      const res = await fetch(
        `http://127.0.0.1:${port}/dns-query?dns=AAABAAABAAAAAAAAAm5zBWRuczY0BHRlc3QAAAEAAQ`,
      );
      return res.status === 200;
    },
  );
}

/** `wrangler dev` (workerd) with the project's worker, over HTTPS with a local certificate. */
export async function startWrangler(vars: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const args = ['wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1'];
  args.push('--local-protocol', 'https', '--inspector-port', String(await freePort()));
  // A fresh local KV (and cache) per run: nothing leaks between runs.
  const state = mkdtempSync(join(tmpdir(), 'wrangler-state-'));
  args.push('--persist-to', state);
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn('npx', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NODE_TLS_REJECT_UNAUTHORIZED: '0' },
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitFor('wrangler dev', async () => log.includes('Ready on'), 60000);
  } catch (err) {
    await stopper(child, state)();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { port, stop: stopper(child, state) };
}

export interface NodeServer extends Running {
  /** PORT (DoH), DNS_PORT (UDP and TCP), DOT_PORT (only with TLS). */
  readonly dnsPort: number;
  readonly dotPort: number;
  /** `host:port` of /metrics, /healthz and /readyz ('off' when disabled). */
  readonly metricsAddr: string;
  readonly child: ChildProcess;
  /** Everything the server printed so far. */
  log(): string;
  /** The same with each JSON log line as its message alone (`ready: ...`), one per line. */
  messages(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited(): Promise<number | string>;
}

/**
 * The self-hosted server (`npm run serve`, i.e. node --import tsx src/node/serve.ts) with `env`
 * on top of this process's environment; PORT, DNS_PORT and DOT_PORT are free ports unless given.
 * Resolves once it logs `ready:`; rejects with its output if it exits or never gets ready.
 * METRICS_ADDR is a free loopback port unless given (the default 9153 would clash between
 * servers running at once).
 */
export async function startNodeServer(env: Record<string, string>): Promise<NodeServer> {
  const ports = {
    PORT: env.PORT ?? String(await freePort()),
    DNS_PORT: env.DNS_PORT ?? String(await freePort()),
    DOT_PORT: env.DOT_PORT ?? String(await freePort()),
    METRICS_ADDR: env.METRICS_ADDR ?? `127.0.0.1:${await freePort()}`,
  };
  if (!env.TLS_CERT && !env.DOT_PORT) delete (ports as Partial<typeof ports>).DOT_PORT;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node/serve.ts'], {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env, ...ports },
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor(
      'the Node server',
      async () => {
        if (gone) throw new Error('exited');
        // The server logs JSON lines; `ready:` opens the message of the ready line.
        return /^ready:|"msg":"ready:/m.test(log);
      },
      30000,
    );
  } catch {
    await stopper(child)();
    throw new Error(`node server did not start:\n${log}`);
  }
  return {
    port: Number(ports.PORT),
    dnsPort: Number(ports.DNS_PORT),
    dotPort: Number(ports.DOT_PORT ?? 0),
    metricsAddr: ports.METRICS_ADDR,
    child,
    log: () => log,
    messages: () => logMessages(log),
    exited: () => exited,
    stop: stopper(child),
  };
}

/** Runs the server with settings it should refuse; returns its exit code and stderr. */
export function nodeServerRefuses(env: Record<string, string>): {
  code: number | null;
  stderr: string;
} {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/serve.ts'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
    encoding: 'utf8',
    timeout: 20000,
  });
  return { code: r.status, stderr: r.stderr };
}

/**
 * dnsdist with a DoT listener (RFC 7858, `addTLSLocal`) in front of a DNS server on loopback,
 * with the given PEM certificate and key files.
 */
export function startDnsdistDot(
  backendPort: number,
  certFile: string,
  keyFile: string,
): Promise<Running> {
  return startDnsdistWith(
    backendPort,
    'dnsdist DoT',
    (port) => `addTLSLocal("127.0.0.1:${port}", "${certFile}", "${keyFile}")`,
    async (port) => {
      const out = execFileSync('kdig', [
        '+short',
        '+tls',
        '+time=1',
        '+retry=0',
        '-p',
        String(port),
        '@127.0.0.1',
        'ns.dns64.test',
        'A',
      ]);
      return out.toString().trim() === '192.0.2.53';
    },
  );
}

/**
 * The server's output with every JSON log line (pino) reduced to its `msg`, other lines as they
 * are: what an operator reads with `jq -r .msg`, for tests that look for lifecycle lines.
 */
export function logMessages(output: string): string {
  return output
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{')) return line;
      try {
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        return typeof msg === 'string' ? msg : line;
      } catch {
        return line;
      }
    })
    .join('\n');
}
