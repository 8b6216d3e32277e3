/**
 * RFC 6146 state of one protocol (TCP, UDP or ICMP echo): the Binding Information Base (§3.1)
 * and the session table (§3.2), as structs of typed arrays with free lists and hash indexes
 * holding entry numbers (no JavaScript object per entry).
 *
 * BIB entry:  (IPv6 host address, port6) <-> (pool4 address, port4), static or dynamic.
 * Session:    BIB entry + remote IPv4 address and port (for ICMP the remote "port" is 0; the
 *             identifier is the BIB's port). The remote's IPv6 address is not stored: it is
 *             the RFC 6052 embedding of the IPv4 one (or a static map), derived by the core.
 *
 * Mapping is endpoint-independent (§3.5.1): one BIB entry serves every remote. Filtering is
 * endpoint-independent, or address-dependent when configured (an inbound packet needs a
 * session of the same BIB entry with the same remote address).
 *
 * Timeouts: sessions with the same lifetime sit in one doubly linked list ordered by expiry
 * (a refresh moves a session to the tail), so expiry is O(1) per session and `expire()` does
 * bounded work. Lookups also notice an expired session themselves (lazy expiry).
 */
import { HostTable, hashIpv6 } from './host-table.js';
import { PortPool } from './port-pool.js';
import { SlotIndex, hashStep, type IndexKeys } from './slot-index.js';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

/** TCP session states of RFC 6146 §3.5.2 (CLOSED = no session). */
export const TcpState = {
  CLOSED: 0,
  V4_INIT: 1,
  V6_INIT: 2,
  ESTABLISHED: 3,
  V4_FIN_RCV: 4,
  V6_FIN_RCV: 5,
  V4_FIN_V6_FIN_RCV: 6,
  TRANS: 7,
} as const;
export type TcpStateValue = (typeof TcpState)[keyof typeof TcpState];

export const TCP_STATE_NAMES = [
  'CLOSED',
  'V4 INIT',
  'V6 INIT',
  'ESTABLISHED',
  'V4 FIN RCV',
  'V6 FIN RCV',
  'V4 FIN + V6 FIN RCV',
  'TRANS',
] as const;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;

/** Negative results of outbound/inbound: why a packet was refused. */
export const Refusal = {
  /** Inbound: no BIB entry for the destination transport address. */
  NO_BIB: -1,
  /** Inbound: address-dependent filtering refused it. */
  FILTERED: -2,
  /** TCP: a packet other than SYN with no session (RFC 6146 §3.5.2.2). */
  NOT_SYN: -3,
  /** Outbound: no free port in pool4 for this protocol. */
  POOL_EXHAUSTED: -4,
  /** `max-sessions-per-host` reached. */
  HOST_LIMIT: -5,
  /** `max-sessions` reached. */
  TOTAL_LIMIT: -6,
} as const;

/** Why a mapping (BIB entry) or session ended, for the mapping log. */
export const EndReason = {
  TIMEOUT: 0,
  TCP_CLOSED: 1,
  TCP_RESET: 2,
  TCP_INCOMPLETE: 3,
  SHUTDOWN: 4,
  /** SIGHUP changed pool4 or the bib lines and the binding no longer fits. */
  RELOAD: 5,
} as const;
export const END_REASON_NAMES = [
  'timeout',
  'closed',
  'reset',
  'incomplete',
  'shutdown',
  'reload',
] as const;

/** What every protocol table shares: clock reading, limits, host counts, events. */
export interface NatShared {
  /** Seconds (integer) of the current packet, set by the owner from its clock. */
  now: number;
  readonly hosts: HostTable;
  readonly maxSessions: number;
  readonly maxSessionsPerHost: number;
  /** Sessions in all tables. */
  totalSessions: number;
  readonly addressDependentFiltering: boolean;
  /** Called when a dynamic or static mapping starts (end = -1) or a dynamic one ends. */
  onMapping: ((table: SessionTable, bib: number, end: number) => void) | null;
}

