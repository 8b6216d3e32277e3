/**
 * nat64d vs Tayga: one namespace topology, the translators in turn, iperf3 through each.
 *
 *   client ns (IPv6 only)        gateway ns (translator on TUN "nat64")        server ns (IPv4 only)
 *   2001:db8:1::2 ---- veth ---- 2001:db8:1::1 | 203.0.113.1 ---- veth ---- 203.0.113.2
 *
 * The client reaches the server as 2001:db8:64::203.0.113.2 (prefix 2001:db8:64::/96).
 * Two pairs:
 *   - stateless: `tayga` and `nat64d` read the same tayga.conf; the client appears at the server
 *     as an address of the dynamic pool 198.18.0.0/24;
 *   - stateful: `tayga-masq` is Tayga with that file plus nftables `masquerade` on the gateway's
 *     IPv4 side (the nearest peer to a stateful NAT64: the server sees 203.0.113.1), and
 *     `nat64d-pool4` is nat64d with `pool4 198.51.100.8 61000-65535` (RFC 6146).
 * Tayga 0.9.2 leaves the device to the administrator, so the bench brings it up and adds the
 * same routes nat64d adds itself (`tun-up yes`).
 *
 * Measurements, in interleaved rounds (every translator once per round, so drift on a shared
 * machine hits all alike):
 *   - TCP: iperf3 client -> server, one stream, bits per second received by the server;
 *   - UDP: iperf3 -u -l 64 -b 0 -w 4M client -> server; packets per second *received* by the
 *     server (its own JSON report: packets - lost, over its measured seconds), and where the
 *     lost ones went (the TUN device's TX drops: the kernel could not queue them for the
 *     translator; the server's UdpRcvbufErrors);
 *   - translator-bound UDP (RFC 8219 / RFC 2544: the tester must outrun the device): trafgen
 *     (packet-mmap TX, CPU 0 with --pin) in the client namespace offers IPv6 UDP datagrams with
 *     64-byte payloads as fast as it can (--gen-flows: 1 flow, and 8 flows by source port) or at
 *     fixed rates (--gen-rates); the server namespace counts them with an nftables counter at
 *     its netdev ingress hook and drops them there; UDP GSO is off on the gateway's egress veth
 *     so each datagram crosses it as a frame. Forwarded packets/s, offered at the gateway,
 *     translator CPU (and all of CPU 1 when pinned) per forwarded datagram. --gen-sendto: the
 *     same datagrams from trafgen's sendto(2) path (-b at a rate it cannot reach), the frames a
 *     socket sends, which the gateway's veth hands to GRO (packet-mmap frames bypass it);
 *     --gen-gso: a batching client instead of trafgen, the tester that outruns both
 *     translators: udp-gso-flood.py (python3, CPU 0 with --pin) sends the same datagrams from
 *     UDP sockets with UDP_SEGMENT, 64 datagrams per send(2), as QUIC stacks send; each run
 *     crosses the client's veth as one GSO packet (offered = the gateway veth's RX packets x 64);
 *   - during the trafgen tests, UDP GRO forwarding on the gateway's client-side veth for every
 *     translator (--no-gro: off):
 *     `ethtool -K gro on rx-udp-gro-forwarding on` and threaded NAPI (a veth has no interrupt
 *     to batch its receive as a NIC does, so without it GRO sees one frame per poll). A
 *     translator whose TUN device takes UDP GSO (nat64d) then reads a run of same-flow
 *     datagrams at once; for one that does not (Tayga) the kernel segments the run again
 *     before its TUN device;
 *   - the translator's CPU time (user + system, /proc/PID/stat) per TCP megabyte and per UDP
 *     packet received: the figure least sensitive to the rest of the machine.
 * Medians per translator, ratios nat64d / peer. No CPU pinning unless --pin (then the
 * translator runs on CPU 1, both iperf3 ends on CPU 0, for every translator alike).
 *
 *   npm run bench:nat64 [-- --quick] [--rounds N] [--seconds S] [--pin]
 *                       [--mode stateless|stateful|both] [--only TRANSLATOR]
 *                       [--tun-queue N] [--udp-buffer SIZE|0] [--no-write] [--cpu-prof DIR]
 *                       [--gen-flows N,M | --no-gen] [--gen-rates PPS,...] [--gen-seconds S]
 *                       [--gen-sendto N,M] [--gen-gso N,M] [--no-gro]
 *
 * --tun-queue N sets the TUN device's transmit queue to N for every translator (by default each
 * keeps its own: the kernel's 500 for Tayga, `tun-queue-len` 4096 for nat64d).
 *
 * Root only (namespaces, TUN). Needs iproute2, tayga, iperf3, nftables, ethtool, netsniff-ng
 * (trafgen; not with --no-gen); conntrack optional.
 * Everything it creates (three namespaces with random names, the processes in them, temporary
 * files) is removed on exit, on failure and on SIGINT/SIGTERM.
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

/** Stateless: Tayga vs nat64d. Stateful: Tayga + nftables MASQUERADE vs nat64d with pool4. */
type Translator = 'tayga' | 'nat64d' | 'tayga-masq' | 'nat64d-pool4';
const STATELESS: readonly Translator[] = ['tayga', 'nat64d'];
const STATEFUL: readonly Translator[] = ['tayga-masq', 'nat64d-pool4'];
const ALL: readonly Translator[] = [...STATELESS, ...STATEFUL];
const isTranslator = (v: string): v is Translator => (ALL as readonly string[]).includes(v);

