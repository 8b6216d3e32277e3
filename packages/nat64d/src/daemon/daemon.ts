/**
 * nat64d: reads tayga.conf, restores the dynamic table, opens the TUN device, configures the
 * host side (unless `tun-up no`), then translates until SIGTERM/SIGINT. SIGHUP reloads the
 * `map` lines. The dynamic table is saved shortly after each new mapping, every minute when
 * lookups refreshed it, and at exit.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import type { Server } from 'node:http';
import { parseListenAddress, readTaygaConf, toTranslatorConfig } from '../config/index.js';
import { formatIpv4, formatIpv4Net, formatIpv6, formatIpv6Net } from '../config/addr.js';
import { formatIssue } from '../config/errors.js';
import type { Nat64dConfig, StatefulSettings } from '../config/types.js';
import { COUNTER_NAMES, Translator } from '../core/index.js';
import {
  TaygaAddressMapper,
  dynamicMapPath,
  loadMappings,
  saveMappings,
  saveRejected,
} from '../mapping/index.js';
import { StatefulNat } from '../stateful/index.js';
import type { TunDevice } from '../tun/index.js';
import {
  ephemeralOverlap,
  hostIpv4Addresses,
  hostRanges,
  installSteering,
  readEphemeralRange,
  removeSteering,
} from './host-pool4.js';
import {
  interfaceCommands,
  ipv4Routes,
  mapRouteChanges,
  runIpCommands,
} from './interface-setup.js';
import type { Logger } from './log.js';
import { snakeCase, startMetricsServer, type Metric } from './metrics.js';
import { offloadTranslatorConfig, offloadWanted, openTun } from './offload.js';
import { PacketLoop } from './packet-loop.js';
import { Reporter, gatewayReport, type GatewayReport } from './reporter.js';
import { NAT64D_VERSION } from './version.js';
import { COUNTER_HELP } from './counter-help.js';
import { DropLog } from './drop-log.js';
import { configNotes, tunOpenError } from './preflight.js';

export interface DaemonOptions {
  readonly configFile: string;
  /** Overrides the config's `metrics` (`host:port` or `off`). */
  readonly metrics?: string | undefined;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** `-d`: log each drop reason (sampled, see drop-log.ts). */
  readonly debug?: boolean;
}

/** Room above the MTU in each read slot, so a full slot means a truncated read. */
const SLOT_HEADROOM = 64;
const SAVE_DELAY_MS = 1000;
const SAVE_INTERVAL_MS = 60_000;

export class Daemon {
  private config: Nat64dConfig;
  private readonly log: Logger;
  private readonly options: DaemonOptions;
  private readonly mapper: TaygaAddressMapper;
  private readonly translator: Translator;
  /** TCP/IPv6 offload wanted (see offload.ts); the device may still refuse it. */
  private readonly offload: boolean;
  /** Stateful NAT64 (RFC 6146) when the file has pool4 lines. */
  private readonly nat: StatefulNat | null;
  private mappingStream: WriteStream | null = null;
  private tun: TunDevice | null = null;
  private loop: PacketLoop | null = null;
  private server: Server | null = null;
  /** Reports to the resolver (report-url), started once the TUN device is up. */
  private reporter: Reporter | null = null;
  private timers: NodeJS.Timeout[] = [];
  private saveTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now() / 1000;
  private reloads = 0;
  private reloadFailures = 0;
  private saveFailures = 0;
  private stopping = false;
  /** IPv4 addresses of this host's interfaces seen at start (pool4 on the gateway's own address). */
  private hostAddrs: ReadonlySet<number> = new Set();
  /** True while the nftables table and ip rules of host-pool4.ts are installed. */
  private steering = false;

