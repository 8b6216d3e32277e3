/**
 * nat64d vs Tayga: one namespace topology, both translators in turn, iperf3 through each.
 *
 *   client ns (IPv6 only)        gateway ns (translator on TUN "nat64")        server ns (IPv4 only)
 *   2001:db8:1::2 ---- veth ---- 2001:db8:1::1 | 203.0.113.1 ---- veth ---- 203.0.113.2
 *
 * The client reaches the server as 2001:db8:64::203.0.113.2 (prefix 2001:db8:64::/96) and
 * appears there as an address of the dynamic pool 198.18.0.0/24. Both translators read the
 * same tayga.conf. Tayga 0.9.2 leaves the device to the administrator, so the bench brings it
 * up and adds the same routes nat64d adds itself (`tun-up yes`).
 *
 * Measurements, in interleaved rounds (Tayga, then nat64d, per round, so drift on a shared
 * machine hits both alike):
 *   - TCP: iperf3 client -> server, one stream, bits per second received by the server;
 *   - UDP: iperf3 -u -l 64 -b 0 client -> server; packets per second *received* by the
 *     server (its own JSON report: packets - lost, over its measured seconds).
 * Medians per translator, ratio nat64d / Tayga. No CPU pinning unless --pin (then the
 * translator runs on CPU 1, both iperf3 ends on CPU 0, for both translators alike).
 *
 *   npm run bench:nat64 [-- --quick] [--rounds N] [--seconds S] [--pin] [--only tayga|nat64d]
 *                       [--no-write] [--cpu-prof DIR]
 *
 * Root only (namespaces, TUN). Needs iproute2, tayga, iperf3. Everything it creates (three
 * namespaces with random names, the processes in them, temporary files) is removed on exit,
 * on failure and on SIGINT/SIGTERM.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const repo = join(pkg, '../..');
const BIN = join(pkg, 'bin/nat64d.js');
const SERVER4 = '203.0.113.2';
const SERVER6 = '2001:db8:64::cb00:7102';
const CLIENT6 = '2001:db8:1::2';
const PORT = '5201';

type Translator = 'tayga' | 'nat64d';

interface Options {
  quick: boolean;
  rounds: number;
  seconds: number;
  pin: boolean;
  only: Translator | null;
  write: boolean;
  cpuProf: string | null;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    quick: false,
    rounds: 3,
    seconds: 10,
    pin: false,
    only: null,
    write: true,
    cpuProf: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') {
      o.quick = true;
      o.rounds = 1;
      o.seconds = 4;
    } else if (a === '--rounds') o.rounds = Math.max(1, Number(next()));
    else if (a === '--seconds') o.seconds = Math.max(1, Number(next()));
    else if (a === '--pin') o.pin = true;
    else if (a === '--no-write') o.write = false;
    else if (a === '--cpu-prof') o.cpuProf = next();
    else if (a === '--only') {
      const v = next();
      if (v !== 'tayga' && v !== 'nat64d') throw new Error('--only tayga|nat64d');
      o.only = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run bench:nat64 [-- --quick] [--rounds N] [--seconds S] [--pin] ' +
          '[--only tayga|nat64d] [--no-write] [--cpu-prof DIR]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function sh(cmd: string, args: readonly string[], timeout = 30_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

function which(tool: string): string | null {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin'])
    if (existsSync(`${d}/${tool}`)) return `${d}/${tool}`;
  return null;
}

const id = randomBytes(3).toString('hex');
const NS = { client: `b64c-${id}`, gateway: `b64g-${id}`, server: `b64s-${id}` } as const;
const tmp = mkdtempSync(join(tmpdir(), 'nat64-bench-'));
const children = new Set<ChildProcess>();
let cleaned = false;

function nsx(ns: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, ...args]);
}

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const ns of Object.values(NS)) {
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // namespace absent
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

function spawnNs(
  ns: string,
  args: readonly string[],
  cpu: number | null,
): { child: ChildProcess; output: () => string } {
  const argv = cpu === null ? [...args] : ['taskset', '-c', String(cpu), ...args];
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function buildTopology(): void {
  for (const ns of Object.values(NS)) {
    sh('ip', ['netns', 'add', ns]);
    nsx(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  const veth = (a: string, nsA: string, b: string, nsB: string) =>
    sh('ip', ['link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB]);
  veth(`c${id}`, NS.client, `gc${id}`, NS.gateway);
  veth(`s${id}`, NS.server, `gs${id}`, NS.gateway);
  nsx(NS.client, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
  nsx(NS.client, 'ip', 'link', 'set', `c${id}`, 'up');
  nsx(NS.client, 'ip', 'addr', 'add', `${CLIENT6}/64`, 'dev', `c${id}`, 'nodad');
  nsx(NS.client, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
  nsx(NS.server, 'ip', 'link', 'set', `s${id}`, 'up');
  nsx(NS.server, 'ip', 'addr', 'add', `${SERVER4}/24`, 'dev', `s${id}`);
  nsx(NS.server, 'ip', 'route', 'add', 'default', 'via', '203.0.113.1');
  const g = NS.gateway;
  nsx(g, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0');
  nsx(g, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  nsx(g, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
  nsx(g, 'ip', 'link', 'set', `gc${id}`, 'up');
  nsx(g, 'ip', 'link', 'set', `gs${id}`, 'up');
  nsx(g, 'ip', 'addr', 'add', '2001:db8:1::1/64', 'dev', `gc${id}`, 'nodad');
  nsx(g, 'ip', 'addr', 'add', '203.0.113.1/24', 'dev', `gs${id}`);
}

/** Accepted by both Tayga 0.9.2 and nat64d. */
const TAYGA_CONF = [
  '# nat64 bench: read by Tayga and by nat64d alike',
  'tun-device nat64',
  'ipv4-addr 198.51.100.1',
  'prefix 2001:db8:64::/96',
  'dynamic-pool 198.18.0.0/24',
  '',
].join('\n');

