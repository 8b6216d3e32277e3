import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PREFIX, ZONE } from './dns';
import { PACKET_CACHE_ENTRIES } from './servers';
import type { LoadResult } from './h2load';
import { median } from './h2load';

/** What one `npm run bench` run does: sizes, counts and durations. */
export interface BenchSettings {
  /** Names in the zone, and how many of them the throughput test cycles through. */
  readonly zoneNames: number;
  readonly hotNames: number;
  readonly runs: number;
  readonly seconds: number;
  readonly warmUpSeconds: number;
  readonly clients: number;
  readonly streams: number;
  /** Sequential never-seen names per resolver. */
  readonly misses: number;
  readonly rttProbes: number;
  readonly oneWayDelayMs: number;
  readonly cpuHits: number;
  readonly cpuMisses: number;
  readonly cpuRuns: number;
}

export interface Measurements {
  readonly quick: boolean;
  readonly command: string;
  readonly settings: BenchSettings;
  readonly machine: {
    readonly nproc: string;
    readonly cpu: string;
    readonly kernel: string;
    readonly date: string;
    readonly load: string;
  };
  readonly versions: Record<string, string>;
  /**
   * One upstream round trip (medians, ms): a UDP query to BIND through the relay, dig's Query
   * time for the same, and a DoH exchange with dnsdist (this project's upstream).
   */
  readonly rtt: { readonly udp: number; readonly dig: number; readonly doh: number };
  readonly missMs: { readonly unbound: number; readonly node: number; readonly worker: number };
  /** (a) per run; `dnsdist` is the cached-DoH peer (dnsdist's packet cache in front of Unbound). */
  readonly load: {
    readonly unbound: LoadResult[];
    readonly dnsdist: LoadResult[];
    readonly node: LoadResult[];
  };
  readonly cpuPerCachedQuery: {
    readonly unbound: number;
    readonly dnsdist: number;
    readonly node: number;
  };
  readonly upstreamDuringLoad: number;
  /** bench/workerd-cpu.bench.ts inside workerd: us per hit, per miss, per miss less the fake upstream. */
  readonly inRuntime: { readonly hit: number; readonly miss: number; readonly missNet: number };
  readonly workerd: {
    readonly processes: number;
    readonly hit: number;
    readonly miss: number;
    readonly hitRuns: number[];
    readonly missRuns: number[];
    readonly idlePerSec: number;
    /** CPU per request of bench/noop-worker.ts in wrangler dev, us. */
    readonly floor: number;
  };
  readonly seconds: number;
}

/** Issue 11: cached AAAA throughput at least Unbound's, a miss within 1.15x one upstream round trip. */
export const TARGETS = {
  throughputRatio: 1.0,
  missRttRatio: 1.15,
  workerHitMicros: 50,
  workerMissMicros: 200,
};

const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const met = (ok: boolean) => (ok ? 'met' : '**missed**');

