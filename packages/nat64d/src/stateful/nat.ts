/**
 * Stateful NAT64 (RFC 6146): the three protocol tables (TCP, UDP, ICMP echo) behind the core's
 * StatefulMapper hook, with the shared limits, the injectable clock, the rate-limited limit
 * log and the optional mapping log (creation and end of each binding, for abuse tracing).
 */
import { formatIpv4, formatIpv6 } from '../config/addr.js';
import type { NatProtocol, StatefulSettings } from '../config/types.js';
import type { StatefulMapper } from '../core/types.js';
import { HostTable } from './host-table.js';
import { PortPool, type PortRangeSpec } from './port-pool.js';
import {
  END_REASON_NAMES,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  Refusal,
  SessionTable,
  TCP_STATE_NAMES,
  type NatShared,
} from './session-table.js';

/** RFC 6146 §4 defaults, seconds. */
export const DEFAULT_TIMEOUTS = {
  udp: 300,
  tcpEst: 7440,
  tcpTrans: 240,
  icmp: 60,
} as const;
export { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_HOST } from '../config/tayga-conf.js';

/** Expired sessions handled per packet (lazy sweeping) and per `tick()`. */
const SWEEP_PER_PACKET = 4;
const SWEEP_PER_TICK = 50_000;

export interface StatefulNatOptions {
  /** Unix time in seconds (may be fractional); default Date.now() / 1000. */
  readonly clock?: () => number;
  /** Receives one line per mapping created or ended (`log-mappings`); null = off. */
  readonly mappingLog?: ((line: string) => void) | null;
  /** Receives the rate-limited messages about refusals at a limit. */
  readonly limitLog?: ((message: string) => void) | null;
  /** Minimum seconds between two limit messages (default 10). */
  readonly limitLogInterval?: number;
}

export interface ProtocolStats {
  readonly bib: number;
  readonly sessions: number;
  readonly bibCreated: number;
  readonly sessionsCreated: number;
  readonly sessionsExpired: number;
  readonly dropNoBib: number;
  readonly dropFiltered: number;
  readonly dropNotSyn: number;
  readonly dropPoolExhausted: number;
  readonly dropHostLimit: number;
  readonly dropTotalLimit: number;
  readonly poolPorts: number;
  readonly poolPortsFree: number;
}

export interface ReconfigureResult {
  /** Bindings kept (static and dynamic). */
  kept: number;
  /** Bindings ended because they no longer fit. */
  ended: number;
  /** Sessions ended with them. */
  sessionsEnded: number;
  /** New static bindings. */
  added: number;
}

/** One BIB entry as `nat64d bib` shows it. */
/** One binding (RFC 6146 §3.1) as `nat64d bib` and `nat64d sessions` show it. */
export interface BindingView {
  readonly proto: NatProtocol;
  readonly ipv6: string;
  readonly port6: number;
  readonly ipv4: string;
  readonly port4: number;
}

export interface BibView extends BindingView {
  readonly static: boolean;
  readonly sessions: number;
}

/** One session as `nat64d sessions` shows it (ICMP: ports are identifiers, remote port 0). */
export interface SessionView extends BindingView {
  readonly remote4: string;
  readonly remotePort: number;
  /** TCP state (RFC 6146 §3.5.2), null for UDP and ICMP. */
  readonly state: string | null;
  /** Seconds until the session's lifetime runs out. */
  readonly expiresIn: number;
}

const PROTO_NAMES: Record<number, NatProtocol> = {
  [PROTO_TCP]: 'tcp',
  [PROTO_UDP]: 'udp',
  [PROTO_ICMP]: 'icmp',
};

/** Expands the pool4 lines of one protocol into (address, range) pairs. */
export function poolSpecs(settings: StatefulSettings, proto: NatProtocol): PortRangeSpec[] {
  const specs: PortRangeSpec[] = [];
  for (const p of settings.pool4) {
    if (!p.protocols.includes(proto)) continue;
    const count = 2 ** (32 - p.net.length);
    for (let i = 0; i < count; i++) {
      specs.push({ addr: (p.net.addr + i) >>> 0, first: p.first, last: p.last });
    }
  }
  return specs;
}

