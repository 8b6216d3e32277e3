import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, namedConf } from '../test/integration/servers';
import { PREFIX, ZONE, hostAddress, query, udpQuery } from './dns';
import { type Proc, start, tempDir, waitForOutput, waitUntil } from './procs';

/** The servers the benchmark compares and the upstream path they share, all on 127.0.0.1. */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

export interface Server {
  readonly proc: Proc;
  readonly port: number;
}

/** Commands the benchmark runs, with the Debian package of each. */
export const NEEDED: readonly (readonly [string, string])[] = [
  ['named', 'bind9'],
  ['dnsdist', 'dnsdist'],
  ['unbound', 'unbound'],
  ['h2load', 'nghttp2-client'],
  ['dig', 'bind9-dnsutils'],
];

export function missingCommands(): string[] {
  return NEEDED.filter(([cmd]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  }).map(([cmd, pkg]) => `${cmd} (Debian package ${pkg})`);
}

/**
 * bench.test: h0 .. h<n-1> with one A record each (no AAAA, so every AAAA answer is synthesized),
 * and a wildcard under bench.test so every never-seen name has an A record too. SOA minimum
 * (negative TTL) 300; A TTL 3600, so nothing expires during a run.
 */
export function benchZone(n: number): string {
  const lines = [
    '$TTL 3600',
    `@ IN SOA ns.${ZONE}. admin.${ZONE}. 1 3600 600 86400 300`,
    `@ IN NS ns.${ZONE}.`,
    'ns IN A 192.0.2.53',
    '* IN A 198.19.255.1',
  ];
  for (let i = 0; i < n; i++) lines.push(`h${i} IN A ${hostAddress(i)}`);
  return lines.join('\n') + '\n';
}

/** BIND 9 as the authoritative server of bench.test. */
export async function startBind(names: number): Promise<Server> {
  const dir = tempDir('bind');
  const port = await freePort();
  writeFileSync(join(dir, 'bench.test.zone'), benchZone(names));
  writeFileSync(join(dir, 'named.conf'), namedConf(dir, port, [[ZONE, 'bench.test.zone']]));
  const proc = start('named', 'named', [
    '-g',
    '-n',
    '1',
    '-u',
    'root',
    '-c',
    join(dir, 'named.conf'),
  ]);
  await waitUntil(
    'BIND',
    async () => (await udpQuery(port, query(`ns.${ZONE}`, 'A'), 500)).length > 12,
    30_000,
  );
  return { proc, port };
}

/** The delay relay (bench/relay.ts) in front of `target`: `oneWayMs` each way. */
export async function startRelay(target: number, oneWayMs: number): Promise<Server> {
  const port = await freePort();
  // Node itself (not the tsx wrapper), so that SIGUSR2 reaches the relay.
  const proc = start(
    'relay',
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'bench', 'relay.ts'),
      String(port),
      String(target),
      String(oneWayMs),
    ],
    { cwd: ROOT },
  );
  await waitForOutput(proc, /relay ready/, 30_000);
  return { proc, port };
}

/** dnsdist: plain-HTTP DoH (HTTP/1.1 and h2c) at /dns-query in front of `backend`, no cache. */
export function startDnsdist(backend: number): Promise<Server> {
  return runDnsdist('dnsdist', backend, '');
}

/** The entries of the packet cache of the dnsdist peer: well above the names the benchmark asks. */
export const PACKET_CACHE_ENTRIES = 100_000;

/**
 * The cached-DoH-front peer: dnsdist with a packet cache (`newPacketCache`, otherwise its
 * defaults) on its default pool, DoH on h2c (and HTTP/1.1) at /dns-query, whose one backend is
 * Unbound's plain DNS port (UDP), so that its answers are Unbound's DNS64 answers. dnsdist does
 * not synthesize AAAA itself; a cache hit is answered by dnsdist alone.
 */
export function startDnsdistCache(unboundDnsPort: number): Promise<Server> {
  return runDnsdist(
    'dnsdist cache',
    unboundDnsPort,
    `pc = newPacketCache(${PACKET_CACHE_ENTRIES}, {maxTTL=86400, minTTL=0})
getPool(""):setCache(pc)
`,
  );
}