export interface Timeouts {
  /** UDP or ICMP session lifetime; for TCP the established lifetime. */
  readonly established: number;
  /** TCP transitory lifetime (V4/V6 INIT, FIN+FIN, TRANS); unused by UDP and ICMP. */
  readonly transitory: number;
}

export interface TableCounters {
  bibCreated: number;
  sessionsCreated: number;
  sessionsExpired: number;
  noBib: number;
  filtered: number;
  notSyn: number;
  poolExhausted: number;
  hostLimit: number;
  totalLimit: number;
}

const NONE = -1;
const LIST_EST = 0;
const LIST_TRANS = 1;
const BIB_USED = 1;
const BIB_STATIC = 2;
const INITIAL = 1024;

function word(a: Uint8Array, o: number): number {
  return (a[o]! << 24) | (a[o + 1]! << 16) | (a[o + 2]! << 8) | a[o + 3]!;
}

export class SessionTable {
  readonly counters: TableCounters = {
    bibCreated: 0,
    sessionsCreated: 0,
    sessionsExpired: 0,
    noBib: 0,
    filtered: 0,
    notSyn: 0,
    poolExhausted: 0,
    hostLimit: 0,
    totalLimit: 0,
  };

  // BIB entries.
  private bCap = 0;
  private bLive = 0;
  private bFree = NONE;
  private b6 = new Int32Array(0);
  private bPort6 = new Uint16Array(0);
  private b4 = new Int32Array(0);
  private bPort4 = new Uint16Array(0);
  /** Sessions of the entry; the free list's next link while free. */
  private bSessions = new Int32Array(0);
  private bHost = new Int32Array(0);
  private bFlags = new Uint8Array(0);
  private readonly bibBy6: SlotIndex;
  private readonly bibBy4: SlotIndex;

  // Sessions.
  private sCap = 0;
  private sLive = 0;
  private sFree = NONE;
  private sBib = new Int32Array(0);
  private sRemote = new Int32Array(0);
  private sRport = new Uint16Array(0);
  private sState = new Uint8Array(0);
  private sExpiry = new Uint32Array(0);
  private sPrev = new Int32Array(0);
  /** Expiry list link; the free list's next link while free. */
  private sNext = new Int32Array(0);
  private readonly sessionIndex: SlotIndex;
  private readonly adfIndex: SlotIndex | null;
  private readonly listHead = new Int32Array([NONE, NONE]);
  private readonly listTail = new Int32Array([NONE, NONE]);
  private readonly lifetime: [number, number];

  // Query registers for the index comparisons.
  private q0 = 0;
  private q1 = 0;
  private q2 = 0;
  private q3 = 0;
  private q4 = 0;

  /** Results of the last successful call: the pool4 side and the IPv6 side's port. */
  addr4 = 0;
  port4 = 0;
  port6 = 0;
  /** BIB entry of the last successful call. */
  bib = NONE;

  constructor(
    readonly proto: number,
    public pool: PortPool,
    private readonly shared: NatShared,
    timeouts: Timeouts,
  ) {
    this.lifetime = [timeouts.established, timeouts.transitory];
    const by6: IndexKeys = {
      hashOf: (e) => this.hashBib6(e),
      matches: (e) => {
        const k = e * 4;
        const a = this.b6;
        return (
          this.bPort6[e] === this.q4 &&
          a[k] === this.q0 &&
          a[k + 1] === this.q1 &&
          a[k + 2] === this.q2 &&
          a[k + 3] === this.q3
        );
      },
    };
    const by4: IndexKeys = {
      hashOf: (e) => hashStep(this.b4[e]!, this.bPort4[e]!),
      matches: (e) => this.b4[e] === this.q0 && this.bPort4[e] === this.q1,
    };
    const tuple: IndexKeys = {
      hashOf: (e) => hashStep(hashStep(this.sBib[e]!, this.sRemote[e]!), this.sRport[e]!),
      matches: (e) =>
        this.sBib[e] === this.q0 && this.sRemote[e] === this.q1 && this.sRport[e] === this.q2,
    };
    const adf: IndexKeys = {
      hashOf: (e) => hashStep(this.sBib[e]!, this.sRemote[e]!),
      matches: (e) => this.sBib[e] === this.q0 && this.sRemote[e] === this.q1,
    };
    this.bibBy6 = new SlotIndex(by6);
    this.bibBy4 = new SlotIndex(by4);
    this.sessionIndex = new SlotIndex(tuple);
    this.adfIndex = shared.addressDependentFiltering ? new SlotIndex(adf) : null;
    this.growBib();
    this.growSessions();
  }