export class StatefulNat implements StatefulMapper {
  readonly tcp: SessionTable;
  readonly udp: SessionTable;
  readonly icmp: SessionTable;
  readonly hosts = new HostTable();
  resultAddr4 = 0;
  resultPort = 0;

  private readonly shared: NatShared;
  private readonly clock: () => number;
  private poolAddrs = new Set<number>();
  private readonly limitLog: ((message: string) => void) | null;
  private readonly limitLogInterval: number;
  private lastLimitLog = -Infinity;
  private limitRefusals = 0;
  private lastLimitWhat = '';
  private readonly scratch = new Uint8Array(16);

  constructor(settings: StatefulSettings, options: StatefulNatOptions = {}) {
    this.clock = options.clock ?? (() => Date.now() / 1000);
    this.limitLog = options.limitLog ?? null;
    this.limitLogInterval = options.limitLogInterval ?? 10;
    const mappingLog = options.mappingLog ?? null;
    this.shared = {
      now: Math.floor(this.clock()),
      hosts: this.hosts,
      maxSessions: settings.maxSessions,
      maxSessionsPerHost: settings.maxSessionsPerHost,
      totalSessions: 0,
      addressDependentFiltering: settings.addressDependentFiltering,
      onMapping: mappingLog
        ? (table, bib, end) => mappingLog(this.formatMapping(table, bib, end))
        : null,
    };
    const make = (proto: number, name: NatProtocol, est: number, trans: number) => {
      const specs = poolSpecs(settings, name);
      for (const s of specs) this.poolAddrs.add(s.addr);
      return new SessionTable(proto, new PortPool(specs), this.shared, {
        established: est,
        transitory: trans,
      });
    };
    this.tcp = make(PROTO_TCP, 'tcp', settings.tcpEstTimeout, settings.tcpTransTimeout);
    this.udp = make(PROTO_UDP, 'udp', settings.udpTimeout, settings.udpTimeout);
    this.icmp = make(PROTO_ICMP, 'icmp', settings.icmpTimeout, settings.icmpTimeout);
    for (const b of settings.bib) {
      const table = this.table(b.protocol === 'tcp' ? 6 : b.protocol === 'udp' ? 17 : 1);
      // The parser has checked these; a failure here is a conflict between bib lines.
      if (!table?.addStatic(b.ipv6, 0, b.port6, b.ipv4, b.port4)) {
        throw new Error(`bib line ${b.line}: transport address already in use`);
      }
    }
  }

  /** Sessions in all tables. */
  get sessionCount(): number {
    return this.shared.totalSessions;
  }

  /** Current time of the state machine (integer seconds). */
  get now(): number {
    return this.shared.now;
  }

  table(proto: number): SessionTable | null {
    if (proto === PROTO_TCP) return this.tcp;
    if (proto === PROTO_UDP) return this.udp;
    if (proto === PROTO_ICMP) return this.icmp;
    return null;
  }

  isPoolAddress(addr4: number): boolean {
    return this.poolAddrs.has(addr4 >>> 0);
  }

  /** Reads the clock and does a little expiry work on `table`. */
  private step(table: SessionTable): void {
    this.shared.now = Math.floor(this.clock());
    table.expire(SWEEP_PER_PACKET);
  }

  /** Periodic expiry (the daemon calls it every second). Returns sessions handled. */
  tick(budget = SWEEP_PER_TICK): number {
    this.shared.now = Math.floor(this.clock());
    return this.tcp.expire(budget) + this.udp.expire(budget) + this.icmp.expire(budget);
  }

  outbound(
    proto: number,
    src: Uint8Array,
    srcOff: number,
    srcPort: number,
    dst4: number,
    dstPort: number,
    tcpFlags: number,
  ): boolean {
    const t = this.table(proto);
    if (!t) return false;
    this.step(t);
    const s = t.outbound(src, srcOff, srcPort, dst4, proto === PROTO_ICMP ? 0 : dstPort, tcpFlags);
    if (s < 0) {
      this.refused(t, s, src, srcOff);
      return false;
    }
    this.resultAddr4 = t.addr4;
    this.resultPort = t.port4;
    return true;
  }