  constructor(options: DaemonOptions) {
    this.options = options;
    this.log = options.log;
    const env = options.env ?? process.env;
    this.config = readTaygaConf(options.configFile, { stateDirectory: env.STATE_DIRECTORY, env });
    this.offload = offloadWanted(env);
    const stateful = this.config.stateful;
    this.mapper = new TaygaAddressMapper(this.config, { countUnmapped: stateful === null });
    this.nat = stateful ? this.createNat(stateful) : null;
    this.translator = new Translator(
      this.offload
        ? offloadTranslatorConfig(toTranslatorConfig(this.config))
        : toTranslatorConfig(this.config),
      this.mapper,
      this.nat ?? undefined,
    );
  }

  private createNat(settings: StatefulSettings): StatefulNat {
    let mappingLog: ((line: string) => void) | null = null;
    if (settings.logMappings === true) mappingLog = (line) => this.log.info(line);
    else if (typeof settings.logMappings === 'string') {
      const file = settings.logMappings;
      const stream = createWriteStream(file, { flags: 'a' });
      stream.on('error', (err) => this.log.error(`log-mappings ${file}: ${err.message}`));
      this.mappingStream = stream;
      mappingLog = (line) => stream.write(`${line}\n`);
    }
    return new StatefulNat(settings, {
      mappingLog,
      limitLog: (message) => this.log.error(message),
    });
  }

  get configuration(): Nat64dConfig {
    return this.config;
  }

  async start(): Promise<void> {
    const c = this.config;
    // Tayga keys accepted without the behaviour: named, never a start failure.
    for (const w of c.warnings) this.log.info(`warning: ${formatIssue(w)}`);
    if (c.stateful) {
      this.hostAddrs = await hostIpv4Addresses();
      this.checkEphemeralPorts(c);
    }
    // What the configuration drops by design, named once at start (as Tayga does).
    for (const n of configNotes(c)) this.log.info(n);
    this.restoreDynamicTable();
    let opened;
    try {
      opened = openTun(c.tunDevice, c.tunMtu, SLOT_HEADROOM, this.offload);
    } catch (err) {
      throw tunOpenError(err);
    }
    const { tun, slot, offload, fallback, uso } = opened;
    if (fallback) this.log.info(`TCP offload unavailable (${fallback}); plain TUN device`);
    this.tun = tun;
    tun.setMtu(c.tunMtu);
    tun.setTxQueueLen(c.tunQueueLen);
    if (c.tunUp) await runIpCommands(interfaceCommands(c, this.hostAddrs));
    if (c.tunUp && c.stateful) await this.steer(c);

    const metrics = this.options.metrics ?? c.metrics;
    const listen = metrics === null ? null : parseListenAddress(metrics);
    if (typeof listen === 'string') throw new Error(`--metrics ${metrics}: ${listen}`);
    if (listen)
      this.server = await startMetricsServer(
        listen.host,
        listen.port,
        () => this.metrics(),
        (path, query) => this.view(path, query),
      );

    this.loop = new PacketLoop(tun, this.translator, slot);
    this.loop.start();
    this.timers.push(
      setInterval(() => this.mapper.tick(), 1000),
      setInterval(() => this.saveDynamicTable(), SAVE_INTERVAL_MS),
    );
    const nat = this.nat;
    if (nat) this.timers.push(setInterval(() => nat.tick(), 1000));
    if (this.options.debug) {
      const drops = new DropLog(this.translator.counters, (line) => this.log.debug(line));
      this.timers.push(setInterval(() => drops.poll(), 1000));
    }
    for (const t of this.timers) t.unref();
    const dynamic = this.mapper.dynamic;
    if (dynamic) {
      dynamic.onChange = () => this.scheduleSave();
      // Tayga's wording ("assigned new pool address A (B)"), at info level.
      dynamic.onAssign = (ipv4, ipv6, reused) =>
        this.log.info(
          `${reused ? 'reassigned dormant' : 'assigned new'} pool address ${formatIpv4(ipv4)} (${formatIpv6(ipv6)})`,
        );
    }

    this.log.info(
      `translating on ${tun.name} (mtu ${c.tunMtu}${offload ? ', tcp6 offload' : ''}${uso ? ', udp gso' : ''}): prefix ${formatIpv6Net(c.prefix)}, ` +
        `ipv4-addr ${formatIpv4(c.ipv4Addr)}, ipv6-addr ${formatIpv6(c.ipv6Addr)}` +
        (c.dynamicPool ? `, dynamic-pool ${formatIpv4Net(c.dynamicPool)}` : '') +
        (c.stateful
          ? `, stateful pool4 ${c.stateful.pool4
              .map((p) => `${formatIpv4Net(p.net)} ${p.protocols.join('/')} ${p.first}-${p.last}`)
              .join(', ')}, ${c.stateful.bib.length} bib line(s)`
          : '') +
        `, ${c.maps.length} map line(s)` +
        (listen ? `, metrics on http://${metrics}/metrics` : ''),
    );
    if (c.report) {
      this.reporter = new Reporter({
        url: c.report.url,
        key: c.report.key,
        log: this.log,
        report: () => this.gatewayReport(),
      });
      this.reporter.start();
    }
  }