function table(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows;
  return [
    `| ${head!.join(' | ')} |`,
    `|${head!.map(() => ' --- ').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The results table (printed and in BENCHMARKS.md); writes BENCHMARKS.md unless `out` is ''. */
export function writeReport(m: Measurements, out: string): string {
  const s = m.settings;
  const medianOf = (key: 'rps' | 'p50' | 'p99') => ({
    u: median(m.load.unbound.map((r) => r[key])),
    d: median(m.load.dnsdist.map((r) => r[key])),
    n: median(m.load.node.map((r) => r[key])),
  });
  const rps = medianOf('rps');
  const p50 = medianOf('p50');
  const p99 = medianOf('p99');
  const cpu = m.cpuPerCachedQuery;
  /** This project's figure over Unbound's and over the dnsdist peer's. */
  const ratios = (v: { u: number; d: number; n: number }) =>
    `${f(v.n / v.u)}x Unbound, ${f(v.n / v.d)}x dnsdist cache`;
  const rtt = m.rtt.udp;
  const results = table([
    ['measure', 'Unbound', 'dnsdist cache', 'this project', 'ratio', 'target', ''],
    [
      `(a) cached AAAA synthesis, req/s (median of ${s.runs})`,
      f(rps.u, 0),
      f(rps.d, 0),
      f(rps.n, 0),
      ratios(rps),
      `>= ${f(TARGETS.throughputRatio, 1)}x Unbound`,
      met(rps.n / rps.u >= TARGETS.throughputRatio),
    ],
    ['(a) latency under that load, p50 ms', f(p50.u), f(p50.d), f(p50.n), ratios(p50), '', ''],
    ['(a) latency under that load, p99 ms', f(p99.u), f(p99.d), f(p99.n), ratios(p99), '', ''],
    [
      '(a) server CPU per cached query, us (approx.)',
      f(cpu.unbound, 0),
      f(cpu.dnsdist, 0),
      f(cpu.node, 0),
      ratios({ u: cpu.unbound, d: cpu.dnsdist, n: cpu.node }),
      '',
      '',
    ],
    [
      `(b) cache miss, ms (median of ${s.misses} sequential)`,
      f(m.missMs.unbound),
      '',
      f(m.missMs.node),
      `${f(m.missMs.node / m.rtt.doh)}x its upstream RTT (${f(m.missMs.node / rtt)}x the UDP RTT; Unbound ${f(m.missMs.unbound / rtt)}x)`,
      `<= ${TARGETS.missRttRatio}x RTT`,
      met(m.missMs.node / m.rtt.doh <= TARGETS.missRttRatio),
    ],
    [
      `(b) one upstream round trip, ms (median of ${s.rttProbes}): UDP to BIND / DoH to the upstream dnsdist`,
      f(rtt),
      '',
      f(m.rtt.doh),
      `dig: ${f(m.rtt.dig, 0)} ms`,
      '',
      '',
    ],
    [
      '(b) cache miss via the worker in wrangler dev, ms',
      '',
      '',
      f(m.missMs.worker),
      `${f(m.missMs.worker / m.rtt.doh)}x its upstream RTT`,
      '',
      '',
    ],
    [
      '(c) worker CPU per cache hit inside workerd, us (bench/workerd-cpu.bench.ts)',
      '',
      '',
      f(m.inRuntime.hit, 1),
      `${f(m.inRuntime.hit / TARGETS.workerHitMicros)}x target`,
      `<= ${TARGETS.workerHitMicros} us`,
      met(m.inRuntime.hit <= TARGETS.workerHitMicros),
    ],
    [
      '(c) worker CPU per cache miss inside workerd, us (less the fake upstream)',
      '',
      '',
      f(m.inRuntime.missNet, 1),
      `${f(m.inRuntime.missNet / TARGETS.workerMissMicros)}x target (${f(m.inRuntime.miss, 0)} us with it)`,
      `<= ${TARGETS.workerMissMicros} us`,
      met(m.inRuntime.missNet <= TARGETS.workerMissMicros),
    ],
    [
      `(c') all of workerd per hit through wrangler dev, us (median of ${s.cpuRuns} x ${s.cpuHits})`,
      '',
      '',
      f(m.workerd.hit, 0),
      `hit - floor: ${f(m.workerd.hit - m.workerd.floor, 0)} us`,
      '',
      '',
    ],
    [
      `(c') all of workerd per miss through wrangler dev, us (median of ${s.cpuRuns} x ${s.cpuMisses})`,
      '',
      '',
      f(m.workerd.miss, 0),
      `miss - floor: ${f(m.workerd.miss - m.workerd.floor, 0)} us`,
      '',
      '',
    ],
    [
      "(c') the same for a worker returning a fixed answer (wrangler dev's floor), us",
      '',
      '',
      f(m.workerd.floor, 0),
      '',
      '',
      '',
    ],
  ]);
  if (!out) return results;

  const runs = table([
    ['run', 'Unbound req/s', 'p50', 'p99', 'dnsdist cache req/s', 'p50', 'p99'].concat([
      'Node server req/s',
      'p50',
      'p99',
      'Node / Unbound',
      'Node / dnsdist cache',
    ]),
    ...m.load.unbound.map((u, i) => {
      const [d, n] = [m.load.dnsdist[i]!, m.load.node[i]!];
      const cells = (r: LoadResult) => [f(r.rps, 0), f(r.p50), f(r.p99)];
      return [String(i + 1), ...cells(u), ...cells(d), ...cells(n)].concat([
        `${f(n.rps / u.rps)}x`,
        `${f(n.rps / d.rps)}x`,
      ]);
    }),
  ]);
  const v = m.versions;
  const doc = `Generated by \`${m.command}\` (bench/run.ts; how to run it and what it needs: [bench/README.md](bench/README.md)).
${m.quick ? '\n**This is a --quick smoke run: short runs, small name sets. Use `npm run bench` for figures.**\n' : ''}
### Machine

| nproc | CPU | kernel | date | load average at the end |
| --- | --- | --- | --- | --- |
| ${m.machine.nproc} | ${m.machine.cpu} | ${m.machine.kernel} | ${m.machine.date} | ${m.machine.load} |

Unbound ${v.unbound}, BIND ${v.bind}, dnsdist ${v.dnsdist}, h2load (nghttp2) ${v.h2load}, Node ${v.node}.
Whole run: ${f(m.seconds, 0)} s. The machine is shared (2 cores, other jobs running), so every figure is a
median and the comparison is a ratio measured in alternating runs.

To reproduce: \`npm ci\`, the Debian packages in bench/README.md, then

\`\`\`sh
${m.command}
\`\`\`

### Results

${results}

Targets (issue 11) are printed, not enforced; **missed** means the figure above is worse than the
target. "dnsdist cache" is not a DNS64 resolver but the mark to aim at for cached answers: dnsdist's
packet cache in front of the same Unbound (see Setup); the target is judged against Unbound.

Per run, (a) (h2load, ${s.clients} connections x ${s.streams} streams, ${s.seconds} s after ${s.warmUpSeconds} s warm-up):

${runs}

(c') through wrangler dev, workerd CPU per hit, per run (us): ${m.workerd.hitRuns.map((x) => f(x, 0)).join(', ')};
per miss: ${m.workerd.missRuns.map((x) => f(x, 0)).join(', ')}. ${m.workerd.processes} workerd process(es);
their idle CPU before the runs: ${f(m.workerd.idlePerSec / 1000, 1)} ms per second (not subtracted).

### What each number includes

- **Setup.** BIND is authoritative for \`bench.test\`: ${s.zoneNames} names \`h<i>\` with one A record in
  198.18.0.0/15 each and no AAAA, a wildcard \`*.bench.test\` for never-seen names, SOA negative TTL 300.
  Unbound (\`module-config: "dns64 iterator"\`, \`dns64-prefix: ${PREFIX}\`, \`dns64-synthall: no\`,
  one thread, DoH over cleartext HTTP/2) has bench.test as a stub zone. This project's self-hosted Node
  server (\`npm run serve\`, \`WORKERS=1\`, one process) uses dnsdist's plain-HTTP DoH as its upstream, and
  that dnsdist (no packet cache) asks BIND. Both resolvers reach BIND through the same UDP relay
  (bench/relay.ts), which holds every datagram ${s.oneWayDelayMs} ms each way. The relay replaces
  \`tc ... netem delay\`: this kernel is built without sch_netem (\`CONFIG_NET_SCH_NETEM is not set\`).
  The third peer in (a), "dnsdist cache", is a second dnsdist ${m.versions.dnsdist}, its defaults but for:
  \`addDOHLocal\` without a certificate (plain HTTP, which its h2o front end serves as HTTP/1.1 and as
  h2c with prior knowledge; h2load negotiates h2c), \`newPacketCache(${PACKET_CACHE_ENTRIES}, {maxTTL=86400, minTTL=0})\`
  on its default pool, and one backend: the same Unbound's plain DNS port over UDP (health check
  \`ns.${ZONE}\` A every 5 s). dnsdist does not synthesize AAAA; its answers are Unbound's DNS64 answers, and
  once cached dnsdist answers them alone (TTLs aged, the client's ID set). Its DoH front end is two
  threads (\`dnsdist/doh\`, h2o's event loop, and \`dnsdist/doh-cli\`, which runs the rules and the cache
  lookup), where Unbound and the Node server answer on one.
  Queries are DoH GET \`/dns-query?dns=\` (ID 0, RD, EDNS 1232) for AAAA, the same names for all.
- **(a) cached AAAA synthesis.** The three caches are filled with ${s.hotNames} names (asked twice), then
  h2load over h2c with the same ${s.clients} connections x ${s.streams} streams, one h2load thread, cycles through
  the same URI list for ${s.seconds} s after a ${s.warmUpSeconds} s warm-up; ${s.runs} runs each, the order of the
  three rotated by one each run. req/s is h2load's; p50/p99 come from h2load's per-request log (\`--log-file\`),
  so they are latencies at saturation (queueing included), not idle latencies. The name set is below the
  Node server's 10 000-entry LRU (src/cache). Queries that reached BIND during all measured runs: ${m.upstreamDuringLoad}
  (includes dnsdist's health checks every 5 s), so these are cache hits. "Server CPU per cached query" is
  the server process's utime+stime over the run divided by the requests (warm-up included, approximate).
  For dnsdist that is all of its threads (/proc/<pid>/stat sums them). h2load runs on the same 2 cores,
  so every server gets at most about one core; a multi-threaded server (dnsdist) can use what h2load
  leaves of both.
- **(b) cache miss.** Sequential single queries over one open h2c connection, each for a never-seen name
  under \`bench.test\` (the wildcard; one label below the zone cut, so no extra qname-minimisation step),
  alternating between the two resolvers. "One upstream round trip" is measured for each resolver's own
  upstream: for Unbound a UDP query to BIND through the relay (from Node, microsecond timer; \`dig\`'s Query
  time in whole ms beside it), for this project one DoH POST to dnsdist for a never-seen name over a
  kept-alive HTTP/1.1 connection (dnsdist then asks BIND through the same relay). The target is judged on
  the latter; the ratio to the bare UDP round trip is printed beside it. Unbound's dns64 module asks AAAA
  and only then A (two round trips); this project asks both at once (one round trip). The wrangler dev row
  goes through workerd's local dev server too.
- **(c) CPU per query inside workerd.** \`npm run bench:cpu\` (bench/workerd-cpu.bench.ts), run by this
  command: the worker's Hono app inside workerd itself (vitest's workers pool), hits on one cached name
  and misses on never-seen names answered by an in-process fake upstream whose own cost (a dns-packet
  decode and encode per question, measured in the same run) is subtracted. The clock advances during
  synchronous work in local workerd, so wall time per request on an idle core approximates CPU time.
  Medians of 5 batches. The targets are judged on these figures.
- **(c') all of workerd through wrangler dev.** The worker in \`wrangler dev\` (plain HTTP/1.1, keep-alive,
  16 connections), dnsdist as its upstream. Hits: ${s.cpuHits} requests over 2 000 names already in the
  isolate's LRU; misses: ${s.cpuMisses} never-seen names (upstream A and AAAA fetches, Cache API lookup
  and store). utime+stime of every workerd process of wrangler (from /proc/<pid>/stat, 10 ms ticks) before
  and after, divided by the requests. That includes HTTP parsing, wrangler's local proxy worker and
  miniflare's entry worker, the Cache API service and outgoing fetches, all inside workerd: an upper bound
  for the CPU time Cloudflare would bill for the worker itself. The "floor" row runs bench/noop-worker.ts
  (returns a fixed 64-byte answer, nothing else) in wrangler dev the same way: what wrangler dev and
  workerd cost per request before any resolver code runs.
`;
  writeSection(out, doc.trim());
  return results;
}

const BEGIN = '<!-- dns64-bench:begin (written by npm run bench) -->';
const END = '<!-- dns64-bench:end -->';
const HEADING = '## DNS64 resolver vs Unbound';

/** Replaces only this benchmark's block in `file` (other benchmarks write their own sections). */
function writeSection(file: string, block: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const generated = `${BEGIN}\n${block}\n${END}`;
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  let next: string;
  if (b >= 0 && e > b) next = text.slice(0, b) + generated + text.slice(e + END.length);
  else next = `${text.replace(/\n*$/, '\n')}\n${HEADING}\n\n${generated}\n`;
  writeFileSync(file, next);
}