  inbound(
    proto: number,
    src4: number,
    srcPort: number,
    dst4: number,
    dstPort: number,
    tcpFlags: number,
    out: Uint8Array,
    outOff: number,
  ): boolean {
    const t = this.table(proto);
    if (!t) return false;
    this.step(t);
    const s = t.inbound(dst4, dstPort, src4, proto === PROTO_ICMP ? 0 : srcPort, tcpFlags);
    if (s < 0) {
      if (s === Refusal.HOST_LIMIT || s === Refusal.TOTAL_LIMIT) {
        const bib = t.findBib4(dst4, dstPort);
        if (bib >= 0) t.writeBibIpv6(bib, this.scratch, 0);
        this.refused(t, s, this.scratch, 0);
      }
      return false;
    }
    t.writeBibIpv6(t.bib, out, outOff);
    this.resultPort = t.port6;
    return true;
  }

  errorFrom4(
    proto: number,
    src4: number,
    srcPort: number,
    dst4: number,
    dstPort: number,
    out: Uint8Array,
    outOff: number,
  ): boolean {
    const t = this.table(proto);
    if (!t) return false;
    this.step(t);
    if (t.lookupFrom4(src4, srcPort, dst4, proto === PROTO_ICMP ? 0 : dstPort) < 0) return false;
    t.writeBibIpv6(t.bib, out, outOff);
    this.resultPort = t.port6;
    return true;
  }

  errorFrom6(
    proto: number,
    src4: number,
    srcPort: number,
    host: Uint8Array,
    hostOff: number,
    hostPort: number,
  ): boolean {
    const t = this.table(proto);
    if (!t) return false;
    this.step(t);
    const rport = proto === PROTO_ICMP ? 0 : srcPort;
    if (t.lookupFrom6(host, hostOff, hostPort, src4, rport) < 0) return false;
    this.resultAddr4 = t.addr4;
    this.resultPort = t.port4;
    return true;
  }

  /**
   * SIGHUP: applies new pool4 and bib lines. Bindings that still fit keep their sessions;
   * the others end (mapping log reason `reload`). Other settings are not changed here.
   */
  reconfigure(settings: StatefulSettings): ReconfigureResult {
    this.shared.now = Math.floor(this.clock());
    const addrs = new Set<number>();
    const result = { kept: 0, ended: 0, sessionsEnded: 0, added: 0 };
    for (const name of ['tcp', 'udp', 'icmp'] as const) {
      const specs = poolSpecs(settings, name);
      for (const s of specs) addrs.add(s.addr);
      const statics = settings.bib
        .filter((b) => b.protocol === name)
        .map((b) => ({ ipv6: b.ipv6, port6: b.port6, ipv4: b.ipv4, port4: b.port4 }));
      const r = this[name].reconfigure(new PortPool(specs), statics);
      result.kept += r.kept;
      result.ended += r.ended;
      result.sessionsEnded += r.sessionsEnded;
      result.added += r.added;
    }
    this.poolAddrs = addrs;
    return result;
  }

  /** Every BIB entry, for `nat64d bib` (allocates; not on the packet path). */
  bibView(): BibView[] {
    const out: BibView[] = [];
    for (const t of [this.tcp, this.udp, this.icmp]) {
      t.forEachBib((b) => {
        out.push({
          ...this.bindingView(t, b),
          static: t.bibIsStatic(b),
          sessions: t.bibSessionCount(b),
        });
      });
    }
    return out;
  }

  /** Every session, for `nat64d sessions` (allocates; not on the packet path). */
  sessionView(): SessionView[] {
    this.shared.now = Math.floor(this.clock());
    const out: SessionView[] = [];
    for (const t of [this.tcp, this.udp, this.icmp]) {
      t.forEachSession((s) => {
        out.push({
          ...this.bindingView(t, t.sessionBib(s)),
          remote4: formatIpv4(t.sessionRemote4(s)),
          remotePort: t.sessionRemotePort(s),
          state: t.proto === PROTO_TCP ? TCP_STATE_NAMES[t.sessionState(s)]! : null,
          expiresIn: Math.max(0, t.sessionExpiry(s) - this.shared.now),
        });
      });
    }
    return out;
  }