  get bibCount(): number {
    return this.bLive;
  }

  get sessionCount(): number {
    return this.sLive;
  }

  /** Bytes of every typed array this table holds (excluding the shared host table). */
  get byteLength(): number {
    const arrays = [
      this.b6,
      this.bPort6,
      this.b4,
      this.bPort4,
      this.bSessions,
      this.bHost,
      this.bFlags,
      this.sBib,
      this.sRemote,
      this.sRport,
      this.sState,
      this.sExpiry,
      this.sPrev,
      this.sNext,
    ];
    let n = this.bibBy6.byteLength + this.bibBy4.byteLength + this.sessionIndex.byteLength;
    if (this.adfIndex) n += this.adfIndex.byteLength;
    for (const a of arrays) n += a.byteLength;
    return n + this.pool.byteLength;
  }

  // ---- field access for logs, stats and tests -------------------------------------------

  /** Writes the IPv6 host address of BIB entry `b` at out[off..off+16). */
  writeBibIpv6(b: number, out: Uint8Array, off: number): void {
    const k = b * 4;
    for (let w = 0; w < 4; w++) {
      const v = this.b6[k + w]!;
      out[off + w * 4] = v >>> 24;
      out[off + w * 4 + 1] = (v >>> 16) & 0xff;
      out[off + w * 4 + 2] = (v >>> 8) & 0xff;
      out[off + w * 4 + 3] = v & 0xff;
    }
  }

  bibPort6(b: number): number {
    return this.bPort6[b]!;
  }

  bibAddr4(b: number): number {
    return this.b4[b]! >>> 0;
  }

  bibPort4(b: number): number {
    return this.bPort4[b]!;
  }

  bibIsStatic(b: number): boolean {
    return (this.bFlags[b]! & BIB_STATIC) !== 0;
  }

  sessionState(s: number): number {
    return this.sState[s]!;
  }

  sessionExpiry(s: number): number {
    return this.sExpiry[s]!;
  }

  sessionBib(s: number): number {
    return this.sBib[s]!;
  }

  sessionRemote4(s: number): number {
    return this.sRemote[s]! >>> 0;
  }

  sessionRemotePort(s: number): number {
    return this.sRport[s]!;
  }

  bibSessionCount(b: number): number {
    return this.bSessions[b]!;
  }

  /** Calls `fn` with every live BIB entry (not on the packet path). */
  forEachBib(fn: (b: number) => void): void {
    for (let b = 0; b < this.bCap; b++) if ((this.bFlags[b]! & BIB_USED) !== 0) fn(b);
  }

  /** Calls `fn` with every live session, oldest expiry first per list (not on the packet path). */
  forEachSession(fn: (s: number) => void): void {
    for (let list = 0; list < 2; list++) {
      for (let s = this.listHead[list]!; s !== NONE; s = this.sNext[s]!) fn(s);
    }
  }