interface Options {
  quick: boolean;
  rounds: number;
  seconds: number;
  pin: boolean;
  only: Translator | null;
  mode: 'stateless' | 'stateful' | 'both';
  /** TUN transmit queue set on the device for every translator alike, or null (as they leave it). */
  tunQueue: number | null;
  /** iperf3 -w for the UDP test (socket buffers at both ends), '0' for iperf3's default. */
  udpBuffer: string;
  write: boolean;
  cpuProf: string | null;
  /** Flow counts for the trafgen test (one run each per translator and round); [] skips it. */
  genFlows: number[];
  /** Fixed offered rates (packets/s) for the trafgen test, one flow each; [] for none. */
  genRates: number[];
  /** Seconds measured per trafgen run (after one second of warm-up). */
  genSeconds: number;
  /** Flow counts for the trafgen test from its sendto(2) path; [] skips it. */
  genSendto: number[];
  /** UDP GRO forwarding (and threaded NAPI) on the gateway's client-side veth, for all alike. */
  gro: boolean;
  /** Flow counts for the UDP GSO sender (udp-gso-flood.py, 64 datagrams per send); [] skips it. */
  genGso: number[];
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    quick: false,
    rounds: 3,
    seconds: 10,
    pin: false,
    only: null,
    mode: 'both',
    tunQueue: null,
    udpBuffer: '4M',
    write: true,
    cpuProf: null,
    genFlows: [1, 8],
    genRates: [],
    genSeconds: 4,
    genSendto: [1, 8],
    gro: true,
    genGso: [1, 8],
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
      if (!isTranslator(v)) throw new Error(`--only ${ALL.join('|')}`);
      o.only = v;
    } else if (a === '--tun-queue') o.tunQueue = Math.max(1, Number(next()));
    else if (a === '--udp-buffer') o.udpBuffer = next();
    else if (a === '--gen-flows') o.genFlows = numberList(next(), '--gen-flows');
    else if (a === '--gen-rates') o.genRates = numberList(next(), '--gen-rates');
    else if (a === '--gen-seconds') o.genSeconds = Math.max(1, Number(next()));
    else if (a === '--gen-sendto') o.genSendto = numberList(next(), '--gen-sendto');
    else if (a === '--gen-gso') o.genGso = numberList(next(), '--gen-gso');
    else if (a === '--no-gro') o.gro = false;
    else if (a === '--no-gen') {
      o.genFlows = [];
      o.genSendto = [];
      o.genGso = [];
    } else if (a === '--mode') {
      const v = next();
      if (v !== 'stateless' && v !== 'stateful' && v !== 'both')
        throw new Error('--mode stateless|stateful|both');
      o.mode = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run bench:nat64 [-- --quick] [--rounds N] [--seconds S] [--pin] ' +
          '[--mode stateless|stateful|both] [--only TRANSLATOR] [--tun-queue N] ' +
          '[--udp-buffer SIZE|0] [--gen-flows N,M|--no-gen] [--gen-rates PPS,...] ' +
          '[--gen-seconds S] [--gen-sendto N,M] [--gen-gso N,M] [--no-gro] [--no-write] ' +
          '[--cpu-prof DIR]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** "1,8" or "150k,200k" -> numbers (k = thousand). */
function numberList(v: string, flag: string): number[] {
  if (v === '' || v === 'none') return [];
  return v.split(',').map((x) => {
    const m = /^(\d+(?:\.\d+)?)(k?)$/.exec(x.trim());
    if (!m) throw new Error(`${flag}: expected numbers like 1,8 or 150k,200k, got ${x}`);
    const n = Number(m[1]) * (m[2] ? 1000 : 1);
    if (!(n >= 1)) throw new Error(`${flag}: ${x} is not >= 1`);
    return Math.round(n);
  });
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
  ownGroup = false,
): { child: ChildProcess; output: () => string } {
  const argv = cpu === null ? [...args] : ['taskset', '-c', String(cpu), ...args];
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: ownGroup,
  });
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

/** Stops a child started with its own process group (spawnNs(..., true)) and all in it. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone
    }
  };
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signal('SIGINT');
  const timer = setTimeout(() => signal('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  signal('SIGKILL'); // a worker that outlived its parent
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
  // Every datagram leaves the gateway as its own frame, whoever the translator: a UDP GSO
  // packet (nat64d coalesces runs of datagrams on its TUN writes) is segmented here, on the
  // gateway's CPU, instead of crossing the veth whole. So the server counts frames, as a
  // tester counts frames on the wire (RFC 2544), and the segmentation is paid on the gateway.
  nsx(g, 'ethtool', '-K', `gs${id}`, 'tx-udp-segmentation', 'off');
  // The trafgen test's datagrams (UDP port 9) are counted and dropped as they enter the
  // server: no socket, no per-packet userspace receiver, no ICMP port unreachable.
  const rules = join(tmp, 'gen-count.nft');
  writeFileSync(rules, GEN_COUNT_RULES);
  nsx(NS.server, 'nft', '-f', rules);
}

/**
 * UDP GRO forwarding on the gateway's client-side veth, for the trafgen tests and for every
 * translator alike (a host setting an operator controls): plain UDP GRO, not fraglist.
 * Threaded NAPI stands in for a NIC's interrupt batching (a veth polled inline from the
 * sender sees one frame per poll); pinned, its kernel thread runs on CPU 0 with the generator,
 * where the veth's receive ran inline before, as a NIC's interrupt affinity keeps it off the
 * translator's CPU. Off again for the iperf3 tests, whose client and server share CPU 0.
 */