  /** The binding `b` of table `t` as text, for bibView and sessionView. */
  private bindingView(t: SessionTable, b: number): BindingView {
    t.writeBibIpv6(b, this.scratch, 0);
    return {
      proto: PROTO_NAMES[t.proto]!,
      ipv6: formatIpv6(this.scratch),
      port6: t.bibPort6(b),
      ipv4: formatIpv4(t.bibAddr4(b)),
      port4: t.bibPort4(b),
    };
  }

  /** Ends every session (logging the end of each dynamic mapping). */
  shutdown(): void {
    this.shared.now = Math.floor(this.clock());
    this.tcp.clear();
    this.udp.clear();
    this.icmp.clear();
  }

  stats(): Record<NatProtocol, ProtocolStats> {
    const of = (t: SessionTable): ProtocolStats => ({
      bib: t.bibCount,
      sessions: t.sessionCount,
      bibCreated: t.counters.bibCreated,
      sessionsCreated: t.counters.sessionsCreated,
      sessionsExpired: t.counters.sessionsExpired,
      dropNoBib: t.counters.noBib,
      dropFiltered: t.counters.filtered,
      dropNotSyn: t.counters.notSyn,
      dropPoolExhausted: t.counters.poolExhausted,
      dropHostLimit: t.counters.hostLimit,
      dropTotalLimit: t.counters.totalLimit,
      poolPorts: t.pool.size,
      poolPortsFree: t.pool.freeCount,
    });
    return { tcp: of(this.tcp), udp: of(this.udp), icmp: of(this.icmp) };
  }

  /** Bytes held by all typed arrays of the state (tables, indexes, bitmaps, hosts). */
  get byteLength(): number {
    return this.tcp.byteLength + this.udp.byteLength + this.icmp.byteLength + this.hosts.byteLength;
  }

  /** Counts are kept by the tables; refusals at a limit are also logged, rate-limited. */
  private refused(t: SessionTable, code: number, src: Uint8Array, off: number): void {
    if (
      code !== Refusal.HOST_LIMIT &&
      code !== Refusal.TOTAL_LIMIT &&
      code !== Refusal.POOL_EXHAUSTED
    ) {
      return;
    }
    this.limitRefusals++;
    if (!this.limitLog) return;
    const now = this.shared.now;
    if (now - this.lastLimitLog < this.limitLogInterval) return;
    const what =
      code === Refusal.HOST_LIMIT
        ? `max-sessions-per-host (${this.shared.maxSessionsPerHost}) reached by ${formatIpv6(src.subarray(off, off + 16))}`
        : code === Refusal.TOTAL_LIMIT
          ? `max-sessions (${this.shared.maxSessions}) reached`
          : `pool4 exhausted`;
    this.lastLimitWhat = `${PROTO_NAMES[t.proto] ?? t.proto}: ${what}`;
    const since =
      this.lastLimitLog === -Infinity ? '' : ` (${this.limitRefusals} since the last message)`;
    this.limitLog(`stateful: new session refused, ${this.lastLimitWhat}${since}`);
    this.lastLimitLog = now;
    this.limitRefusals = 0;
  }

  /** One mapping-log line: time, event, protocol, IPv6 host#port, pool4#port, reason. */
  private formatMapping(t: SessionTable, bib: number, end: number): string {
    const time = new Date(this.clock() * 1000).toISOString();
    t.writeBibIpv6(bib, this.scratch, 0);
    const six = `${formatIpv6(this.scratch)}#${t.bibPort6(bib)}`;
    const four = `${formatIpv4(t.bibAddr4(bib))}#${t.bibPort4(bib)}`;
    const kind = t.bibIsStatic(bib) ? ' static' : '';
    const proto = PROTO_NAMES[t.proto] ?? String(t.proto);
    if (end < 0) return `${time} mapping-start ${proto} ${six} ${four}${kind}`;
    return `${time} mapping-end ${proto} ${six} ${four} ${END_REASON_NAMES[end] ?? 'unknown'}`;
  }
}