async function runDnsdist(name: string, backend: number, extra: string): Promise<Server> {
  const dir = tempDir(name.replace(/\W/g, '-'));
  const port = await freePort();
  const dnsPort = await freePort();
  writeFileSync(
    join(dir, 'dnsdist.conf'),
    `setLocal("127.0.0.1:${dnsPort}")
newServer({address="127.0.0.1:${backend}", checkName="ns.${ZONE}.", checkInterval=5})
addDOHLocal("127.0.0.1:${port}", nil, nil, "/dns-query")
setSecurityPollSuffix("")
${extra}`,
  );
  const proc = start(name, 'dnsdist', ['--supervised', '-C', join(dir, 'dnsdist.conf')]);
  await waitUntil(
    `${name} DoH`,
    async () => {
      const q = Buffer.from(query(`ns.${ZONE}`, 'A')).toString('base64url');
      const res = await fetch(`http://127.0.0.1:${port}/dns-query?dns=${q}`);
      const body = new Uint8Array(await res.arrayBuffer());
      return res.status === 200 && body.length > 12 && (body[3]! & 0xf) === 0;
    },
    30_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.log().slice(-4000)}`);
  });
  return { proc, port };
}

/**
 * Unbound with its dns64 module, DoH over cleartext HTTP/2 on `port` (plain DNS on `dnsPort`),
 * bench.test as a stub zone at `upstream` (the relay). One thread, like the single Node process
 * it is compared with.
 */
export async function startUnbound(
  upstream: number,
  threads: number,
): Promise<Server & { readonly dnsPort: number }> {
  const dir = tempDir('unbound');
  const port = await freePort();
  const dnsPort = await freePort();
  const conf = join(dir, 'unbound.conf');
  writeFileSync(
    conf,
    `server:
  directory: "${dir}"
  chroot: ""
  username: ""
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: ${threads}
  do-ip6: no
  interface: 127.0.0.1@${dnsPort}
  interface: 127.0.0.1@${port}
  port: ${dnsPort}
  https-port: ${port}
  http-notls-downstream: yes
  http-endpoint: "/dns-query"
  incoming-num-tcp: 512
  msg-cache-size: 64m
  rrset-cache-size: 128m
  module-config: "dns64 iterator"
  dns64-prefix: ${PREFIX}
  dns64-synthall: no
  do-not-query-localhost: no
  local-zone: "test." nodefault
  access-control: 127.0.0.0/8 allow
stub-zone:
  name: "${ZONE}"
  stub-addr: 127.0.0.1@${upstream}
remote-control:
  control-enable: no
`,
  );
  execFileSync('unbound-checkconf', [conf], { stdio: 'pipe' });
  const proc = start('unbound', 'unbound', ['-d', '-c', conf]);
  await waitUntil(
    'Unbound',
    async () => (await udpQuery(dnsPort, query(`ns.${ZONE}`, 'A'), 1000)).length > 12,
    30_000,
  );
  return { proc, port, dnsPort };
}

/** This project's self-hosted server (`npm run serve`), one process, dnsdist as its upstream. */
export async function startNodeServer(upstream: string, nodeArgs: string[] = []): Promise<Server> {
  const port = await freePort();
  const dnsPort = await freePort();
  const proc = start(
    'node server',
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'src/node/serve.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_NO_WARNINGS: '1',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        DNS_PORT: String(dnsPort),
        UPSTREAMS: upstream,
        DNS64_PREFIX: PREFIX,
        WORKERS: '1',
        // No metrics listener: 9153 may be taken by another server on this machine.
        METRICS_ADDR: 'off',
      },
    },
  );
  // The server logs JSON lines: `ready:` opens the message of its ready line.
  await waitForOutput(proc, /"msg":"ready:/m, 60_000);
  return { proc, port };
}

/**
 * The worker in `wrangler dev` (workerd) over plain HTTP/1.1, dnsdist as its upstream; with
 * `noop`, bench/noop-worker.ts instead (a fixed answer: the cost of wrangler dev itself).
 */
export async function startWrangler(upstream: string, noop = false): Promise<Server> {
  const port = await freePort();
  const state = tempDir('wrangler-state');
  const args = ['dev', '--port', String(port), '--ip', '127.0.0.1'];
  if (noop) {
    const conf = join(state, 'wrangler.toml');
    writeFileSync(
      conf,
      `name = "noop"\nmain = "${join(ROOT, 'bench', 'noop-worker.ts')}"\ncompatibility_date = "2025-09-01"\n`,
    );
    args.push('--config', conf);
  }
  args.push('--inspector-port', String(await freePort()), '--persist-to', state);
  args.push('--var', `UPSTREAMS:${upstream}`, '--var', `DNS64_PREFIX:${PREFIX}`);
  args.push('--log-level', 'warn', '--show-interactive-dev-session=false');
  const proc = start('wrangler dev', WRANGLER, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
  });
  await waitUntil(
    'wrangler dev',
    async () => (await fetch(`http://127.0.0.1:${port}/dns-query`)).status === (noop ? 200 : 400),
    90_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.log().slice(-4000)}`);
  });
  return { proc, port };
}