function setGro(o: Options, on: boolean): void {
  if (!o.gro) return;
  const g = NS.gateway;
  const dev = `gc${id}`;
  if (on) {
    nsx(g, 'ethtool', '-K', dev, 'gro', 'on', 'rx-udp-gro-forwarding', 'on');
    nsx(g, 'ethtool', '-K', dev, 'rx-gro-list', 'off');
  }
  nsx(g, 'sh', '-c', `echo ${on ? 1 : 0} > /sys/class/net/${dev}/threaded`);
  if (!on) nsx(g, 'ethtool', '-K', dev, 'rx-udp-gro-forwarding', 'off');
  if (on && o.pin) pinNapiThreads(dev, 0);
}

/** Pins the threaded-NAPI kernel threads of `dev` (named napi/DEV-ID) to `cpu`. */
function pinNapiThreads(dev: string, cpu: number): void {
  const prefix = `napi/${dev}-`;
  for (const line of sh('ps', ['-e', '-o', 'pid=,comm=']).split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)$/.exec(line);
    if (m && m[2]!.startsWith(prefix)) sh('taskset', ['-pc', String(cpu), m[1]!]);
  }
}

/** UDP port the trafgen datagrams go to; counted and dropped at the server's ingress hook. */
const GEN_PORT = 9;
const GEN_TABLE = 'nat64gen';
const GEN_COUNT_RULES = [
  `table netdev ${GEN_TABLE} {`,
  '  counter datagrams {}',
  '  chain in {',
  `    type filter hook ingress device "s${id}" priority filter; policy accept;`,
  `    ip protocol udp udp dport ${GEN_PORT} counter name datagrams drop`,
  '  }',
  '}',
  '',
].join('\n');

/** Accepted by both Tayga 0.9.2 and nat64d (stateless; also Tayga's half of tayga-masq). */
const TAYGA_CONF = [
  '# nat64 bench: read by Tayga and by nat64d alike',
  'tun-device nat64',
  'ipv4-addr 198.51.100.1',
  'prefix 2001:db8:64::/96',
  'dynamic-pool 198.18.0.0/24',
  '',
].join('\n');

/** nat64d stateful (RFC 6146): one pool4 address shared by port, as an ISP's gateway. */
const POOL4_CONF = [
  '# nat64 bench: nat64d stateful',
  'tun-device nat64',
  'ipv4-addr 198.51.100.1',
  'prefix 2001:db8:64::/96',
  'pool4 198.51.100.8 61000-65535',
  '',
].join('\n');

/** Tayga + MASQUERADE: the pool addresses leave the gateway as its own uplink address. */
const MASQ_TABLE = 'nat64bench';
const MASQ_RULES = [
  `table ip ${MASQ_TABLE} {`,
  '  chain post {',
  '    type nat hook postrouting priority srcnat; policy accept;',
  `    ip saddr 198.18.0.0/24 oifname "gs${id}" masquerade`,
  '  }',
  '}',
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
  let state = '';
  for (const cmd of [
    ['ip', '-s', 'link', 'show', 'dev', 'nat64'],
    ['ip', '-6', 'route'],
    ['ip', '-4', 'route'],
    ['ip', '-6', 'neigh'],
  ]) {
    try {
      state += nsx(NS.gateway, ...cmd);
    } catch (err) {
      state += `${cmd.join(' ')}: ${(err as Error).message}\n`;
    }
  }
  throw new Error(`server ${SERVER6} not reachable through the translator; gateway:\n${state}`);
}

interface Running {
  readonly pid: number | null;
  stop(): Promise<void>;
  output(): string;
}

async function startTranslator(kind: Translator, o: Options): Promise<Running> {
  const g = NS.gateway;
  const cpu = o.pin ? 1 : null;
  if (kind === 'tayga' || kind === 'tayga-masq') {
    const conf = join(tmp, 'tayga.conf');
    nsx(g, 'tayga', '-c', conf, '--mktun');
    nsx(g, 'ip', 'link', 'set', 'dev', 'nat64', 'mtu', '1500', 'up');
    nsx(g, 'ip', '-6', 'route', 'replace', '2001:db8:64::/96', 'dev', 'nat64');
    nsx(g, 'ip', '-4', 'route', 'replace', '198.51.100.1/32', 'dev', 'nat64');
    nsx(g, 'ip', '-4', 'route', 'replace', '198.18.0.0/24', 'dev', 'nat64');
    const masq = kind === 'tayga-masq';
    if (masq) {
      const rules = join(tmp, 'masq.nft');
      writeFileSync(rules, MASQ_RULES);
      nsx(g, 'nft', '-f', rules);
    }
    const p = spawnNs(g, ['tayga', '-c', conf, '--nodetach'], cpu);
    await waitReachable();
    if (o.tunQueue !== null) setTunQueue(o.tunQueue);
    return {
      pid: p.child.pid ?? null,
      output: p.output,
      async stop() {
        await stopChild(p.child);
        nsx(g, 'tayga', '-c', conf, '--rmtun');
        if (masq) {
          nsx(g, 'nft', 'delete', 'table', 'ip', MASQ_TABLE);
          // Forget the masqueraded flows, so the next translator starts from nothing.
          if (which('conntrack')) {
            try {
              nsx(g, 'conntrack', '-F');
            } catch {
              // nothing to flush
            }
          }
        }
      },
    };
  }
  const conf = join(tmp, kind === 'nat64d' ? 'nat64d.conf' : 'pool4.conf');
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
  if (o.tunQueue !== null) setTunQueue(o.tunQueue);
  return { pid: p.child.pid ?? null, output: p.output, stop: () => stopChild(p.child, 'SIGINT') };
}