  /** The body of a report to the resolver: version, uptime and the free capacity. */
  gatewayReport(): GatewayReport {
    return gatewayReport({
      version: NAT64D_VERSION,
      startedAt: this.startedAt,
      now: Date.now() / 1000,
      nat: this.nat,
      dynamic: this.mapper.dynamic,
    });
  }

  /**
   * pool4 on addresses of this host: refuses to start (or warns, `pool4-port-overlap warn`)
   * when a TCP/UDP range overlaps net.ipv4.ip_local_port_range.
   */
  private checkEphemeralPorts(c: Nat64dConfig): void {
    const ranges = hostRanges(c, this.hostAddrs);
    if (ranges.length === 0) return;
    let eph: [number, number];
    try {
      eph = readEphemeralRange();
    } catch {
      return;
    }
    const message = ephemeralOverlap(ranges, eph);
    if (message === null) return;
    if (c.stateful?.pool4PortOverlap === 'warn') this.log.info(`warning: ${message}`);
    else throw new Error(message);
  }

  /** Installs (or replaces, or removes) the steering of host-address pool4 ranges. */
  private async steer(c: Nat64dConfig): Promise<void> {
    const ranges = hostRanges(c, this.hostAddrs);
    if (ranges.length === 0 && !this.steering) return;
    this.steering = ranges.length > 0;
    const addrs = [...new Set(ranges.map((r) => formatIpv4(r.addr)))];
    try {
      await installSteering(c.tunDevice, ranges);
    } catch (err) {
      throw new Error(
        `pool4 ${addrs.join(', ')} is an address of this host; steering its pool4 ports into ` +
          `${c.tunDevice} needs nft (Debian package nftables) and ip: ${(err as Error).message}`,
      );
    }
    if (ranges.length > 0) {
      this.log.info(
        `pool4 on this host's address ${addrs.join(', ')}: its pool4 ports are steered into ${c.tunDevice} (nft table inet nat64d, ip rule fwmark)`,
      );
    }
  }

  /** Answers `/sessions` and `/bib` of the metrics endpoint (`nat64d sessions`, `nat64d bib`). */
  view(path: string, query: URLSearchParams): unknown {
    if (path !== '/sessions' && path !== '/bib') return undefined;
    const proto = query.get('proto');
    const addr = query.get('addr');
    const keep = (e: { proto: string; ipv6: string; ipv4: string; remote4?: string }) =>
      (proto === null || e.proto === proto) &&
      (addr === null || e.ipv6 === addr || e.ipv4 === addr || e.remote4 === addr);
    const nat = this.nat;
    if (path === '/sessions') {
      const all = nat ? nat.sessionView() : [];
      return { stateful: nat !== null, total: all.length, sessions: all.filter(keep) };
    }
    const all = nat ? nat.bibView() : [];
    return { stateful: nat !== null, total: all.length, bib: all.filter(keep) };
  }

