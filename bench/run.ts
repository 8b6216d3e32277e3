/**
 * `npm run bench`: this project's resolver against Unbound (dns64 module) on the same machine.
 * Starts BIND (authoritative bench.test), a UDP delay relay in front of it, dnsdist (DoH upstream),
 * Unbound, a second dnsdist with a packet cache in front of Unbound (the cached-DoH peer), the
 * self-hosted Node server and the worker in `wrangler dev`, measures, prints a table and writes
 * BENCHMARKS.md. `--quick` for a short smoke run; see bench/README.md.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  H1Client,
  H2cClient,
  ZONE,
  dohPath,
  pool,
  query,
  readAnswer,
  synthesized,
  timed,
  udpQuery,
} from './dns';
import { type LoadResult, h2load, median } from './h2load';
import {
  type Proc,
  cleanup,
  cpuTicks,
  groupMembers,
  installCleanupHandlers,
  sleep,
  tempDir,
} from './procs';
import { type BenchSettings, type Measurements, writeReport } from './report';
import {
  ROOT,
  type Server,
  missingCommands,
  startBind,
  startDnsdist,
  startDnsdistCache,
  startNodeServer,
  startRelay,
  startUnbound,
  startWrangler,
} from './servers';

interface Settings extends BenchSettings {
  readonly quick: boolean;
}

function settings(argv: readonly string[]): Settings & { out: string; profile: string | null } {
  const quick = argv.includes('--quick');
  const out = argv.includes('--no-write')
    ? ''
    : join(ROOT, quick ? 'BENCHMARKS.quick.md' : 'BENCHMARKS.md');
  const pi = argv.indexOf('--profile');
  const profile = pi >= 0 ? (argv[pi + 1] ?? join(ROOT, 'bench', 'profiles')) : null;
  const common = { clients: 4, streams: 16, oneWayDelayMs: 10, out, profile, quick };
  if (quick) {
    return {
      ...common,
      zoneNames: 2000,
      hotNames: 1600,
      runs: 2,
      seconds: 3,
      warmUpSeconds: 1,
      misses: 20,
      rttProbes: 20,
      cpuHits: 2000,
      cpuMisses: 200,
      cpuRuns: 1,
    };
  }
  return {
    ...common,
    zoneNames: 10_000,
    hotNames: 8_000,
    runs: 5,
    seconds: 8,
    warmUpSeconds: 2,
    misses: 120,
    rttProbes: 60,
    cpuHits: 20_000,
    cpuMisses: 2_000,
    cpuRuns: 3,
  };
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const ticksToMicros = (ticks: number) => (ticks * 1e6) / CLK_TCK;

const say = (line: string) => console.log(line);

/** Datagrams the relay has passed to BIND so far (it prints `count N` on SIGUSR2). */
async function upstreamCount(relay: Proc): Promise<number> {
  const before = relay.log().length;
  relay.child.kill('SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(20);
    const m = /count (\d+)\n/.exec(relay.log().slice(before));
    if (m) return Number(m[1]);
  }
  throw new Error('the relay did not report its count');
}

/** Checks that a DoH server answers h0 AAAA with the synthesized address and A with the A. */
async function validate(name: string, server: Server): Promise<void> {
  const c = new H2cClient(server.port);
  try {
    const aaaa = await c.get(dohPath(`h0.${ZONE}`, 'AAAA'));
    const got = aaaa.status === 200 ? readAnswer(aaaa.body) : null;
    if (!got || got.rcode !== 'NOERROR' || got.addresses.join() !== synthesized(0)) {
      throw new Error(`${name}: h0.${ZONE} AAAA: HTTP ${aaaa.status} ${JSON.stringify(got)}`);
    }
    const miss = await c.get(dohPath(`check-${randomBytes(4).toString('hex')}.${ZONE}`));
    const m = miss.status === 200 ? readAnswer(miss.body) : null;
    if (!m || m.addresses.join() !== '2001:db8:64::c613:ff01') {
      throw new Error(`${name}: wildcard AAAA: HTTP ${miss.status} ${JSON.stringify(m)}`);
    }
  } finally {
    c.close();
  }
}