  /**
   * SIGHUP: takes `pool` (the new pool4 of this protocol) and `statics` (the new bib lines).
   * A binding whose pool4 transport address is still in the pool (or is now a static line's)
   * keeps its sessions; the others end with reason `reload` (the mapping log says so). Bib
   * lines no longer in the file turn into dynamic bindings while they have sessions. Not on
   * the packet path (it allocates).
   */
  reconfigure(
    pool: PortPool,
    statics: ReadonlyArray<{ ipv6: Uint8Array; port6: number; ipv4: number; port4: number }>,
  ): { kept: number; ended: number; sessionsEnded: number; added: number } {
    this.pool = pool;
    const key4 = (a: number, p: number) => `${a >>> 0}#${p}`;
    const key6 = (a: Uint8Array, o: number, p: number) =>
      `${Array.from(a.subarray(o, o + 16)).join('.')}#${p}`;
    const want4 = new Map<string, (typeof statics)[number]>();
    const want6 = new Set<string>();
    for (const st of statics) {
      want4.set(key4(st.ipv4, st.port4), st);
      want6.add(key6(st.ipv6, 0, st.port6));
    }
    const tmp = new Uint8Array(16);
    const doomed = new Set<number>();
    let kept = 0;
    this.forEachBib((b) => {
      const a4 = this.b4[b]! >>> 0;
      const p4 = this.bPort4[b]!;
      this.writeBibIpv6(b, tmp, 0);
      const k6 = key6(tmp, 0, this.bPort6[b]!);
      const st = want4.get(key4(a4, p4));
      if (st && key6(st.ipv6, 0, st.port6) === k6) {
        pool.reserve(a4, p4); // outside the ranges is fine for a static line
        this.bFlags[b]! |= BIB_STATIC;
        want4.delete(key4(a4, p4));
        kept++;
        return;
      }
      this.bFlags[b]! &= ~BIB_STATIC;
      const fits = pool.hasAddress(a4) && pool.reserve(a4, p4);
      if (!fits || st || want6.has(k6) || this.bSessions[b] === 0) doomed.add(b);
      else kept++;
    });
    let sessionsEnded = 0;
    if (doomed.size > 0) {
      const ends: number[] = [];
      this.forEachSession((s) => {
        if (doomed.has(this.sBib[s]!)) ends.push(s);
      });
      for (const s of ends) {
        this.bFlags[this.sBib[s]!]! &= ~BIB_STATIC;
        this.endSession(s, EndReason.RELOAD);
        sessionsEnded++;
      }
      // Former static entries without sessions.
      for (const b of doomed)
        if ((this.bFlags[b]! & BIB_USED) !== 0) this.freeBib(b, EndReason.RELOAD);
    }
    let added = 0;
    for (const st of want4.values()) {
      if (this.addStatic(st.ipv6, 0, st.port6, st.ipv4, st.port4)) added++;
    }
    return { kept, ended: doomed.size, sessionsEnded, added };
  }

  // ---- BIB ----------------------------------------------------------------------------------

  private hashBib6(e: number): number {
    const a = this.b6;
    const k = e * 4;
    return hashStep(
      hashStep(hashStep(hashStep(hashStep(0x6a09e667, a[k]!), a[k + 1]!), a[k + 2]!), a[k + 3]!),
      this.bPort6[e]!,
    );
  }

  /** BIB entry for (src[off..off+16), port6), or -1. */
  findBib6(src: Uint8Array, off: number, port6: number): number {
    this.q0 = word(src, off);
    this.q1 = word(src, off + 4);
    this.q2 = word(src, off + 8);
    this.q3 = word(src, off + 12);
    this.q4 = port6;
    return this.bibBy6.find(hashStep(hashIpv6(src, off), port6));
  }

  /** BIB entry for (addr4, port4), or -1. */
  findBib4(addr4: number, port4: number): number {
    this.q0 = addr4 | 0;
    this.q1 = port4;
    return this.bibBy4.find(hashStep(addr4 | 0, port4));
  }

  private newBib(
    src: Uint8Array,
    off: number,
    port6: number,
    addr4: number,
    port4: number,
    host: number,
    flags: number,
  ): number {
    if (this.bFree === NONE) this.growBib();
    const b = this.bFree;
    this.bFree = this.bSessions[b]!;
    const k = b * 4;
    this.b6[k] = word(src, off);
    this.b6[k + 1] = word(src, off + 4);
    this.b6[k + 2] = word(src, off + 8);
    this.b6[k + 3] = word(src, off + 12);
    this.bPort6[b] = port6;
    this.b4[b] = addr4 | 0;
    this.bPort4[b] = port4;
    this.bSessions[b] = 0;
    this.bHost[b] = host;
    this.bFlags[b] = BIB_USED | flags;
    this.bibBy6.insert(this.hashBib6(b), b);
    this.bibBy4.insert(hashStep(addr4 | 0, port4), b);
    this.bLive++;
    this.counters.bibCreated++;
    this.shared.onMapping?.(this, b, -1);
    return b;
  }