  /** SIGHUP: pool4 and bib lines (live state kept where it fits), with their routes. */
  private async reloadStateful(next: Nat64dConfig): Promise<string> {
    const nat = this.nat;
    const cur = this.config.stateful;
    if (!nat || !cur || !next.stateful) return '';
    const pools = (c: Nat64dConfig) =>
      JSON.stringify([
        c.stateful?.pool4.map((p) => [formatIpv4Net(p.net), p.protocols, p.first, p.last]),
        c.stateful?.bib.map((b) => [b.protocol, formatIpv6(b.ipv6), b.port6, b.ipv4, b.port4]),
      ]);
    if (pools(this.config) === pools(next)) return '';
    const beforeHost = this.hostAddrs;
    try {
      this.hostAddrs = await hostIpv4Addresses();
      this.checkEphemeralPorts(next);
    } catch (err) {
      this.hostAddrs = beforeHost;
      this.reloadFailures++;
      return `; pool4/bib changes refused, the running ones kept: ${(err as Error).message}`;
    }
    const r = nat.reconfigure(next.stateful);
    const before = this.config;
    this.config = {
      ...this.config,
      stateful: { ...cur, pool4: next.stateful.pool4, bib: next.stateful.bib },
    };
    if (this.config.tunUp) {
      try {
        const dev = this.config.tunDevice;
        const old = new Set(ipv4Routes(before, beforeHost));
        const now = new Set(ipv4Routes(this.config, this.hostAddrs));
        const cmds: string[][] = [];
        for (const route of old)
          if (!now.has(route)) cmds.push(['-4', 'route', 'del', route, 'dev', dev]);
        for (const route of now)
          if (!old.has(route)) cmds.push(['-4', 'route', 'replace', route, 'dev', dev]);
        await runIpCommands(cmds);
        await this.steer(this.config);
      } catch (err) {
        this.log.error(`reload: ${(err as Error).message}`);
      }
    }
    return (
      `; pool4/bib: ${next.stateful.pool4.length} pool4 line(s), ${next.stateful.bib.length} bib line(s), ` +
      `${r.kept} binding(s) kept, ${r.added} static added, ${r.ended} ended that no longer fit` +
      ` (${r.sessionsEnded} session(s))`
    );
  }