async function waitReachable(): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      nsx(NS.client, 'ping', '-6', '-c', '1', '-W', '1', SERVER6);
      return;
    } catch {
      await sleep(200);
    }
  }
  throw new Error(`server ${SERVER6} not reachable through the translator`);
}

interface Running {
  stop(): Promise<void>;
  output(): string;
}

async function startTranslator(which: Translator, conf: string, o: Options): Promise<Running> {
  const g = NS.gateway;
  const cpu = o.pin ? 1 : null;
  if (which === 'tayga') {
    nsx(g, 'tayga', '-c', conf, '--mktun');
    nsx(g, 'ip', 'link', 'set', 'dev', 'nat64', 'mtu', '1500', 'up');
    nsx(g, 'ip', '-6', 'route', 'replace', '2001:db8:64::/96', 'dev', 'nat64');
    nsx(g, 'ip', '-4', 'route', 'replace', '198.51.100.1/32', 'dev', 'nat64');
    nsx(g, 'ip', '-4', 'route', 'replace', '198.18.0.0/24', 'dev', 'nat64');
    const p = spawnNs(g, ['tayga', '-c', conf, '--nodetach'], cpu);
    await waitReachable();
    return {
      output: p.output,
      async stop() {
        await stopChild(p.child);
        nsx(g, 'tayga', '-c', conf, '--rmtun');
      },
    };
  }
  const node = [process.execPath];
  if (o.cpuProf) node.push('--cpu-prof', '--cpu-prof-dir', o.cpuProf);
  const p = spawnNs(g, [...node, BIN, '-c', conf, '--metrics', 'off'], cpu);
  for (let i = 0; i < 100 && !p.output().includes('translating on'); i++) {
    if (p.child.exitCode !== null) break;
    await sleep(100);
  }
  if (!p.output().includes('translating on'))
    throw new Error(`nat64d did not start:\n${p.output()}`);
  await waitReachable();
  return { output: p.output, stop: () => stopChild(p.child, 'SIGINT') };
}

interface IperfEnd {
  end?: {
    sum_received?: { bits_per_second?: number; bytes?: number; seconds?: number };
    sum?: {
      packets?: number;
      lost_packets?: number;
      seconds?: number;
      bits_per_second?: number;
    };
  };
  server_output_json?: IperfEnd;
  error?: string;
}