/** `ip link set nat64 txqueuelen N` in the gateway (--tun-queue: the same for every translator). */
function setTunQueue(len: number): void {
  nsx(NS.gateway, 'ip', 'link', 'set', 'dev', 'nat64', 'txqueuelen', String(len));
}

/** The translator's CPU time so far (user + system, seconds), from /proc/PID/stat. */
function cpuSeconds(pid: number | null): number {
  if (pid === null) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return NaN;
  }
}

/** Where 64-byte UDP datagrams were lost: counters of the three namespaces. */
interface LossCounters {
  /** The kernel could not queue a packet for the translator (TUN device TX dropped). */
  tunDropped: number;
  /** The server's socket buffer was full (UdpRcvbufErrors in the server namespace). */
  serverRcvbuf: number;
}

function lossCounters(): LossCounters {
  let tunDropped = NaN;
  let serverRcvbuf = NaN;
  try {
    const j = JSON.parse(
      nsx(NS.gateway, 'ip', '-s', '-j', 'link', 'show', 'dev', 'nat64'),
    ) as Array<{
      stats64?: { tx?: { dropped?: number } };
    }>;
    tunDropped = j[0]?.stats64?.tx?.dropped ?? NaN;
  } catch {
    // device gone
  }
  try {
    const m = /UdpRcvbufErrors\s+(\d+)/.exec(nsx(NS.server, 'nstat', '-azs', 'UdpRcvbufErrors'));
    serverRcvbuf = m ? Number(m[1]) : NaN;
  } catch {
    // no nstat
  }
  return { tunDropped, serverRcvbuf };
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
  let failure = '';
  try {
    out = sh('ip', ['netns', 'exec', NS.client, ...argv], (seconds + 30) * 1000);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message?: string };
    out = e.stdout ?? '';
    failure = `${e.message ?? ''} ${e.stderr ?? ''}`.trim();
  }
  if (out.trim() === '') throw new Error(`iperf3 gave no report: ${failure}`);
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

/** One UDP run: rates, where the lost datagrams went, and the translator's CPU per packet. */
interface UdpRun {
  /** Packets per second received by the server (its own report). */
  rx: number;
  /** Packets per second sent by the client. */
  tx: number;
  /** Datagrams the kernel dropped at the TUN device (translator not reading fast enough). */
  tunDropped: number;
  /** Datagrams dropped at the server's full socket buffer. */
  serverRcvbuf: number;
  /** Datagrams lost in all (iperf3's count). */
  lost: number;
  /** Translator CPU (user + system) per packet received by the server, microseconds. */
  cpuUs: number;
}

/** UDP 64-byte payloads: packets per second received by the server (its own report). */
function udpRun(seconds: number, o: Options, pid: number | null): UdpRun {
  const before = lossCounters();
  const cpu0 = cpuSeconds(pid);
  const j = iperf(
    [
      '-u',
      '-l',
      '64',
      '-b',
      '0',
      ...(o.udpBuffer === '0' ? [] : ['-w', o.udpBuffer]),
      '--get-server-output',
    ],
    seconds,
    o,
  );
  const cpu = cpuSeconds(pid) - cpu0;
  const after = lossCounters();
  const s = j.server_output_json?.end?.sum;
  const c = j.end?.sum;
  if (!s || s.packets === undefined || !s.seconds) throw new Error('iperf3 UDP: no server report');
  const received = s.packets - (s.lost_packets ?? 0);
  return {
    rx: received / s.seconds,
    tx: c?.packets !== undefined && c.seconds ? c.packets / c.seconds : NaN,
    tunDropped: after.tunDropped - before.tunDropped,
    serverRcvbuf: after.serverRcvbuf - before.serverRcvbuf,
    lost: s.lost_packets ?? NaN,
    cpuUs: received > 0 ? (cpu * 1e6) / received : NaN,
  };
}

/** Packet counters of one interface in a namespace (`ip -s -j link show`). */
interface LinkCounters {
  rxPackets: number;
  txPackets: number;
  txDropped: number;
}

function linkCounters(ns: string, dev: string): LinkCounters {
  try {
    const j = JSON.parse(nsx(ns, 'ip', '-s', '-j', 'link', 'show', 'dev', dev)) as Array<{
      stats64?: { rx?: { packets?: number }; tx?: { packets?: number; dropped?: number } };
    }>;
    const st = j[0]?.stats64;
    return {
      rxPackets: st?.rx?.packets ?? NaN,
      txPackets: st?.tx?.packets ?? NaN,
      txDropped: st?.tx?.dropped ?? NaN,
    };
  } catch {
    return { rxPackets: NaN, txPackets: NaN, txDropped: NaN };
  }
}

/** Datagrams counted (and dropped) at the server's ingress hook so far. */
function forwardedCount(): number {
  const j = JSON.parse(
    nsx(NS.server, 'nft', '-j', 'list', 'counter', 'netdev', GEN_TABLE, 'datagrams'),
  ) as {
    nftables?: Array<{ counter?: { packets?: number } }>;
  };
  for (const e of j.nftables ?? []) if (e.counter?.packets !== undefined) return e.counter.packets;
  return NaN;
}

/** Busy jiffies (all but idle and iowait) of one CPU so far, from /proc/stat. */
function cpuBusyTicks(cpu: number): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return NaN;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - (f[3] ?? 0) - (f[4] ?? 0);
}

/** The MAC address of an interface in a namespace. */
function macOf(ns: string, dev: string): string {
  const j = JSON.parse(nsx(ns, 'ip', '-j', 'link', 'show', 'dev', dev)) as Array<{
    address?: string;
  }>;
  const mac = j[0]?.address;
  if (!mac) throw new Error(`no MAC address for ${dev}`);
  return mac;
}