  private freeBib(b: number, reason: number): void {
    this.shared.onMapping?.(this, b, reason);
    this.bibBy6.remove(this.hashBib6(b), b);
    this.bibBy4.remove(hashStep(this.b4[b]!, this.bPort4[b]!), b);
    this.pool.release(this.b4[b]! >>> 0, this.bPort4[b]!);
    this.bFlags[b] = 0;
    this.bSessions[b] = this.bFree;
    this.bFree = b;
    this.bLive--;
  }

  /**
   * Adds a static BIB entry (`bib` line). False when the IPv4 transport address is taken or
   * outside pool4, or the IPv6 side already has an entry.
   */
  addStatic(src: Uint8Array, off: number, port6: number, addr4: number, port4: number): boolean {
    if (this.findBib6(src, off, port6) >= 0 || this.findBib4(addr4, port4) >= 0) return false;
    if (!this.pool.hasAddress(addr4)) return false;
    // A port inside a dynamic range is taken out of it; one outside the ranges is fine too.
    if (!this.pool.reserve(addr4, port4) && this.pool.isFree(addr4, port4)) return false;
    this.newBib(src, off, port6, addr4, port4, NONE, BIB_STATIC);
    return true;
  }

  // ---- sessions -----------------------------------------------------------------------------

  private findSession(bib: number, remote4: number, rport: number): number {
    this.q0 = bib;
    this.q1 = remote4 | 0;
    this.q2 = rport;
    return this.sessionIndex.find(hashStep(hashStep(bib, remote4 | 0), rport));
  }

  private listAppend(s: number, list: number): void {
    const tail = this.listTail[list]!;
    this.sPrev[s] = tail;
    this.sNext[s] = NONE;
    if (tail === NONE) this.listHead[list] = s;
    else this.sNext[tail] = s;
    this.listTail[list] = s;
  }

  private listRemove(s: number, list: number): void {
    const p = this.sPrev[s]!;
    const n = this.sNext[s]!;
    if (p === NONE) this.listHead[list] = n;
    else this.sNext[p] = n;
    if (n === NONE) this.listTail[list] = p;
    else this.sPrev[n] = p;
  }

  private listOf(state: number): number {
    if (this.proto !== PROTO_TCP) return LIST_EST;
    return state === TcpState.ESTABLISHED ||
      state === TcpState.V4_FIN_RCV ||
      state === TcpState.V6_FIN_RCV
      ? LIST_EST
      : LIST_TRANS;
  }

  /** Sets the state and restarts the lifetime of that state's list. */
  private setState(s: number, state: number): void {
    this.listRemove(s, this.listOf(this.sState[s]!));
    this.sState[s] = state;
    const list = this.listOf(state);
    this.sExpiry[s] = this.shared.now + this.lifetime[list]!;
    this.listAppend(s, list);
  }

  private refresh(s: number): void {
    this.setState(s, this.sState[s]!);
  }

  /** Checks the limits for a new session of `host` (its entry or -1). Refusal or 0. */
  private checkLimits(host: number): number {
    const sh = this.shared;
    if (sh.totalSessions >= sh.maxSessions) {
      this.counters.totalLimit++;
      return Refusal.TOTAL_LIMIT;
    }
    if (sh.hosts.sessions(host) >= sh.maxSessionsPerHost) {
      this.counters.hostLimit++;
      return Refusal.HOST_LIMIT;
    }
    return 0;
  }

  private newSession(bib: number, remote4: number, rport: number, state: number, host: number) {
    if (this.sFree === NONE) this.growSessions();
    const s = this.sFree;
    this.sFree = this.sNext[s]!;
    this.sBib[s] = bib;
    this.sRemote[s] = remote4 | 0;
    this.sRport[s] = rport;
    this.sState[s] = state;
    const list = this.listOf(state);
    this.sExpiry[s] = this.shared.now + this.lifetime[list]!;
    this.listAppend(s, list);
    this.sessionIndex.insert(hashStep(hashStep(bib, remote4 | 0), rport), s);
    this.adfIndex?.insert(hashStep(bib, remote4 | 0), s);
    this.bSessions[bib]!++;
    this.shared.hosts.increment(host);
    this.shared.totalSessions++;
    this.sLive++;
    this.counters.sessionsCreated++;
    return s;
  }