function iperf(args: readonly string[], seconds: number, o: Options): IperfEnd {
  const base = ['iperf3', '-c', SERVER6, '-p', PORT, '-B', CLIENT6, '-t', String(seconds), '-J'];
  const argv = o.pin ? ['taskset', '-c', '0', ...base, ...args] : [...base, ...args];
  let out: string;
  try {
    out = sh('ip', ['netns', 'exec', NS.client, ...argv], (seconds + 30) * 1000);
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
  }
  const json = JSON.parse(out) as IperfEnd;
  if (json.error) throw new Error(`iperf3: ${json.error}`);
  return json;
}

/** TCP: the receiver's (server's) bits per second. */
function tcpRun(seconds: number, o: Options): number {
  const j = iperf([], seconds, o);
  const bps = j.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error('iperf3 TCP: no sum_received');
  return bps;
}

/** UDP 64-byte payloads: packets per second received by the server (its own report). */
function udpRun(seconds: number, o: Options): { rx: number; tx: number } {
  const j = iperf(['-u', '-l', '64', '-b', '0', '--get-server-output'], seconds, o);
  const s = j.server_output_json?.end?.sum;
  const c = j.end?.sum;
  if (!s || s.packets === undefined || !s.seconds) throw new Error('iperf3 UDP: no server report');
  const rx = (s.packets - (s.lost_packets ?? 0)) / s.seconds;
  const tx = c?.packets !== undefined && c.seconds ? c.packets / c.seconds : NaN;
  return { rx, tx };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Results {
  tcp: number[];
  udp: number[];
  udpSent: number[];
}

function machineInfo(): { nproc: string; cpu: string; kernel: string; node: string } {
  let nproc = String(cpus().length);
  try {
    nproc = sh('nproc', []).trim();
  } catch {
    // keep os.cpus()
  }
  return {
    nproc,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    kernel: release(),
    node: process.version,
  };
}

function versions(): { tayga: string; iperf3: string } {
  const pkgVersion = (p: string) => {
    try {
      return sh('dpkg-query', ['-W', '-f', '${Version}', p]).trim();
    } catch {
      return 'unknown';
    }
  };
  return { tayga: pkgVersion('tayga'), iperf3: pkgVersion('iperf3') };
}

const fmtGbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const fmtKpps = (pps: number) => `${(pps / 1e3).toFixed(0)} kpps`;
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '-');

function table(r: Record<Translator, Results>, o: Options): string {
  const rows = [
    '| Metric | Tayga | nat64d | nat64d / Tayga |',
    '| --- | ---: | ---: | ---: |',
    `| TCP throughput, 1 stream, median of ${r.tayga.tcp.length || r.nat64d.tcp.length} × ${o.seconds} s | ${fmtGbit(median(r.tayga.tcp))} | ${fmtGbit(median(r.nat64d.tcp))} | ${ratio(median(r.nat64d.tcp), median(r.tayga.tcp))} |`,
    `| UDP 64-byte packets/s received by the server, median | ${fmtKpps(median(r.tayga.udp))} | ${fmtKpps(median(r.nat64d.udp))} | ${ratio(median(r.nat64d.udp), median(r.tayga.udp))} |`,
    `| (UDP packets/s offered by the client, median) | ${fmtKpps(median(r.tayga.udpSent))} | ${fmtKpps(median(r.nat64d.udpSent))} | |`,
  ];
  return rows.join('\n');
}

const BEGIN = '<!-- nat64-bench:begin (written by npm run bench:nat64) -->';
const END = '<!-- nat64-bench:end -->';
const HEADING = '## nat64d vs Tayga';