/**
 * trafgen's packet list: `flows` IPv6 UDP datagrams with 64-byte payloads from the client to
 * the server's translated address, one per source port (40000, 40001, ...), sent in turn.
 * trafgen fills in the lengths and the UDP checksum (valid, as a real sender's).
 */
function trafgenConf(flows: number): string {
  const client = macOf(NS.client, `c${id}`);
  const gateway = macOf(NS.gateway, `gc${id}`);
  const lines = ['# nat64 bench: 64-byte UDP over IPv6 to the translated server address'];
  for (let i = 0; i < flows; i++)
    lines.push(
      `{ eth(da=${gateway}, sa=${client}), ipv6(sa=${CLIENT6}, da=${SERVER6}, hl=64), ` +
        `udp(sp=${40000 + i}, dp=${GEN_PORT}), fill(0x61, 64) }`,
    );
  return `${lines.join('\n')}\n`;
}

/** The generators: trafgen's packet-mmap ring, trafgen's sendto(2) path, the UDP GSO sender. */
type GenKind = 'ring' | 'sendto' | 'gso';

/** The UDP GSO sender's script, and the datagrams in each of its sends (UDP_MAX_SEGMENTS). */
const GSO_SENDER = join(here, 'udp-gso-flood.py');
const GSO_RUN = 64;

/** One generator run through a translator. */
interface GenRun {
  /**
   * Datagrams per second that reached the gateway (its client-side veth's RX packets: counted
   * before GRO, so the same for every translator; the TUN device counts a GSO run as one).
   * For the UDP GSO sender each such packet is one of its sends, GSO_RUN datagrams.
   */
  offered: number;
  /** Datagrams per second counted at the server. */
  forwarded: number;
  /** Packets per second the kernel dropped at the TUN device (ring full; a GSO run is one). */
  tunDropped: number;
  /** Translator process CPU (user + system) per forwarded datagram, microseconds. */
  cpuUs: number;
  /** All of CPU 1 (the translator's CPU with --pin: process, softirq, kernel threads) per datagram. */
  cpu1Us: number;
}

/**
 * A generator in the client namespace offers datagrams (as fast as it can, or `rate` per
 * second), and after one second of warm-up the counters are read over `o.genSeconds`.
 * trafgen for the ring and sendto kinds; for 'gso' the UDP GSO sender (udp-gso-flood.py):
 * ordinary UDP sockets bound to the same source ports, each send(2) a run of GSO_RUN
 * datagrams of 64 bytes that crosses the client's veth as one GSO packet.
 */
