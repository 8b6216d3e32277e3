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
import { TaygaAddressMapper, loadMappings, saveMappings } from '../mapping/index.js';
import { StatefulNat } from '../stateful/index.js';
import type { TunDevice } from '../tun/index.js';
import { interfaceCommands, mapRouteChanges, runIpCommands } from './interface-setup.js';
import type { Logger } from './log.js';
import { snakeCase, startMetricsServer, type Metric } from './metrics.js';
import { offloadTranslatorConfig, offloadWanted, openTun } from './offload.js';
import { PacketLoop } from './packet-loop.js';

export interface DaemonOptions {
  readonly configFile: string;
  /** Overrides the config's `metrics` (`host:port` or `off`). */
  readonly metrics?: string | undefined;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
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
  private timers: NodeJS.Timeout[] = [];
  private saveTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now() / 1000;
  private reloads = 0;
  private reloadFailures = 0;
  private saveFailures = 0;
  private stopping = false;

  constructor(options: DaemonOptions) {
    this.options = options;
    this.log = options.log;
    const env = options.env ?? process.env;
    this.config = readTaygaConf(options.configFile, { stateDirectory: env.STATE_DIRECTORY });
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
    this.restoreDynamicTable();
    const { tun, slot, offload, fallback } = openTun(
      c.tunDevice,
      c.tunMtu,
      SLOT_HEADROOM,
      this.offload,
    );
    if (fallback) this.log.info(`TCP offload unavailable (${fallback}); plain TUN device`);
    this.tun = tun;
    tun.setMtu(c.tunMtu);
    tun.setTxQueueLen(c.tunQueueLen);
    if (c.tunUp) await runIpCommands(interfaceCommands(c));

    const metrics = this.options.metrics ?? c.metrics;
    const listen = metrics === null ? null : parseListenAddress(metrics);
    if (typeof listen === 'string') throw new Error(`--metrics ${metrics}: ${listen}`);
    if (listen)
      this.server = await startMetricsServer(listen.host, listen.port, () => this.metrics());

    this.loop = new PacketLoop(tun, this.translator, slot);
    this.loop.start();
    this.timers.push(
      setInterval(() => this.mapper.tick(), 1000),
      setInterval(() => this.saveDynamicTable(), SAVE_INTERVAL_MS),
    );
    const nat = this.nat;
    if (nat) this.timers.push(setInterval(() => nat.tick(), 1000));
    for (const t of this.timers) t.unref();
    if (this.mapper.dynamic) this.mapper.dynamic.onChange = () => this.scheduleSave();

    this.log.info(
      `translating on ${tun.name} (mtu ${c.tunMtu}${offload ? ', tcp6 offload' : ''}): prefix ${formatIpv6Net(c.prefix)}, ` +
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
  }

  /** SIGHUP: re-reads the file and applies its `map` lines; other changes need a restart. */
  async reload(): Promise<void> {
    let next: Nat64dConfig;
    try {
      const env = this.options.env ?? process.env;
      next = readTaygaConf(this.options.configFile, { stateDirectory: env.STATE_DIRECTORY });
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
    const ignored = changedKeys(this.config, next);
    this.config = { ...this.config, maps: next.maps };
    this.reloads++;
    this.log.info(
      `reloaded ${next.maps.length} map line(s)` +
        (ignored.length ? `; changes to ${ignored.join(', ')} need a restart` : ''),
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.loop?.stop();
    this.saveDynamicTable();
    // Ends the sessions so the mapping log records the end of every mapping.
    this.nat?.shutdown();
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
    const { mappings, invalidLines } = loadMappings(dir);
    const dropped = this.mapper.restore(mappings);
    this.log.info(
      `restored ${mappings.length - dropped} dynamic mapping(s) from ${dir}` +
        (dropped ? `, dropped ${dropped} that no longer fit the configuration` : '') +
        (invalidLines ? `, skipped ${invalidLines} unreadable line(s)` : ''),
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
      counter(`${snakeCase(name)}_total`, `Translator counter ${name}.`, t[name]);
    }
    const l = this.loop?.counters;
    counter('tun_read_batches_total', 'Read batches taken from the TUN device.', l?.batches ?? 0);
    counter('tun_packets_in_total', 'Packets read from the TUN device.', l?.packetsIn ?? 0);
    counter('tun_packets_out_total', 'Packets handed to the TUN device.', l?.packetsOut ?? 0);
    counter('loop_errors_total', 'Exceptions caught on the packet path.', l?.errors ?? 0);
    const s = this.tun?.stats();
    counter('tun_gso_in_total', 'TCP/IPv6 GSO super-packets read.', s?.gsoIn ?? 0);
    counter('tun_gso_out_total', 'TCP/IPv4 GSO packets written.', s?.gsoOut ?? 0);
    counter('tun_uso_writes_total', 'Coalesced UDP/IPv4 writes (GSO_UDP_L4).', s?.usoWrites ?? 0);
    counter(
      'tun_uso_datagrams_total',
      'UDP/IPv4 datagrams written in coalesced writes.',
      s?.usoDatagrams ?? 0,
    );
    counter('tun_read_errors_total', 'read(2) errors on the TUN device.', s?.readErrors ?? 0);
    counter('tun_write_errors_total', 'write(2) errors on the TUN device.', s?.writeErrors ?? 0);
    const m = this.mapper.counters;
    counter('unmapped_ipv6_total', 'IPv6 addresses with no IPv4 mapping.', m.unmapped6);
    counter('unmapped_ipv4_total', 'IPv4 addresses with no IPv6 mapping.', m.unmapped4);
    gauge('static_maps', 'map lines in effect.', this.config.maps.length);
    const d = this.mapper.dynamic;
    if (d) {
      gauge('dynamic_pool_mappings', 'Mappings in the dynamic pool.', d.size);
      gauge('dynamic_pool_addresses', 'Addresses the dynamic pool can hand out.', d.usable);
      counter(
        'dynamic_pool_allocated_total',
        'Mappings created from a free address.',
        d.counters.allocated,
      );
      counter(
        'dynamic_pool_reused_total',
        'Mappings created by reusing an idle one.',
        d.counters.reused,
      );
      counter(
        'dynamic_pool_exhausted_total',
        'Allocations refused: pool full.',
        d.counters.exhausted,
      );
    }
    if (this.nat) this.statefulMetrics(this.nat, out);
    counter('reloads_total', 'Successful SIGHUP reloads.', this.reloads);
    counter('reload_failures_total', 'SIGHUP reloads refused (bad file).', this.reloadFailures);
    counter('state_save_failures_total', 'Failed saves of the dynamic table.', this.saveFailures);
    gauge('start_time_seconds', 'Start time, unix seconds.', Math.floor(this.startedAt));
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
    add('bib_entries', 'gauge', 'BIB entries (static and dynamic).', (s) => s.bib);
    add('sessions', 'gauge', 'Sessions.', (s) => s.sessions);
    add('pool4_ports', 'gauge', 'pool4 transport addresses.', (s) => s.poolPorts);
    add('pool4_ports_free', 'gauge', 'Free pool4 transport addresses.', (s) => s.poolPortsFree);
    add('bib_created_total', 'counter', 'BIB entries created.', (s) => s.bibCreated);
    add('sessions_created_total', 'counter', 'Sessions created.', (s) => s.sessionsCreated);
    add(
      'sessions_expired_total',
      'counter',
      'Session lifetimes run out.',
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
      add('drops_total', 'counter', 'Packets refused by the session tables, by reason.', pick, {
        reason,
      });
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