/** Asks every path once over h2c, `concurrency` at a time (fills a cache). */
async function warm(server: Server, paths: readonly string[], concurrency: number): Promise<void> {
  const c = new H2cClient(server.port);
  let bad = 0;
  try {
    await pool(paths, concurrency, async (p) => {
      const r = await c.get(p).catch(() => ({ status: 0 }));
      if (r.status !== 200) bad++;
    });
  } finally {
    c.close();
  }
  if (bad > 0) throw new Error(`warming: ${bad} of ${paths.length} requests failed`);
}

/**
 * One upstream round trip, measured three ways: a UDP query to BIND through the relay (what
 * Unbound's iterator does), dig's Query time for the same, and one DoH exchange with dnsdist for
 * a never-seen name (what this project's resolver does: POST over a kept-alive HTTP/1.1
 * connection, dnsdist then asking BIND through the relay).
 */
async function rtt(
  relayPort: number,
  dnsdistPort: number,
  probes: number,
  token: string,
): Promise<{ udp: number; dig: number; doh: number }> {
  const doh: number[] = [];
  const h1 = new H1Client(dnsdistPort, 1);
  await h1.post('/dns-query', query(`h0.${ZONE}`, 'A')); // the connection up
  for (let i = 0; i < probes; i++) {
    const [res, ms] = await timed(() =>
      h1.post('/dns-query', query(`r${i}-${token}.${ZONE}`, 'A')),
    );
    if (res.status !== 200) throw new Error(`dnsdist DoH probe: HTTP ${res.status}`);
    doh.push(ms);
  }
  h1.close();
  const udp: number[] = [];
  for (let i = 0; i < probes; i++) {
    const [, ms] = await timed(() => udpQuery(relayPort, query(`h${i}.${ZONE}`, 'A')));
    udp.push(ms);
  }
  const dig: number[] = [];
  for (let i = 0; i < Math.min(probes, 20); i++) {
    const out = execFileSync('dig', [
      '+tries=1',
      '+time=2',
      '-p',
      String(relayPort),
      '@127.0.0.1',
      `h${i}.${ZONE}`,
      'A',
    ]).toString();
    const m = /Query time: (\d+) msec/.exec(out);
    if (m) dig.push(Number(m[1]));
  }
  return { udp: median(udp), dig: median(dig), doh: median(doh) };
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const s = settings(process.argv.slice(2));
  // A hard bound on the whole run, whatever hangs.
  const limitMs = (s.quick ? 4 : 14) * 60_000;
  setTimeout(() => {
    console.error(`\nbenchmark exceeded ${limitMs / 60_000} minutes: stopping`);
    void cleanup().finally(() => process.exit(1));
  }, limitMs).unref();
  const missing = missingCommands();
  if (missing.length > 0) throw new Error(`missing commands: ${missing.join(', ')}`);
  const started = Date.now();
  const dir = tempDir('run');
  const token = randomBytes(4).toString('hex');

  say(
    `dns64-edge benchmark${s.quick ? ' (--quick)' : ''}: ${cpus().length} CPUs, ${s.zoneNames} names`,
  );
  const bind = await startBind(s.zoneNames);
  const relay = await startRelay(bind.port, s.oneWayDelayMs);
  const dnsdist = await startDnsdist(relay.port);
  const unbound = await startUnbound(relay.port, 1);
  const dnsdistCache = await startDnsdistCache(unbound.dnsPort);
  const nodeArgs = s.profile ? ['--cpu-prof', `--cpu-prof-dir=${s.profile}`] : [];
  if (s.profile) mkdirSync(s.profile, { recursive: true });
  const upstream = `http://127.0.0.1:${dnsdist.port}/dns-query`;
  const node = await startNodeServer(upstream, nodeArgs);
  say(
    `started: BIND :${bind.port}, relay :${relay.port} (+${s.oneWayDelayMs} ms each way), ` +
      `dnsdist :${dnsdist.port}, Unbound :${unbound.port}, ` +
      `dnsdist cache :${dnsdistCache.port} (in front of Unbound), Node server :${node.port}`,
  );
  // (b) compares the two resolvers; (a) adds dnsdist's packet cache in front of Unbound.
  const targets: [string, Server][] = [
    ['Unbound', unbound],
    ['Node server', node],
  ];
  const peers: [string, Server][] = [
    ['Unbound', unbound],
    ['dnsdist cache', dnsdistCache],
    ['Node server', node],
  ];
  for (const [name, server] of peers) await validate(name, server);
  say('all three answer h0.bench.test AAAA with the synthesized address');

  // (b) first, while both caches are cold for the miss names.
  const pathRtt = await rtt(relay.port, dnsdist.port, s.rttProbes, token);
  say(
    `upstream RTT through the relay: ${pathRtt.udp.toFixed(2)} ms (UDP probe), dig ${pathRtt.dig} ms, ` +
      `DoH to dnsdist ${pathRtt.doh.toFixed(2)} ms`,
  );
  const missMs: Record<string, number[]> = { Unbound: [], 'Node server': [] };
  const clients = targets.map(([name, server]) => [name, new H2cClient(server.port)] as const);
  for (const [, c] of clients) await c.get(dohPath(`h1.${ZONE}`)); // connections up
  for (let i = 0; i < s.misses; i++) {
    const path = dohPath(`m${i}-${token}.${ZONE}`);
    for (const [name, c] of i % 2 ? [...clients].reverse() : clients) {
      const [res, ms] = await timed(() => c.get(path));
      if (res.status !== 200) throw new Error(`${name}: miss query: HTTP ${res.status}`);
      missMs[name]!.push(ms);
    }
  }
  for (const [, c] of clients) c.close();
  say(
    `cache miss, median of ${s.misses}: Unbound ${median(missMs.Unbound!).toFixed(2)} ms, ` +
      `Node server ${median(missMs['Node server']!).toFixed(2)} ms`,
  );

  // (a) cached AAAA synthesis.
  const hot = Array.from({ length: s.hotNames }, (_, i) => dohPath(`h${i}.${ZONE}`));
  for (const [name, server] of peers) {
    const [, ms] = await timed(() => warm(server, hot, 64));
    await warm(server, hot, 64); // a second pass: every name is now a hit
    say(`warmed ${name}: ${hot.length} names in ${(ms / 1000).toFixed(1)} s`);
  }
  const load: Record<string, LoadResult[]> = Object.fromEntries(peers.map(([n]) => [n, []]));
  const cpuPerHit: Record<string, number[]> = Object.fromEntries(peers.map(([n]) => [n, []]));
  let upstreamDuringLoad = 0;
  for (let run = 0; run < s.runs; run++) {
    // Rotate the order so that drifting background load hits all three alike.
    const order = [...peers.slice(run % peers.length), ...peers.slice(0, run % peers.length)];
    for (const [name, server] of order) {
      const count0 = await upstreamCount(relay.proc);
      const cpu0 = cpuTicks(server.proc.child.pid!);
      const r = await h2load({
        port: server.port,
        paths: hot,
        clients: s.clients,
        streams: s.streams,
        seconds: s.seconds,
        warmUpSeconds: s.warmUpSeconds,
        dir,
        tag: `${name.replace(/\W/g, '')}-${run}`,
      });
      const cpu = ticksToMicros(cpuTicks(server.proc.child.pid!) - cpu0);
      upstreamDuringLoad += (await upstreamCount(relay.proc)) - count0;
      if (r.failed > 0) throw new Error(`${name}: ${r.failed} of ${r.requests} requests failed`);
      load[name]!.push(r);
      // CPU over warm-up + measurement, per request of the measured part scaled to that time.
      const perReq = cpu / (r.rps * (s.seconds + s.warmUpSeconds));
      cpuPerHit[name]!.push(perReq);
      say(
        `run ${run + 1}/${s.runs} ${name.padEnd(13)} ${r.rps.toFixed(0).padStart(7)} req/s  ` +
          `p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ~${perReq.toFixed(0)} us CPU/req`,
      );
    }
  }

  const rpsOf = (name: string) => median(load[name]!.map((r) => r.rps));
  const [u, d, n] = ['Unbound', 'dnsdist cache', 'Node server'].map(rpsOf) as [
    number,
    number,
    number,
  ];
  say(
    `cached AAAA, median req/s: Unbound ${u.toFixed(0)}, dnsdist cache ${d.toFixed(0)}, ` +
      `Node server ${n.toFixed(0)}: ${(n / u).toFixed(2)}x Unbound, ${(n / d).toFixed(2)}x dnsdist cache`,
  );

  // (c) CPU per query inside workerd: the in-runtime microbenchmark, then all of wrangler dev.
  say('running bench/workerd-cpu.bench.ts inside workerd ...');
  const inRuntime = await inRuntimeCpu();
  say(
    `worker CPU inside workerd: hit ${inRuntime.hit.toFixed(1)} us, miss ${inRuntime.miss.toFixed(1)} us ` +
      `(${inRuntime.missNet.toFixed(1)} us less the fake upstream)`,
  );
  say('starting wrangler dev ...');
  const wrangler = await startWrangler(upstream);
  const h1 = new H1Client(wrangler.port, 16);
  const workerHot = hot.slice(0, Math.min(2000, hot.length));
  await pool(workerHot, 16, async (p) => void (await h1.get(p)));
  const check = await h1.get(dohPath(`h0.${ZONE}`));
  if (check.status !== 200 || readAnswer(check.body).addresses.join() !== synthesized(0)) {
    throw new Error(`wrangler dev: h0 AAAA: HTTP ${check.status}`);
  }
  const workerd = groupMembers(wrangler.proc.child.pid!, 'workerd');
  if (workerd.length === 0) throw new Error('no workerd process found under wrangler dev');
  const sumTicks = (pids: readonly number[]) => pids.reduce((t, p) => t + cpuTicks(p), 0);
  const idle0 = sumTicks(workerd);
  await sleep(3000);
  const idlePerSec = ticksToMicros(sumTicks(workerd) - idle0) / 3;
  const workerHit: number[] = [];
  const workerMiss: number[] = [];
  const workerMissMs: number[] = [];
  const hitPaths = Array.from({ length: s.cpuHits }, (_, i) => workerHot[i % workerHot.length]!);
  for (let run = 0; run < s.cpuRuns; run++) {
    let bad = 0;
    const t0 = sumTicks(workerd);
    const [, hitMs] = await timed(() =>
      pool(hitPaths, 16, async (p) => void ((await h1.get(p)).status !== 200 && bad++)),
    );
    const t1 = sumTicks(workerd);
    const missPaths = Array.from({ length: s.cpuMisses }, (_, i) =>
      dohPath(`w${run}-${i}-${token}.${ZONE}`),
    );
    const [, missWall] = await timed(() =>
      pool(missPaths, 16, async (p) => void ((await h1.get(p)).status !== 200 && bad++)),
    );
    const t2 = sumTicks(workerd);
    if (bad > 0) throw new Error(`wrangler dev: ${bad} requests failed`);
    workerHit.push(ticksToMicros(t1 - t0) / s.cpuHits);
    workerMiss.push(ticksToMicros(t2 - t1) / s.cpuMisses);
    say(
      `workerd run ${run + 1}/${s.cpuRuns}: hit ${workerHit.at(-1)!.toFixed(0)} us CPU ` +
        `(${((s.cpuHits / hitMs) * 1000).toFixed(0)} req/s), miss ${workerMiss.at(-1)!.toFixed(0)} us CPU ` +
        `(${((s.cpuMisses / missWall) * 1000).toFixed(0)} req/s)`,
    );
  }
  for (let i = 0; i < Math.min(s.misses, 40); i++) {
    const [res, ms] = await timed(() => h1.get(dohPath(`s${i}-${token}.${ZONE}`)));
    if (res.status === 200) workerMissMs.push(ms);
  }
  h1.close();
  await wrangler.proc.stop();

  // The floor: the same hits against a worker that only returns a fixed answer.
  const noop = await startWrangler(upstream, true);
  const h1noop = new H1Client(noop.port, 16);
  const noopProcs = groupMembers(noop.proc.child.pid!, 'workerd');
  await pool(workerHot, 16, async (p) => void (await h1noop.get(p)));
  const floor: number[] = [];
  for (let run = 0; run < s.cpuRuns; run++) {
    const t0 = sumTicks(noopProcs);
    await pool(hitPaths, 16, async (p) => void (await h1noop.get(p)));
    floor.push(ticksToMicros(sumTicks(noopProcs) - t0) / s.cpuHits);
  }
  h1noop.close();
  await noop.proc.stop();
  say(
    `workerd CPU per request for a worker that returns a fixed answer: ${median(floor).toFixed(0)} us`,
  );

  const m: Measurements = {
    quick: s.quick,
    command: s.quick ? 'npm run bench -- --quick' : 'npm run bench',
    settings: s,
    machine: machine(),
    versions: versions(),
    rtt: pathRtt,
    missMs: {
      unbound: median(missMs.Unbound!),
      node: median(missMs['Node server']!),
      worker: median(workerMissMs),
    },
    load: {
      unbound: load.Unbound!,
      dnsdist: load['dnsdist cache']!,
      node: load['Node server']!,
    },
    cpuPerCachedQuery: {
      unbound: median(cpuPerHit.Unbound!),
      dnsdist: median(cpuPerHit['dnsdist cache']!),
      node: median(cpuPerHit['Node server']!),
    },
    upstreamDuringLoad,
    inRuntime,
    workerd: {
      processes: workerd.length,
      hit: median(workerHit),
      miss: median(workerMiss),
      hitRuns: workerHit,
      missRuns: workerMiss,
      idlePerSec,
      floor: median(floor),
    },
    seconds: (Date.now() - started) / 1000,
  };
  const table = writeReport(m, s.out);
  say('');
  say(table);
  if (s.out) say(`\nwritten to ${s.out}`);
}