async function genRun(
  o: Options,
  pid: number | null,
  flows: number,
  rate: number | null,
  kind: GenKind = rate !== null ? 'sendto' : 'ring',
): Promise<GenRun> {
  let argv: string[];
  if (kind === 'gso') {
    // A time limit of its own as well, so it cannot outlive a bench that failed to stop it.
    const limit = String(o.genSeconds + 10);
    argv = ['python3', GSO_SENDER, SERVER6, String(GEN_PORT), String(flows), limit];
    argv.push(String(GSO_RUN), '40000');
  } else {
    const conf = join(tmp, `trafgen-${flows}.cfg`);
    writeFileSync(conf, trafgenConf(flows));
    argv = ['trafgen', '--dev', `c${id}`, '--conf', conf, '--cpus', '1'];
    // -b: trafgen's "slow mode" (a timed sendto per packet) at an exact rate; without it the
    // packet-mmap TX ring, as fast as the generator's CPU allows.
    // --gen-sendto: the sendto path flat out (its frames, unlike the ring's, take the veth's GRO).
    if (rate !== null) argv.push('-b', `${rate}pps`);
    else if (kind === 'sendto') argv.push('-b', `${SENDTO_FLAT_OUT}pps`);
  }
  const perPacket = kind === 'gso' ? GSO_RUN : 1;
  // Its own process group: trafgen's worker is a child process that a signal to the parent
  // alone does not stop (the parent waits for it, and the worker goes on sending).
  const gen = spawnNs(NS.client, argv, o.pin ? 0 : null, true);
  try {
    await sleep(1000);
    if (gen.child.exitCode !== null) throw new Error(`generator exited: ${gen.output()}`);
    const sample = () => ({
      t: performance.now(),
      fwd: forwardedCount(),
      tun: linkCounters(NS.gateway, 'nat64'),
      arrived: linkCounters(NS.gateway, `gc${id}`).rxPackets,
      cpu: cpuSeconds(pid),
      cpu1: cpuBusyTicks(1),
    });
    const a = sample();
    await sleep(o.genSeconds * 1000);
    const b = sample();
    if (gen.child.exitCode !== null) throw new Error(`generator exited: ${gen.output()}`);
    const secs = (b.t - a.t) / 1000;
    const fwd = b.fwd - a.fwd;
    const dropped = b.tun.txDropped - a.tun.txDropped;
    return {
      offered: ((b.arrived - a.arrived) * perPacket) / secs,
      forwarded: fwd / secs,
      tunDropped: dropped / secs,
      cpuUs: fwd > 0 ? ((b.cpu - a.cpu) * 1e6) / fwd : NaN,
      cpu1Us: o.pin && fwd > 0 ? ((b.cpu1 - a.cpu1) * 1e4) / fwd : NaN,
    };
  } finally {
    await stopGroup(gen.child);
    // Let the TUN ring drain, so the next run starts empty.
    await sleep(300);
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Results {
  tcp: number[];
  /** Translator CPU per TCP megabyte, milliseconds. */
  tcpCpu: number[];
  udp: number[];
  udpSent: number[];
  udpCpu: number[];
  /** Share of the lost datagrams dropped at the TUN device (the rest: server, veth, client). */
  udpTunShare: number[];
  /** trafgen runs by test (genKey), in round order. */
  gen: Map<string, GenRun[]>;
}

/**
 * The generator tests of a run, in order: trafgen saturating with each flow count (ring, then
 * sendto), the UDP GSO sender, then trafgen's fixed rates. `gen` names the generator in the
 * table's rows.
 */
function genTests(o: Options): Array<{
  key: string;
  gen: string;
  flows: number;
  rate: number | null;
  kind: GenKind;
}> {
  const flowsKey = (flows: number) => `${flows} flow${flows === 1 ? '' : 's'}`;
  return [
    ...o.genFlows.map((flows) => ({
      key: `${flowsKey(flows)}, saturating`,
      gen: 'trafgen',
      flows,
      rate: null,
      kind: 'ring' as const,
    })),
    ...o.genSendto.map((flows) => ({
      key: `${flowsKey(flows)}, sendto, saturating`,
      gen: 'trafgen',
      flows,
      rate: null,
      kind: 'sendto' as const,
    })),
    ...o.genGso.map((flows) => ({
      key: `${flowsKey(flows)}, GSO, saturating`,
      gen: `GSO sender (${GSO_RUN} per send)`,
      flows,
      rate: null,
      kind: 'gso' as const,
    })),
    ...o.genRates.map((rate) => ({
      key: `1 flow, ${fmtKpps(rate)} offered`,
      gen: 'trafgen',
      flows: 1,
      rate,
      kind: 'sendto' as const,
    })),
  ];
}

/** trafgen -b for "as fast as its sendto(2) path goes": far above what it reaches. */
const SENDTO_FLAT_OUT = 10_000_000;

const emptyResults = (): Results => ({
  tcp: [],
  tcpCpu: [],
  udp: [],
  udpSent: [],
  udpCpu: [],
  udpTunShare: [],
  gen: new Map(),
});

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

function versions(): { tayga: string; iperf3: string; netsniff: string } {
  const pkgVersion = (p: string) => {
    try {
      return sh('dpkg-query', ['-W', '-f', '${Version}', p]).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    tayga: pkgVersion('tayga'),
    iperf3: pkgVersion('iperf3'),
    netsniff: pkgVersion('netsniff-ng'),
  };
}

const fmtGbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const fmtKpps = (pps: number) => `${(pps / 1e3).toFixed(0)} kpps`;
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '-');

const fmtNum = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const fmtPct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '-');

/** One table per pair (peer, nat64d) that was measured. */
function table(
  r: Record<Translator, Results>,
  o: Options,
  peer: Translator,
  ours: Translator,
): string {
  const a = r[peer];
  const b = r[ours];
  const n = Math.max(a.tcp.length, b.tcp.length);
  const row = (label: string, x: number, y: number, fmt: (v: number) => string, ratioToo = true) =>
    `| ${label} | ${fmt(x)} | ${fmt(y)} | ${ratioToo ? ratio(y, x) : ''} |`;
  return [
    `| Metric | ${peer} | ${ours} | ${ours} / ${peer} |`,
    '| --- | ---: | ---: | ---: |',
    row(
      `TCP throughput, 1 stream, median of ${n} × ${o.seconds} s`,
      median(a.tcp),
      median(b.tcp),
      fmtGbit,
    ),
    row(
      'iperf3 UDP 64-byte packets/s received by the server, median (bounded by the iperf3 client)',
      median(a.udp),
      median(b.udp),
      fmtKpps,
    ),
    row(
      '(UDP packets/s offered by the client, median)',
      median(a.udpSent),
      median(b.udpSent),
      fmtKpps,
      false,
    ),
    row(
      'Translator CPU per TCP MB, ms (user + system), median',
      median(a.tcpCpu),
      median(b.tcpCpu),
      (v) => fmtNum(v, 2),
    ),
    row(
      'Translator CPU per UDP packet received, µs, median',
      median(a.udpCpu),
      median(b.udpCpu),
      (v) => fmtNum(v, 1),
    ),
    row(
      '(UDP drops at the TUN device ÷ datagrams iperf3 counted lost, median)',
      median(a.udpTunShare),
      median(b.udpTunShare),
      fmtPct,
      false,
    ),
    ...genTests(o).flatMap(({ key, gen, rate }) => {
      const ga = a.gen.get(key) ?? [];
      const gb = b.gen.get(key) ?? [];
      if (ga.length === 0 || gb.length === 0) return [];
      const med = (runs: GenRun[], f: (g: GenRun) => number) => median(runs.map(f));
      const rows = [
        row(
          `${gen} UDP 64 B, ${key}: packets/s forwarded to the server, median of ${ga.length}`,
          med(ga, (g) => g.forwarded),
          med(gb, (g) => g.forwarded),
          fmtKpps,
        ),
        row(
          `(${key}: packets/s offered at the gateway, median)`,
          med(ga, (g) => g.offered),
          med(gb, (g) => g.offered),
          fmtKpps,
          false,
        ),
      ];
      if (rate !== null)
        rows.push(
          row(
            `(${key}: share lost, median)`,
            med(ga, (g) => 1 - g.forwarded / g.offered),
            med(gb, (g) => 1 - g.forwarded / g.offered),
            (v) => (Number.isFinite(v) ? `${(Math.max(0, v) * 100).toFixed(1)} %` : '-'),
            false,
          ),
        );
      rows.push(
        row(
          `${key}: translator process CPU per forwarded packet, µs, median`,
          med(ga, (g) => g.cpuUs),
          med(gb, (g) => g.cpuUs),
          (v) => fmtNum(v, 2),
        ),
      );
      if (o.pin)
        rows.push(
          row(
            `${key}: all of CPU 1 per forwarded packet, µs, median`,
            med(ga, (g) => g.cpu1Us),
            med(gb, (g) => g.cpu1Us),
            (v) => fmtNum(v, 2),
          ),
        );
      return rows;
    }),
  ].join('\n');
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
  const gen = o.genFlows.length + o.genSendto.length + o.genRates.length > 0;
  for (const tool of [
    'ip',
    'iperf3',
    'tayga',
    'ping',
    'nft',
    'ethtool',
    ...(gen ? ['trafgen'] : []),
    ...(o.genGso.length > 0 ? ['python3'] : []),
    ...(o.pin ? ['taskset'] : []),
  ])
    if (!which(tool))
      throw new Error(
        `missing ${tool} (apt-get install iproute2 iperf3 tayga nftables ethtool netsniff-ng)`,
      );
  if (!existsSync(join(pkg, 'build/Release/tun.node')))
    throw new Error('nat64d addon not built: npm run build -w nat64d');
  // Compile the daemon as the integration tests do (bin/nat64d.js runs dist/).
  sh(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', pkg], 120_000);

  writeFileSync(join(tmp, 'tayga.conf'), TAYGA_CONF);
  writeFileSync(join(tmp, 'nat64d.conf'), TAYGA_CONF);
  writeFileSync(join(tmp, 'pool4.conf'), POOL4_CONF);
  buildTopology();
  const iperfServer = spawnNs(
    NS.server,
    ['iperf3', '-s', '-J', '-B', SERVER4, '-p', PORT],
    o.pin ? 0 : null,
  );
  await sleep(300);
  if (iperfServer.child.exitCode !== null)
    throw new Error(`iperf3 server: ${iperfServer.output()}`);

  const order: Translator[] = o.only
    ? [o.only]
    : o.mode === 'stateless'
      ? [...STATELESS]
      : o.mode === 'stateful'
        ? [...STATEFUL]
        : [...ALL];
  const results = Object.fromEntries(ALL.map((t) => [t, emptyResults()])) as Record<
    Translator,
    Results
  >;
  const started = new Date();
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of order) {
      const running = await startTranslator(t, o);
      try {
        const cpu0 = cpuSeconds(running.pid);
        const tcp = tcpRun(o.seconds, o);
        const tcpCpu = ((cpuSeconds(running.pid) - cpu0) * 1000) / ((tcp * o.seconds) / 8e6);
        const udp = udpRun(o.seconds, o, running.pid);
        const r = results[t];
        r.tcp.push(tcp);
        r.tcpCpu.push(tcpCpu);
        r.udp.push(udp.rx);
        r.udpSent.push(udp.tx);
        r.udpCpu.push(udp.cpuUs);
        r.udpTunShare.push(udp.lost > 0 ? udp.tunDropped / udp.lost : NaN);
        process.stdout.write(
          `round ${round}/${o.rounds} ${t.padEnd(12)}  TCP ${fmtGbit(tcp)} (${fmtNum(tcpCpu, 2)} ms CPU/MB)  ` +
            `UDP rx ${fmtKpps(udp.rx)} (tx ${fmtKpps(udp.tx)}, ${fmtNum(udp.cpuUs, 1)} µs CPU/pkt; ` +
            `lost ${udp.lost}: tun ${udp.tunDropped}, server rcvbuf ${udp.serverRcvbuf})\n`,
        );
        if (genTests(o).length > 0) setGro(o, true);
        for (const test of genTests(o)) {
          const g = await genRun(o, running.pid, test.flows, test.rate, test.kind);
          const runs = r.gen.get(test.key) ?? [];
          runs.push(g);
          r.gen.set(test.key, runs);
          process.stdout.write(
            `round ${round}/${o.rounds} ${t.padEnd(12)}  ${test.gen} ${test.key}: forwarded ${fmtKpps(g.forwarded)} ` +
              `of ${fmtKpps(g.offered)} offered at the gateway (${fmtKpps(g.tunDropped)} TUN drops), ` +
              `${fmtNum(g.cpuUs, 2)} µs process CPU/pkt, ${fmtNum(g.cpu1Us, 2)} µs CPU 1/pkt\n`,
          );
        }
      } finally {
        setGro(o, false);
        await running.stop();
      }
    }
  }

  const m = machineInfo();
  const v = versions();
  const pairs: Array<[Translator, Translator]> = [];
  if (order.includes('tayga') && order.includes('nat64d')) pairs.push(['tayga', 'nat64d']);
  if (order.includes('tayga-masq') && order.includes('nat64d-pool4'))
    pairs.push(['tayga-masq', 'nat64d-pool4']);
  const out = pairs.map(([a, b]) => table(results, o, a, b)).join('\n\n');
  process.stdout.write(`\n${out}\n`);
  const cmd = `npm run bench:nat64${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const block = [
    `Last run: ${started.toISOString().replace(/\.\d+Z$/, 'Z')}, \`${cmd}\` ` +
      `(${o.rounds} interleaved round(s), ${o.seconds} s per iperf3 run).`,
    '',
    `Machine: ${m.nproc} CPUs (nproc), ${m.cpu}, Linux ${m.kernel}, Node ${m.node}; ` +
      `tayga ${v.tayga}, iperf3 ${v.iperf3}, netsniff-ng (trafgen) ${v.netsniff}. ` +
      (o.pin
        ? 'CPU affinity: translator on CPU 1, both iperf3 ends and trafgen on CPU 0 (same for both).'
        : 'CPU affinity: none (no pinning, for either translator).'),
    '',
    out,
    '',
    'Topology: IPv6-only client ns — veth — gateway ns (translator on TUN `nat64`, forwarding) ' +
      '— veth — IPv4-only server ns; client 2001:db8:1::2 reaches 203.0.113.2 as ' +
      '2001:db8:64::cb00:7102. Stateless pair: the same tayga.conf (`prefix 2001:db8:64::/96`, ' +
      '`ipv4-addr 198.51.100.1`, `dynamic-pool 198.18.0.0/24`) for both. Stateful pair: ' +
      '`tayga-masq` is Tayga with that file plus an nftables `masquerade` of 198.18.0.0/24 on the ' +
      "gateway's IPv4 side (the server sees 203.0.113.1); `nat64d-pool4` is nat64d with " +
      '`pool4 198.51.100.8 61000-65535` instead of the dynamic pool (the server sees ' +
      '198.51.100.8). TCP: `iperf3 -c … -t S`, receiver bit rate. ' +
      `UDP: \`iperf3 -u -l 64 -b 0${o.udpBuffer === '0' ? '' : ` -w ${o.udpBuffer}`} -t S\` ` +
      "(socket buffers at both ends, so that the server's is not what loses datagrams), " +
      `TUN transmit queue ${o.tunQueue === null ? "as each translator leaves it (Tayga: the kernel's 500; nat64d: its tun-queue-len, 4096)" : `${o.tunQueue} for every translator (--tun-queue)`}; ` +
      'packets received per second as reported by the server (packets − lost over its seconds). ' +
      "CPU: the translator process's user + system time (/proc/PID/stat) over the run, per " +
      'megabyte or per packet received: the figure that depends least on how busy the ' +
      'rest of the machine is (it still grows when the translator shares its CPU, from cache and ' +
      "scheduling). Lost datagrams: the TUN device's TX drops (the kernel could not " +
      'queue a packet for the translator) against all that iperf3 counted lost (the rest were ' +
      "lost at the server's socket buffer, UdpRcvbufErrors, or on the way). On a quiet " +
      'machine the iperf3 UDP rows measure the iperf3 client (one core shared by both ends), ' +
      'not the translators: both carry about all it offers. The trafgen rows are the ' +
      'translator-bound test (RFC 8219 / RFC 2544: a tester faster than the device): trafgen ' +
      `(packet-mmap TX${o.pin ? ', on CPU 0' : ''}) sends IPv6 UDP datagrams with 64-byte payloads ` +
      'from the client to the translated server address as fast as it can (or at the stated ' +
      'rate), one flow (source port 40000) or 8 flows (ports 40000-40007, in turn); the server ' +
      'counts them with an nftables counter at its netdev ingress hook and drops them there ' +
      "(no socket). UDP segmentation offload is off on the gateway's server-side veth for every " +
      'translator, so each datagram leaves the gateway as its own frame, segmented on the ' +
      "gateway's CPU if the translator wrote a GSO batch. After 1 s of warm-up, counters are read " +
      `over ${o.genSeconds} s: forwarded = server counter; offered = frames received by the ` +
      "gateway's client-side veth (before GRO, the same count for every translator); CPU = the " +
      'translator process (user + system) and, pinned, all of CPU 1 (process, softirqs, kernel ' +
      'threads, anything else scheduled there) per forwarded datagram. The "sendto" rows (and ' +
      "the fixed rates) use trafgen's sendto(2) path instead of the packet-mmap ring: a socket's " +
      "frames, which the gateway's veth hands to GRO (ring frames bypass it). " +
      (o.genGso.length > 0
        ? 'The "GSO sender" rows replace trafgen by a batching client that outruns both ' +
          `translators: bench/udp-gso-flood.py (python3${o.pin ? ', on CPU 0' : ''}) sends the ` +
          'same datagrams (same addresses, ports 9 and 40000 or 40000-40007, 64 bytes of 0x61) ' +
          `from ordinary UDP sockets with UDP_SEGMENT 64, one send(2) per run of ${GSO_RUN} ` +
          'datagrams of one flow (8 flows: 8 sockets, runs in turn), as QUIC stacks send; each ' +
          "run crosses the client's veth as one GSO packet, so offered = the gateway veth's RX " +
          `packets × ${GSO_RUN}. nat64d's TUN device takes each run whole; for Tayga the kernel ` +
          "segments it (on CPU 0, in the veth's receive thread) before its TUN device. These " +
          'rows measure each translator fed by a batching client, not per-packet arrivals (the ' +
          'trafgen rows). '
        : '') +
      (o.gro
        ? 'During the trafgen tests (not the iperf3 ones, whose two ends share CPU 0 with the ' +
          "veth's receive thread), UDP GRO forwarding is on on the gateway's client-side veth for every translator " +
          '(`ethtool -K gro on rx-udp-gro-forwarding on`, rx-gro-list off, threaded NAPI on CPU 0 so ' +
          'that the veth batches its receive as a NIC does): the kernel merges runs of ' +
          "same-flow datagrams; nat64d's TUN device takes them whole (UDP GSO, TUN_F_USO6, " +
          "Linux >= 6.2) and translates each run once; Tayga's does not negotiate UDP GSO, so " +
          'the kernel splits each run again before its TUN device.'
        : "UDP GRO forwarding is off on the gateway's veths (--no-gro)."),
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