  /** Removes session `s`; its BIB entry goes with its last session unless static. */
  endSession(s: number, reason: number): void {
    const bib = this.sBib[s]!;
    const remote = this.sRemote[s]!;
    this.listRemove(s, this.listOf(this.sState[s]!));
    this.sessionIndex.remove(hashStep(hashStep(bib, remote), this.sRport[s]!), s);
    this.adfIndex?.remove(hashStep(bib, remote), s);
    this.sState[s] = 0;
    this.sNext[s] = this.sFree;
    this.sFree = s;
    this.sLive--;
    this.shared.totalSessions--;
    this.hostOfBib(bib, true);
    const left = --this.bSessions[bib]!;
    if (left === 0 && (this.bFlags[bib]! & BIB_STATIC) === 0) this.freeBib(bib, reason);
  }

  /** The host entry counting this BIB's sessions (static entries look it up each time). */
  private hostOfBib(bib: number, release: boolean): number {
    let h = this.bHost[bib]!;
    if (h === NONE) {
      const tmp = this.scratch;
      this.writeBibIpv6(bib, tmp, 0);
      h = release ? this.shared.hosts.find(tmp, 0) : this.shared.hosts.acquire(tmp, 0);
    }
    if (release && h !== NONE) this.shared.hosts.decrement(h);
    return h;
  }

  private readonly scratch = new Uint8Array(16);

  /**
   * Handles an expired session: TCP established-type sessions move to TRANS (the endpoints
   * get the transitory lifetime to show they are alive; no probe is sent), others end.
   * True when the session was removed.
   */
  private expireOne(s: number): boolean {
    const state = this.sState[s]!;
    this.counters.sessionsExpired++;
    if (this.proto === PROTO_TCP) {
      if (this.listOf(state) === LIST_EST) {
        this.setState(s, TcpState.TRANS);
        return false;
      }
      const reason =
        state === TcpState.V4_FIN_V6_FIN_RCV
          ? EndReason.TCP_CLOSED
          : state === TcpState.TRANS
            ? EndReason.TCP_RESET
            : EndReason.TCP_INCOMPLETE;
      this.endSession(s, reason);
      return true;
    }
    this.endSession(s, EndReason.TIMEOUT);
    return true;
  }

  /** Expires up to `budget` sessions whose lifetime ended by `now`; returns how many were handled. */
  expire(budget: number): number {
    const now = this.shared.now;
    let done = 0;
    for (let list = 0; list < 2; list++) {
      while (done < budget) {
        const s = this.listHead[list]!;
        if (s === NONE || this.sExpiry[s]! > now) break;
        this.expireOne(s);
        done++;
      }
    }
    return done;
  }

  /** Ends every session (shutdown), logging each dynamic mapping's end. */
  clear(): void {
    for (let list = 0; list < 2; list++) {
      for (let s = this.listHead[list]!; s !== NONE; s = this.listHead[list]!) {
        this.endSession(s, EndReason.SHUTDOWN);
      }
    }
  }

  /** A live session for the tuple (expired ones are handled first), or -1. */
  private liveSession(bib: number, remote4: number, rport: number): number {
    const s = this.findSession(bib, remote4, rport);
    if (s === NONE) return NONE;
    if (this.sExpiry[s]! <= this.shared.now && this.expireOne(s)) return NONE;
    return s;
  }