/** `npm run bench:cpu`, read from the WORKERD-CPU line it prints. */
async function inRuntimeCpu(): Promise<Measurements['inRuntime']> {
  const vitest = join(ROOT, 'node_modules', '.bin', 'vitest');
  const args = ['run', '--config', 'vitest.bench.config.ts', 'bench/workerd-cpu.bench.ts'];
  const out = await new Promise<string>((resolve, reject) =>
    execFile(vitest, args, { cwd: ROOT, timeout: 10 * 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`bench:cpu: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
    ),
  );
  const field = (key: string) => Number(new RegExp(`${key}=([\\d.]+)`).exec(out)?.[1]);
  const result = {
    hit: field('hit_us'),
    miss: field('miss_us'),
    missNet: field('miss_minus_fake_upstream_us'),
  };
  if (!Object.values(result).every(Number.isFinite)) {
    throw new Error(`bench:cpu printed no WORKERD-CPU line:\n${out}`);
  }
  return result;
}

function machine(): Measurements['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: execFileSync('nproc').toString().trim(),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    kernel: execFileSync('uname', ['-sr']).toString().trim(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

function versions(): Record<string, string> {
  const first = (cmd: string, args: string[], re: RegExp) => {
    try {
      const out = execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      return re.exec(out)?.[1] ?? out.split('\n')[0]!;
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer };
      const text = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`;
      return re.exec(text)?.[1] ?? 'unknown';
    }
  };
  return {
    unbound: first('unbound', ['-V'], /Version (\S+)/),
    bind: first('named', ['-v'], /BIND (\S+)/),
    dnsdist: first('dnsdist', ['--version'], /dnsdist (\S+)/),
    h2load: first('h2load', ['--version'], /nghttp2\/(\S+)/),
    node: process.version,
  };
}

void main()
  .then(
    () => 0,
    (err: unknown) => {
      console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  });