  /** SIGHUP: re-reads the file and applies its `map` lines; other changes need a restart. */
  async reload(): Promise<void> {
    let next: Nat64dConfig;
    try {
      const env = this.options.env ?? process.env;
      next = readTaygaConf(this.options.configFile, {
        stateDirectory: env.STATE_DIRECTORY,
        env,
      });
    } catch (err) {
      this.reloadFailures++;
      this.log.error(
        `reload refused, keeping the running configuration:\n${String((err as Error).message)}`,
      );
      return;
    }
    const before = this.config.maps;
    this.mapper.reloadStaticMaps(next);
    if (this.config.tunUp) {
      try {
        await runIpCommands(mapRouteChanges(this.config.tunDevice, before, next.maps, this.config));
      } catch (err) {
        this.log.error(`reload: ${(err as Error).message}`);
      }
    }
    this.config = { ...this.config, maps: next.maps };
    const stateful = await this.reloadStateful(next);
    const ignored = changedKeys(this.config, next);
    this.reloads++;
    this.log.info(
      `reloaded ${next.maps.length} map line(s)` +
        stateful +
        (ignored.length ? `; changes to ${ignored.join(', ')} need a restart` : ''),
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Withdraw first (bounded by its deadline), while packets are still translated: the
    // resolver stops handing out this prefix before the gateway stops carrying it.
    await this.reporter?.stop();
    for (const t of this.timers) clearInterval(t);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.loop?.stop();
    this.saveDynamicTable();
    // Ends the sessions so the mapping log records the end of every mapping.
    this.nat?.shutdown();
    if (this.steering) {
      this.steering = false;
      await removeSteering().catch((err: unknown) =>
        this.log.error(`removing the pool4 steering: ${(err as Error).message}`),
      );
    }
    const stream = this.mappingStream;
    if (stream) await new Promise<void>((resolve) => stream.end(() => resolve()));
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.tun?.close();
  }

  private restoreDynamicTable(): void {
    const dir = this.config.dataDir;
    if (!dir || !this.mapper.dynamic) return;
    mkdirSync(dir, { recursive: true });
    const { mappings, invalidLines, invalid = [] } = loadMappings(dir);
    const rejected = this.mapper.restoreAll(mappings);
    let aside = '';
    if (rejected.length || invalidLines) {
      // Never discarded silently: kept aside, and the log says where.
      try {
        aside = `, kept aside in ${saveRejected(dir, rejected, invalid)}`;
      } catch (err) {
        aside = `, could not keep them aside (${(err as Error).message}): ${rejected
          .map((r) => `${formatIpv4(r.mapping.ipv4)} ${formatIpv6(r.mapping.ipv6)}`)
          .join(', ')}`;
      }
    }
    this.log.info(
      `restored ${mappings.length - rejected.length} dynamic mapping(s) from ${dynamicMapPath(dir)}` +
        (rejected.length
          ? `; ${rejected.length} no longer fit the configuration (${rejected
              .map((r) => `${formatIpv4(r.mapping.ipv4)}: ${r.reason}`)
              .join('; ')})`
          : '') +
        (invalidLines ? `; ${invalidLines} unreadable line(s)` : '') +
        aside,
    );
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.stopping) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saveDynamicTable();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  private saveDynamicTable(): void {
    const dir = this.config.dataDir;
    if (!dir || !this.mapper.dynamic) return;
    try {
      saveMappings(dir, this.mapper.dynamic.mappings());
    } catch (err) {
      this.saveFailures++;
      this.log.error(`saving the dynamic table in ${dir}: ${(err as Error).message}`);
    }
  }

  metrics(): Metric[] {
    const out: Metric[] = [];
    const counter = (name: string, help: string, value: number) =>
      out.push({ name: `nat64d_${name}`, help, type: 'counter', value });
    const gauge = (name: string, help: string, value: number) =>
      out.push({ name: `nat64d_${name}`, help, type: 'gauge', value });
    const t = this.translator.counters;
    for (const name of COUNTER_NAMES) {
      counter(`${snakeCase(name)}_total`, COUNTER_HELP[name], t[name]);
    }
    const l = this.loop?.counters;
    counter('tun_read_batches_total', 'Read batches taken from the TUN device.', l?.batches ?? 0);
    counter('tun_packets_in_total', 'Packets read from the TUN device.', l?.packetsIn ?? 0);
    counter('tun_packets_out_total', 'Packets handed to the TUN device.', l?.packetsOut ?? 0);
    counter(
      'loop_errors_total',
      'Exceptions caught on the packet path (should stay 0).',
      l?.errors ?? 0,
    );
    const s = this.tun?.stats();
    counter('tun_gso_in_total', 'TCP/IPv6 GSO super-packets read.', s?.gsoIn ?? 0);
    counter('tun_gso_out_total', 'TCP/IPv4 GSO packets written.', s?.gsoOut ?? 0);
    counter('tun_uso_writes_total', 'Coalesced UDP/IPv4 writes (GSO_UDP_L4).', s?.usoWrites ?? 0);
    counter(
      'tun_uso_datagrams_total',
      'UDP/IPv4 datagrams written in coalesced writes.',
      s?.usoDatagrams ?? 0,
    );
    counter(
      'tun_uso_in_total',
      'UDP GSO packets read (runs of same-flow datagrams the kernel kept together).',
      s?.usoIn ?? 0,
    );
    counter(
      'tun_uso_out_total',
      'Translated UDP/IPv4 GSO packets written (one per UDP GSO packet translated whole).',
      s?.usoOut ?? 0,
    );
    counter(
      'tun_read_errors_total',
      'Failed reads (read(2) errors) on the TUN device.',
      s?.readErrors ?? 0,
    );
    counter(
      'tun_write_errors_total',
      'Failed writes (write(2) errors) on the TUN device.',
      s?.writeErrors ?? 0,
    );
    const m = this.mapper.counters;
    counter(
      'unmapped_ipv6_total',
      'IPv6 address lookups with no IPv4 address (no map line, no dynamic mapping, pool full).',
      m.unmapped6,
    );
    counter(
      'unmapped_ipv4_total',
      'Packets to a dynamic-pool address that no IPv6 host is mapped to (dropped).',
      m.unmapped4,
    );
    gauge(
      'static_maps',
      'Static map lines in effect (map-file included).',
      this.config.maps.length,
    );
    const d = this.mapper.dynamic;
    if (d) {
      gauge('dynamic_pool_mappings', 'IPv6 hosts holding a dynamic-pool address.', d.size);
      gauge('dynamic_pool_addresses', 'Addresses the dynamic pool can hand out in all.', d.usable);
      counter(
        'dynamic_pool_allocated_total',
        'Dynamic-pool addresses handed to a new IPv6 host from the free ones.',
        d.counters.allocated,
      );
      counter(
        'dynamic_pool_reused_total',
        'Dynamic-pool addresses taken from an idle host (least recently used) for a new one.',
        d.counters.reused,
      );
      counter(
        'dynamic_pool_exhausted_total',
        'Packets dropped: dynamic pool full and no mapping idle for the lease.',
        d.counters.exhausted,
      );
    }
    if (this.nat) this.statefulMetrics(this.nat, out);
    counter('reloads_total', 'SIGHUP reloads applied.', this.reloads);
    counter(
      'reload_failures_total',
      'SIGHUP reloads refused because the file had errors.',
      this.reloadFailures,
    );
    counter(
      'state_save_failures_total',
      'Failed writes of data-dir/dynamic.map.',
      this.saveFailures,
    );
    const r = this.reporter?.counters;
    if (r) {
      counter('reports_sent_total', 'Reports (PUT) sent to report-url.', r.sent);
      counter(
        'reports_failed_total',
        'Reports that failed: network error, time-out or an answer other than 2xx.',
        r.failed,
      );
      gauge(
        'report_last_success_time_seconds',
        'Unix time of the last report answered 2xx (0: none yet).',
        Math.floor(r.lastSuccess),
      );
    }
    gauge(
      'start_time_seconds',
      'When the daemon started, unix seconds.',
      Math.floor(this.startedAt),
    );
    return out;
  }

  /** Per-protocol gauges and counters of the stateful NAT64 (label proto="tcp|udp|icmp"). */
  private statefulMetrics(nat: StatefulNat, out: Metric[]): void {
    const stats = nat.stats();
    const add = (
      name: string,
      type: 'counter' | 'gauge',
      help: string,
      pick: (s: (typeof stats)['tcp']) => number,
      extra: Record<string, string> = {},
    ) => {
      for (const proto of ['tcp', 'udp', 'icmp'] as const) {
        out.push({
          name: `nat64d_stateful_${name}`,
          help,
          type,
          value: pick(stats[proto]),
          labels: { proto, ...extra },
        });
      }
    };
    add(
      'bib_entries',
      'gauge',
      'Bindings IPv6 transport address <-> pool4 transport address, static and dynamic.',
      (s) => s.bib,
    );
    add(
      'sessions',
      'gauge',
      'Sessions (one per binding and remote IPv4 transport address).',
      (s) => s.sessions,
    );
    add(
      'pool4_ports',
      'gauge',
      'Transport addresses of pool4 (address and port, or ICMP identifier) in all.',
      (s) => s.poolPorts,
    );
    add(
      'pool4_ports_free',
      'gauge',
      'Transport addresses of pool4 that no binding holds.',
      (s) => s.poolPortsFree,
    );
    add(
      'bib_created_total',
      'counter',
      'Bindings created, static ones included (each is a mapping-start line of the mapping log).',
      (s) => s.bibCreated,
    );
    add('sessions_created_total', 'counter', 'Sessions created.', (s) => s.sessionsCreated);
    add(
      'sessions_expired_total',
      'counter',
      'Sessions ended because their lifetime ran out.',
      (s) => s.sessionsExpired,
    );
    const drops: Array<[string, (s: (typeof stats)['tcp']) => number]> = [
      ['no_bib', (s) => s.dropNoBib],
      ['filtered', (s) => s.dropFiltered],
      ['not_syn', (s) => s.dropNotSyn],
      ['pool_exhausted', (s) => s.dropPoolExhausted],
      ['host_limit', (s) => s.dropHostLimit],
      ['total_limit', (s) => s.dropTotalLimit],
    ];
    for (const [reason, pick] of drops) {
      add(
        'drops_total',
        'counter',
        'Packets refused by the session tables: no_bib (inbound without binding), filtered (address-dependent filtering), not_syn (TCP without session), pool_exhausted, host_limit, total_limit.',
        pick,
        {
          reason,
        },
      );
    }
  }
}

/** Keys other than `map` whose value differs (they need a restart). */
function changedKeys(a: Nat64dConfig, b: Nat64dConfig): string[] {
  const keys: Array<[string, unknown, unknown]> = [
    ['tun-device', a.tunDevice, b.tunDevice],
    ['ipv4-addr', a.ipv4Addr, b.ipv4Addr],
    ['ipv6-addr', formatIpv6(a.ipv6Addr), formatIpv6(b.ipv6Addr)],
    ['prefix', formatIpv6Net(a.prefix), formatIpv6Net(b.prefix)],
    [
      'dynamic-pool',
      a.dynamicPool && formatIpv4Net(a.dynamicPool),
      b.dynamicPool && formatIpv4Net(b.dynamicPool),
    ],
    ['data-dir', a.dataDir, b.dataDir],
    ['strict-frag-hdr', a.strictFragHdr, b.strictFragHdr],
    ['wkpf-strict', a.wkpfStrict, b.wkpfStrict],
    ['udp-cksum-mode', a.udpChecksumMode, b.udpChecksumMode],
    ['offlink-mtu', a.offlinkMtu, b.offlinkMtu],
    ['tun-up', a.tunUp, b.tunUp],
    ['tun-mtu', a.tunMtu, b.tunMtu],
    ['tun-queue-len', a.tunQueueLen, b.tunQueueLen],
    ['metrics', a.metrics, b.metrics],
    [
      'icmp-error-rate',
      `${a.icmpErrorRate}/${a.icmpErrorBurst}`,
      `${b.icmpErrorRate}/${b.icmpErrorBurst}`,
    ],
    ['tun-ip', a.tunIps.join(' '), b.tunIps.join(' ')],
    ['tun-route', a.tunRoutes.join(' '), b.tunRoutes.join(' ')],
    ['stateful keys', statefulSummary(a), statefulSummary(b)],
    ['report-url', a.report?.url, b.report?.url],
    ['report-key', a.report?.key, b.report?.key],
  ];
  return keys.filter(([, x, y]) => x !== y).map(([k]) => k);
}

/** The stateful settings as comparable text (pool4, bib, timeouts, limits, logging). */
function statefulSummary(c: Nat64dConfig): string {
  const s = c.stateful;
  if (!s) return '';
  return JSON.stringify({
    ...s,
    pool4: s.pool4.map(
      (p) => `${formatIpv4Net(p.net)} ${p.protocols.join('/')} ${p.first}-${p.last}`,
    ),
    bib: s.bib.map(
      (b) => `${b.protocol} ${formatIpv6(b.ipv6)}#${b.port6} ${formatIpv4(b.ipv4)}#${b.port4}`,
    ),
  });
}