/** Replaces only the generated block inside "## nat64d vs Tayga" (created if absent). */
function writeBenchmarks(block: string): string {
  const file = join(repo, 'BENCHMARKS.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const generated = `${BEGIN}\n${block}\n${END}`;
  let next: string;
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b >= 0 && e > b) next = text.slice(0, b) + generated + text.slice(e + END.length);
  else if (text.includes(HEADING)) {
    const h = text.indexOf(HEADING) + HEADING.length;
    const eol = text.indexOf('\n', h);
    const at = eol < 0 ? text.length : eol + 1;
    next = `${text.slice(0, at)}\n${generated}\n${text.slice(at)}`;
  } else next = `${text.replace(/\n*$/, '\n')}\n${HEADING}\n\n${generated}\n`;
  writeFileSync(file, next);
  return file;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, TUN)');
  for (const tool of ['ip', 'iperf3', 'tayga', 'ping', ...(o.pin ? ['taskset'] : [])])
    if (!which(tool)) throw new Error(`missing ${tool} (apt-get install iproute2 iperf3 tayga)`);
  if (!existsSync(join(pkg, 'build/Release/tun.node')))
    throw new Error('nat64d addon not built: npm run build -w nat64d');
  // Compile the daemon as the integration tests do (bin/nat64d.js runs dist/).
  sh(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', pkg], 120_000);

  const conf = join(tmp, 'tayga.conf');
  writeFileSync(conf, TAYGA_CONF);
  buildTopology();
  const iperfServer = spawnNs(
    NS.server,
    ['iperf3', '-s', '-J', '-B', SERVER4, '-p', PORT],
    o.pin ? 0 : null,
  );
  await sleep(300);
  if (iperfServer.child.exitCode !== null)
    throw new Error(`iperf3 server: ${iperfServer.output()}`);

  const order: Translator[] = o.only ? [o.only] : ['tayga', 'nat64d'];
  const results: Record<Translator, Results> = {
    tayga: { tcp: [], udp: [], udpSent: [] },
    nat64d: { tcp: [], udp: [], udpSent: [] },
  };
  const started = new Date();
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of order) {
      const running = await startTranslator(t, conf, o);
      try {
        const tcp = tcpRun(o.seconds, o);
        const udp = udpRun(o.seconds, o);
        results[t].tcp.push(tcp);
        results[t].udp.push(udp.rx);
        results[t].udpSent.push(udp.tx);
        process.stdout.write(
          `round ${round}/${o.rounds} ${t.padEnd(6)}  TCP ${fmtGbit(tcp)}  UDP rx ${fmtKpps(udp.rx)} (tx ${fmtKpps(udp.tx)})\n`,
        );
      } finally {
        await running.stop();
      }
    }
  }

  const m = machineInfo();
  const v = versions();
  const out = table(results, o);
  process.stdout.write(`\n${out}\n`);
  const cmd = `npm run bench:nat64${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const block = [
    `Last run: ${started.toISOString().replace(/\.\d+Z$/, 'Z')}, \`${cmd}\` ` +
      `(${o.rounds} interleaved round(s), ${o.seconds} s per iperf3 run).`,
    '',
    `Machine: ${m.nproc} CPUs (nproc), ${m.cpu}, Linux ${m.kernel}, Node ${m.node}; ` +
      `tayga ${v.tayga}, iperf3 ${v.iperf3}. ` +
      (o.pin
        ? 'CPU affinity: translator on CPU 1, both iperf3 ends on CPU 0 (same for both).'
        : 'CPU affinity: none (no pinning, for either translator).'),
    '',
    out,
    '',
    'Topology: IPv6-only client ns — veth — gateway ns (translator on TUN `nat64`, forwarding) ' +
      '— veth — IPv4-only server ns; client 2001:db8:1::2 reaches 203.0.113.2 as ' +
      '2001:db8:64::cb00:7102; the same tayga.conf (`prefix 2001:db8:64::/96`, ' +
      '`ipv4-addr 198.51.100.1`, `dynamic-pool 198.18.0.0/24`) for both; nat64d in stateless mode. ' +
      'TCP: `iperf3 -c … -t S`, receiver bit rate. UDP: `iperf3 -u -l 64 -b 0 -t S`, packets ' +
      'received per second as reported by the server (packets − lost over its seconds).',
  ].join('\n');
  if (o.write && !o.only) process.stdout.write(`\nwrote ${writeBenchmarks(block)}\n`);
  await stopChild(iperfServer.child, 'SIGKILL');
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`bench:nat64 failed: ${(err as Error).stack ?? String(err)}\n`);
    cleanup();
    process.exit(1);
  },
);