  /** TCP state machine of RFC 6146 §3.5.2.2 for an existing session. */
  private tcpStep(s: number, from6: boolean, flags: number): void {
    const state = this.sState[s]!;
    const syn = (flags & TCP_SYN) !== 0;
    const fin = (flags & TCP_FIN) !== 0;
    const rst = (flags & TCP_RST) !== 0;
    switch (state) {
      case TcpState.V4_INIT:
        if (from6 && syn) this.setState(s, TcpState.ESTABLISHED);
        else if (!from6 && syn) this.refresh(s);
        return;
      case TcpState.V6_INIT:
        if (!from6 && syn) this.setState(s, TcpState.ESTABLISHED);
        else if (from6 && syn) this.refresh(s);
        return;
      case TcpState.ESTABLISHED:
        if (rst) this.setState(s, TcpState.TRANS);
        else if (fin) this.setState(s, from6 ? TcpState.V6_FIN_RCV : TcpState.V4_FIN_RCV);
        else this.refresh(s);
        return;
      case TcpState.V4_FIN_RCV:
        if (from6 && fin) this.setState(s, TcpState.V4_FIN_V6_FIN_RCV);
        else this.refresh(s);
        return;
      case TcpState.V6_FIN_RCV:
        if (!from6 && fin) this.setState(s, TcpState.V4_FIN_V6_FIN_RCV);
        else this.refresh(s);
        return;
      case TcpState.V4_FIN_V6_FIN_RCV:
        return; // translated; the transitory lifetime runs out
      case TcpState.TRANS:
        if (!rst) this.setState(s, TcpState.ESTABLISHED);
        return;
    }
  }

  /**
   * A packet from the IPv6 host src[off..]#port6 to remote4#rport (for ICMP: port6 is the
   * identifier, rport 0). Returns the session (addr4/port4 set) or a negative Refusal.
   */
  outbound(
    src: Uint8Array,
    off: number,
    port6: number,
    remote4: number,
    rport: number,
    flags: number,
  ): number {
    let bib = this.findBib6(src, off, port6);
    let s = NONE;
    if (bib >= 0) s = this.liveSession(bib, remote4, rport);
    if (s >= 0) {
      if (this.proto === PROTO_TCP) this.tcpStep(s, true, flags);
      else this.refresh(s);
    } else {
      if (this.proto === PROTO_TCP && (flags & TCP_SYN) === 0) {
        this.counters.notSyn++;
        return Refusal.NOT_SYN;
      }
      const hosts = this.shared.hosts;
      const limit = this.checkLimits(hosts.find(src, off));
      if (limit < 0) return limit;
      // liveSession may have removed the last session and with it the BIB entry.
      if (bib >= 0 && (this.bFlags[bib]! & BIB_USED) === 0) bib = NONE;
      if (bib < 0) bib = this.findBib6(src, off, port6);
      if (bib < 0) {
        const port = this.pool.allocate(this.pool.preferredAddress(hashIpv6(src, off)), port6);
        if (port < 0) {
          this.counters.poolExhausted++;
          return Refusal.POOL_EXHAUSTED;
        }
        const host = hosts.acquire(src, off);
        bib = this.newBib(src, off, port6, this.pool.allocatedAddr, port, host, 0);
      }
      const host = this.hostOfBib(bib, false);
      const state = this.proto === PROTO_TCP ? TcpState.V6_INIT : 0;
      s = this.newSession(bib, remote4, rport, state, host);
    }
    this.bib = bib;
    this.addr4 = this.b4[bib]! >>> 0;
    this.port4 = this.bPort4[bib]!;
    this.port6 = port6;
    return s;
  }

  /**
   * A packet from remote4#rport to the pool4 transport address addr4#port4 (for ICMP:
   * port4 is the identifier, rport 0). Returns the session (bib/port6 set) or a negative
   * Refusal.
   */
  inbound(addr4: number, port4: number, remote4: number, rport: number, flags: number): number {
    const bib = this.findBib4(addr4, port4);
    if (bib < 0) {
      this.counters.noBib++;
      return Refusal.NO_BIB;
    }
    let s = this.liveSession(bib, remote4, rport);
    if (s >= 0) {
      if (this.proto === PROTO_TCP) this.tcpStep(s, false, flags);
      else this.refresh(s);
    } else {
      // liveSession may have ended the BIB's last session (and a dynamic BIB with it).
      if ((this.bFlags[bib]! & BIB_USED) === 0) {
        this.counters.noBib++;
        return Refusal.NO_BIB;
      }
      if (this.proto === PROTO_TCP && (flags & TCP_SYN) === 0) {
        this.counters.notSyn++;
        return Refusal.NOT_SYN;
      }
      if (this.adfIndex) {
        this.q0 = bib;
        this.q1 = remote4 | 0;
        if (this.adfIndex.find(hashStep(bib, remote4 | 0)) < 0) {
          this.counters.filtered++;
          return Refusal.FILTERED;
        }
      }
      const host = this.hostOfBib(bib, false);
      const limit = this.checkLimits(host);
      if (limit < 0) {
        if (this.shared.hosts.sessions(host) === 0) this.shared.hosts.decrement(host);
        return limit;
      }
      const state = this.proto === PROTO_TCP ? TcpState.V4_INIT : 0;
      s = this.newSession(bib, remote4, rport, state, host);
    }
    this.bib = bib;
    this.addr4 = addr4 >>> 0;
    this.port4 = port4;
    this.port6 = this.bPort6[bib]!;
    return s;
  }

  /**
   * The session of a packet this NAT64 sent to IPv4 (addr4#port4 -> remote4#rport), quoted in
   * an ICMPv4 error. No state changes. Session or -1 (bib/port6 set).
   */
  lookupFrom4(addr4: number, port4: number, remote4: number, rport: number): number {
    const bib = this.findBib4(addr4, port4);
    if (bib < 0) return NONE;
    const s = this.findSession(bib, remote4, rport);
    if (s < 0 || this.sExpiry[s]! <= this.shared.now) return NONE;
    this.bib = bib;
    this.port6 = this.bPort6[bib]!;
    return s;
  }

  /**
   * The session of a packet this NAT64 delivered to an IPv6 host (remote4#rport ->
   * host#port6), quoted in an ICMPv6 error. No state changes. Session or -1 (addr4/port4 set).
   */
  lookupFrom6(host: Uint8Array, off: number, port6: number, remote4: number, rport: number) {
    const bib = this.findBib6(host, off, port6);
    if (bib < 0) return NONE;
    const s = this.findSession(bib, remote4, rport);
    if (s < 0 || this.sExpiry[s]! <= this.shared.now) return NONE;
    this.bib = bib;
    this.addr4 = this.b4[bib]! >>> 0;
    this.port4 = this.bPort4[bib]!;
    return s;
  }

  // ---- growth -------------------------------------------------------------------------------

  private growBib(): void {
    const old = this.bCap;
    const cap = old === 0 ? INITIAL : old * 2;
    const grow32 = (a: Int32Array, n: number) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const grow16 = (a: Uint16Array, n: number) => {
      const b = new Uint16Array(n);
      b.set(a);
      return b;
    };
    this.b6 = grow32(this.b6, cap * 4);
    this.bPort6 = grow16(this.bPort6, cap);
    this.b4 = grow32(this.b4, cap);
    this.bPort4 = grow16(this.bPort4, cap);
    this.bSessions = grow32(this.bSessions, cap);
    this.bHost = grow32(this.bHost, cap);
    const flags = new Uint8Array(cap);
    flags.set(this.bFlags);
    this.bFlags = flags;
    for (let i = cap - 1; i >= old; i--) {
      this.bSessions[i] = this.bFree;
      this.bFree = i;
    }
    this.bCap = cap;
  }

  private growSessions(): void {
    const old = this.sCap;
    const cap = old === 0 ? INITIAL : old * 2;
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.sBib = g32(this.sBib);
    this.sRemote = g32(this.sRemote);
    this.sPrev = g32(this.sPrev);
    this.sNext = g32(this.sNext);
    const rport = new Uint16Array(cap);
    rport.set(this.sRport);
    this.sRport = rport;
    const state = new Uint8Array(cap);
    state.set(this.sState);
    this.sState = state;
    const expiry = new Uint32Array(cap);
    expiry.set(this.sExpiry);
    this.sExpiry = expiry;
    for (let i = cap - 1; i >= old; i--) {
      this.sNext[i] = this.sFree;
      this.sFree = i;
    }
    this.sCap = cap;
  }
}
