/**
 * Parser for Tayga's configuration file (tayga.conf(5)): one directive per line, its value(s)
 * separated by blanks, `#` starts a comment. Keys are matched case-insensitively like Tayga.
 * Every problem is collected with its line; the first pass checks each directive on its own,
 * the second checks directives against each other (map conflicts, prefix, pool, addresses).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  WELL_KNOWN_PREFIX,
  embedIpv4,
  isGlobalIpv4,
  isRfc6052PrefixLength,
  prefixProblem,
} from 'nat64-addr';
import type { Nat64Prefix, UdpChecksumMode } from '../core/types.js';
import {
  formatIpv4,
  formatIpv4Net,
  formatIpv6,
  formatIpv6Net,
  ipv4InNet,
  ipv4Overlap,
  ipv6InNet,
  ipv6Overlap,
  parseIpv4,
  parseIpv4Net,
  parseIpv6,
  parseIpv6Net,
  reservedIpv4,
  reservedIpv6,
  type Ipv4Net,
} from './addr.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import {
  reportKeyProblem,
  reportUrlProblem,
  resolveReport,
  type ReportSettings,
} from './report.js';
import {
  NAT_PROTOCOLS,
  type Nat64dConfig,
  type NatProtocol,
  type Pool4Entry,
  type StaticBibEntry,
  type StaticMapEntry,
} from './types.js';

export const DEFAULT_TUN_MTU = 1500;
/**
 * TUN transmit queue: packets the kernel holds for the daemon. The kernel's 500 overflows
 * while a busy machine or a garbage collection keeps the packet loop off the CPU for a few
 * milliseconds at line rate (BENCHMARKS.md: most 64-byte UDP losses were these drops).
 */
export const DEFAULT_TUN_QUEUE_LEN = 4096;
const MIN_TUN_QUEUE_LEN = 16;
const MAX_TUN_QUEUE_LEN = 65536;
export const IPV6_MIN_MTU = 1280;
export const DEFAULT_METRICS = '127.0.0.1:9164';
/** ICMP errors the translator originates per second (and at once), per address family. */
export const DEFAULT_ICMP_ERROR_RATE = 100;
const MAX_ICMP_ERROR_RATE = 1_000_000;
/** Tayga's `log` values (0.9.4 and later). */
const TAYGA_LOG_VALUES = ['drop', 'reject', 'icmp', 'self', 'dyn'];
/** Stateful defaults (also in src/stateful): one million sessions, 4096 per IPv6 host. */
export const DEFAULT_MAX_SESSIONS = 1_000_000;
export const DEFAULT_MAX_SESSIONS_PER_HOST = 4096;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
const IFNAMSIZ = 16;

interface Draft {
  tunDevice?: string;
  ipv4Addr?: number;
  ipv6Addr?: Uint8Array;
  prefix?: Nat64Prefix;
  dynamicPool?: Ipv4Net;
  maps: StaticMapEntry[];
  dataDir?: string;
  strictFragHdr?: boolean;
  wkpfStrict?: boolean;
  udpChecksumMode?: UdpChecksumMode;
  offlinkMtu?: number;
  tunUp?: boolean;
  tunMtu?: number;
  tunQueueLen?: number;
  metrics?: string | null;
  pool4: Pool4Entry[];
  bib: StaticBibEntry[];
  udpTimeout?: number;
  tcpEstTimeout?: number;
  tcpTransTimeout?: number;
  icmpTimeout?: number;
  addressDependentFiltering?: boolean;
  maxSessions?: number;
  maxSessionsPerHost?: number;
  logMappings?: boolean | string;
  pool4PortOverlap?: 'refuse' | 'warn';
  icmpErrorRate?: number;
  icmpErrorBurst?: number;
  tunIps: string[];
  tunRoutes: string[];
  mapFile?: string;
  /** Accepted Tayga keys nat64d does not act on, with the reason (reported as warnings). */
  warnings: ConfigIssue[];
  reportUrl?: string;
  reportKey?: string;
  /** report-url/report-key merged with the environment (src/config/report.ts). */
  report?: ReportSettings | null;
  /** Line of each single-instance directive seen, to report duplicates and cross-checks. */
  lines: Map<string, number>;
}

type Handler = (
  draft: Draft,
  args: readonly string[],
  fail: (reason: string) => void,
  line: number,
) => void;

interface Directive {
  /** Number of values (the least when maxArgs is given). */
  readonly args: number;
  /** Largest number of values, when it may vary. */
  readonly maxArgs?: number;
  /** May appear more than once (`map`, `pool4`, `bib`). */
  readonly repeatable?: boolean;
  readonly parse: Handler;
}

function parseBoolean(value: string): boolean | null {
  const v = value.toLowerCase();
  if (v === 'yes' || v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'no' || v === 'off' || v === 'false' || v === '0') return false;
  return null;
}

function booleanDirective(key: string, set: (d: Draft, v: boolean) => void): Directive {
  return {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const b = parseBoolean(value);
      if (b === null) fail(`${key} ${value}: expected yes or no`);
      else set(draft, b);
    },
  };
}

function mtuDirective(key: string, set: (d: Draft, v: number) => void): Directive {
  return {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const n = /^\d{1,6}$/.test(value) ? Number(value) : NaN;
      if (!(n >= IPV6_MIN_MTU && n <= 65535)) {
        fail(`${key} ${value}: must be a number of bytes from ${IPV6_MIN_MTU} to 65535`);
      } else set(draft, n);
    },
  };
}

/** Largest session lifetime accepted (30 days), seconds. */
export const MAX_TIMEOUT = 2_592_000;
const MAX_SESSIONS_LIMIT = 100_000_000;

function secondsDirective(
  key: string,
  min: number,
  note: string,
  set: (d: Draft, v: number) => void,
): Directive {
  return {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
      if (!(n >= min && n <= MAX_TIMEOUT)) {
        fail(`${key} ${value}: must be a number of seconds from ${min} to ${MAX_TIMEOUT}${note}`);
      } else set(draft, n);
    },
  };
}

function countDirective(key: string, set: (d: Draft, v: number) => void): Directive {
  return {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= MAX_SESSIONS_LIMIT)) {
        fail(`${key} ${value}: must be a number from 1 to ${MAX_SESSIONS_LIMIT}`);
      } else set(draft, n);
    },
  };
}

function parseProtocol(text: string): NatProtocol | null {
  const p = text.toLowerCase();
  return NAT_PROTOCOLS.find((x) => x === p) ?? null;
}

/** `first-last` port range; a reason string when invalid. */
function parsePortRange(text: string): { first: number; last: number } | string {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  if (!m) return `expected a port range first-last, found "${text}"`;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first > 65535 || last > 65535) return `port range ${text}: ports go up to 65535`;
  if (first > last) return `port range ${text}: first port above last`;
  return { first, last };
}

/** `address#port`: a reason string when invalid. */
function splitPort(text: string): { addr: string; port: number } | string {
  const hash = text.lastIndexOf('#');
  if (hash < 0) return `expected address#port, found "${text}"`;
  const portText = text.slice(hash + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) return `bad port "${portText}" in "${text}"`;
  return { addr: text.slice(0, hash), port };
}

function parsePool4(args: readonly string[], line: number, fail: (r: string) => void) {
  const what = `pool4 ${args.join(' ')}`;
  const [addrText = ''] = args;
  const protoText = args.length === 3 ? (args[1] ?? '') : null;
  const rangeText = args[args.length - 1] ?? '';
  const net = parseIpv4Net(addrText, 32);
  if (!net.ok) return fail(`${what}: ${net.reason}`);
  if (net.value.length < 16) return fail(`${what}: at most 65536 addresses (/16 or longer)`);
  const reserved = reservedIpv4(net.value.addr);
  if (reserved) return fail(`${what}: ${reserved}`);
  let protocols: readonly NatProtocol[] = NAT_PROTOCOLS;
  if (protoText !== null) {
    const p = parseProtocol(protoText);
    if (!p) return fail(`${what}: unknown protocol "${protoText}" (tcp, udp or icmp)`);
    protocols = [p];
  }
  const range = parsePortRange(rangeText);
  if (typeof range === 'string') return fail(`${what}: ${range}`);
  if (range.first === 0 && protocols.some((p) => p !== 'icmp')) {
    return fail(`${what}: port 0 cannot be used for tcp or udp`);
  }
  const entry: Pool4Entry = { net: net.value, protocols, ...range, line };
  return entry;
}

function parseBib(args: readonly string[], line: number, fail: (r: string) => void) {
  const what = `bib ${args.join(' ')}`;
  const [protoText = '', sixText = '', fourText = ''] = args;
  const protocol = parseProtocol(protoText);
  if (!protocol) return fail(`${what}: unknown protocol "${protoText}" (tcp, udp or icmp)`);
  const six = splitPort(sixText);
  if (typeof six === 'string') return fail(`${what}: IPv6 side: ${six}`);
  const four = splitPort(fourText);
  if (typeof four === 'string') return fail(`${what}: IPv4 side: ${four}`);
  const v6 = parseIpv6(six.addr);
  if (!v6.ok) return fail(`${what}: IPv6 side: ${v6.reason}`);
  const v4 = parseIpv4(four.addr);
  if (!v4.ok) return fail(`${what}: IPv4 side: ${v4.reason}`);
  const r6 = reservedIpv6(v6.value);
  if (r6) return fail(`${what}: IPv6 side: ${r6}`);
  if (protocol !== 'icmp' && (six.port === 0 || four.port === 0)) {
    return fail(`${what}: port 0 cannot be used for ${protocol}`);
  }
  const entry: StaticBibEntry = {
    protocol,
    ipv6: v6.value,
    port6: six.port,
    ipv4: v4.value,
    port4: four.port,
    line,
  };
  return entry;
}

/** The directive table. */
const DIRECTIVES: Readonly<Record<string, Directive>> = {
  'tun-device': {
    args: 1,
    parse: (draft, [name = ''], fail) => {
      if (name.length >= IFNAMSIZ) fail(`tun-device ${name}: longer than ${IFNAMSIZ - 1} bytes`);
      else if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
        fail(`tun-device ${name}: not a valid interface name`);
      } else draft.tunDevice = name;
    },
  },
  'ipv4-addr': {
    args: 1,
    parse: (draft, [text = ''], fail) => {
      const a = parseIpv4(text);
      if (!a.ok) return fail(`ipv4-addr ${text}: ${a.reason}`);
      const reserved = reservedIpv4(a.value);
      if (reserved) return fail(`ipv4-addr ${text}: ${reserved}`);
      draft.ipv4Addr = a.value;
    },
  },
  'ipv6-addr': {
    args: 1,
    parse: (draft, [text = ''], fail) => {
      const a = parseIpv6(text);
      if (!a.ok) return fail(`ipv6-addr ${text}: ${a.reason}`);
      const reserved = reservedIpv6(a.value);
      if (reserved) return fail(`ipv6-addr ${text}: ${reserved}`);
      draft.ipv6Addr = a.value;
    },
  },
  prefix: {
    args: 1,
    parse: (draft, [text = ''], fail) => {
      const net = parseIpv6Net(text);
      if (!net.ok) return fail(`prefix ${text}: ${net.reason}`);
      // parseIpv6Net has refused host bits already, with its own wording.
      const length = net.value.length;
      const problem = prefixProblem(net.value.bytes, length);
      if (problem === 'length' || !isRfc6052PrefixLength(length)) {
        return fail(`prefix ${text}: RFC 6052 allows only /32, /40, /48, /56, /64 or /96`);
      }
      if (problem === 'u-octet') {
        return fail(`prefix ${text}: bits 64 to 71 must be zero (RFC 6052 section 2.2)`);
      }
      const reserved = reservedIpv6(net.value.bytes);
      if (reserved) return fail(`prefix ${text}: ${reserved}`);
      if (
        ipv6Overlap(net.value, WELL_KNOWN_PREFIX) &&
        (length !== 96 || !ipv6InNet(net.value.bytes, 0, WELL_KNOWN_PREFIX))
      ) {
        return fail(`prefix ${text}: the Well-Known Prefix 64:ff9b::/96 is only usable as a /96`);
      }
      draft.prefix = { bytes: net.value.bytes, length };
    },
  },
  'dynamic-pool': {
    args: 1,
    parse: (draft, [text = ''], fail) => {
      const net = parseIpv4Net(text);
      if (!net.ok) return fail(`dynamic-pool ${text}: ${net.reason}`);
      if (net.value.length > 31) {
        return fail(
          `dynamic-pool ${text}: must be /31 or shorter (its lowest address is reserved)`,
        );
      }
      const reserved = reservedIpv4(net.value.addr);
      if (reserved) return fail(`dynamic-pool ${text}: ${reserved}`);
      draft.dynamicPool = net.value;
    },
  },
  map: {
    args: 2,
    repeatable: true,
    parse: () => undefined, // needs the line number: handled in parseTaygaConf
  },
  'data-dir': {
    args: 1,
    parse: (draft, [path = ''], fail) => {
      if (!path.startsWith('/')) fail(`data-dir ${path}: must be an absolute path`);
      else draft.dataDir = path.length > 1 ? path.replace(/\/+$/, '') : path;
    },
  },
  'strict-frag-hdr': booleanDirective('strict-frag-hdr', (d, v) => (d.strictFragHdr = v)),
  'wkpf-strict': booleanDirective('wkpf-strict', (d, v) => (d.wkpfStrict = v)),
  'udp-cksum-mode': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const v = value.toLowerCase();
      if (v === 'drop') draft.udpChecksumMode = 'drop';
      else if (v === 'forward' || v === 'fwd') draft.udpChecksumMode = 'forward';
      else if (v === 'calc') draft.udpChecksumMode = 'calc';
      else fail(`udp-cksum-mode ${value}: expected drop, forward (or fwd) or calc`);
    },
  },
  'offlink-mtu': mtuDirective('offlink-mtu', (d, v) => (d.offlinkMtu = v)),
  // Our extensions (not in Tayga 0.9.2; tun-up exists in newer Tayga with the same meaning).
  'tun-up': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      // Tayga 0.9.4+ documents "yes" or "up".
      const b = value.toLowerCase() === 'up' ? true : parseBoolean(value);
      if (b === null) fail(`tun-up ${value}: expected yes or no`);
      else draft.tunUp = b;
    },
  },
  'tun-mtu': mtuDirective('tun-mtu', (d, v) => (d.tunMtu = v)),
  'tun-queue-len': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const n = /^\d{1,6}$/.test(value) ? Number(value) : NaN;
      if (!(n >= MIN_TUN_QUEUE_LEN && n <= MAX_TUN_QUEUE_LEN)) {
        fail(
          `tun-queue-len ${value}: must be a number of packets from ${MIN_TUN_QUEUE_LEN} to ${MAX_TUN_QUEUE_LEN}`,
        );
      } else draft.tunQueueLen = n;
    },
  },
  metrics: {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const r = parseListenAddress(value);
      if (typeof r === 'string') fail(`metrics ${value}: ${r}`);
      else draft.metrics = r === null ? null : value;
    },
  },
  'icmp-error-rate': {
    args: 1,
    maxArgs: 2,
    parse: (draft, [rate = '', burst], fail) => {
      const n = (t: string) => (/^\d{1,7}$/.test(t) ? Number(t) : NaN);
      const r = n(rate);
      const b = burst === undefined ? Math.max(r, 1) : n(burst);
      if (!(r >= 0 && r <= MAX_ICMP_ERROR_RATE)) {
        fail(`icmp-error-rate ${rate}: must be errors per second from 0 to ${MAX_ICMP_ERROR_RATE}`);
      } else if (!(b >= 1 && b <= MAX_ICMP_ERROR_RATE)) {
        fail(
          `icmp-error-rate ${rate} ${burst ?? ''}: burst must be from 1 to ${MAX_ICMP_ERROR_RATE}`,
        );
      } else {
        draft.icmpErrorRate = r;
        draft.icmpErrorBurst = b;
      }
    },
  },
  // Tayga 0.9.4+ keys.
  log: {
    args: 0,
    maxArgs: 8,
    parse: (draft, args, fail, line) => {
      const bad = args.find((a) => !TAYGA_LOG_VALUES.includes(a.toLowerCase()));
      if (bad !== undefined) return fail(`log ${bad}: expected ${TAYGA_LOG_VALUES.join(', ')}`);
      if (args.length === 0) return;
      draft.warnings.push({
        file: '',
        line,
        reason:
          `log ${args.join(' ')}: nat64d does not log packets; ` +
          '`nat64d stats` and /metrics count every drop, ICMP error and local packet by reason',
      });
    },
  },
  workers: {
    args: 1,
    parse: (draft, [value = ''], fail, line) => {
      if (!/^\d{1,3}$/.test(value)) return fail(`workers ${value}: expected a number`);
      draft.warnings.push({
        file: '',
        line,
        reason: `workers ${value}: ignored, nat64d translates in one packet loop`,
      });
    },
  },
  'map-file': {
    args: 1,
    parse: (draft, [path = '']) => {
      draft.mapFile = path;
    },
  },
  'tun-ip': {
    args: 1,
    repeatable: true,
    parse: (draft, [text = ''], fail) => {
      const r = parseInterfaceAddress(text);
      if (typeof r === 'string') fail(`tun-ip ${text}: ${r}`);
      else draft.tunIps.push(r.value);
    },
  },
  'tun-route': {
    args: 1,
    repeatable: true,
    parse: (draft, [text = ''], fail) => {
      const r = text.includes(':') ? parseIpv6Net(text, 128) : parseIpv4Net(text, 32);
      if (!r.ok) fail(`tun-route ${text}: ${r.reason}`);
      else
        draft.tunRoutes.push(
          text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`,
        );
    },
  },
  // Reports to the resolver that this gateway is alive (src/config/report.ts).
  'report-url': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const problem = reportUrlProblem(value);
      if (problem) fail(`report-url ${value}: ${problem}`);
      else draft.reportUrl = value;
    },
  },
  'report-key': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const problem = reportKeyProblem(value);
      if (problem) fail(`report-key: ${problem}`);
      else draft.reportKey = value;
    },
  },
  // Stateful NAT64 (RFC 6146).
  pool4: {
    args: 2,
    maxArgs: 3,
    repeatable: true,
    parse: (draft, args, fail, line) => {
      const entry = parsePool4(args, line, fail);
      if (entry) draft.pool4.push(entry);
    },
  },
  bib: {
    args: 3,
    repeatable: true,
    parse: (draft, args, fail, line) => {
      const entry = parseBib(args, line, fail);
      if (entry) draft.bib.push(entry);
    },
  },
  'udp-timeout': secondsDirective(
    'udp-timeout',
    120,
    ' (RFC 6146 section 3.5.1: at least 2 minutes)',
    (d, v) => (d.udpTimeout = v),
  ),
  'tcp-est-timeout': secondsDirective(
    'tcp-est-timeout',
    7440,
    ' (RFC 6146 section 3.5.2.2: at least 2 hours 4 minutes)',
    (d, v) => (d.tcpEstTimeout = v),
  ),
  'tcp-trans-timeout': secondsDirective(
    'tcp-trans-timeout',
    240,
    ' (RFC 6146 section 3.5.2.2: at least 4 minutes)',
    (d, v) => (d.tcpTransTimeout = v),
  ),
  'icmp-timeout': secondsDirective('icmp-timeout', 1, '', (d, v) => (d.icmpTimeout = v)),
  'address-dependent-filtering': booleanDirective(
    'address-dependent-filtering',
    (d, v) => (d.addressDependentFiltering = v),
  ),
  'max-sessions': countDirective('max-sessions', (d, v) => (d.maxSessions = v)),
  'max-sessions-per-host': countDirective(
    'max-sessions-per-host',
    (d, v) => (d.maxSessionsPerHost = v),
  ),
  'log-mappings': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const b = parseBoolean(value);
      if (b !== null) draft.logMappings = b;
      else if (value.startsWith('/')) draft.logMappings = value;
      else fail(`log-mappings ${value}: expected yes, no or an absolute file path`);
    },
  },
  'pool4-port-overlap': {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const v = value.toLowerCase();
      if (v === 'refuse' || v === 'warn') draft.pool4PortOverlap = v;
      else fail(`pool4-port-overlap ${value}: expected refuse or warn`);
    },
  },
};

/** Keys that only make sense with pool4 lines. */
const STATEFUL_KEYS = [
  'bib',
  'udp-timeout',
  'tcp-est-timeout',
  'tcp-trans-timeout',
  'icmp-timeout',
  'address-dependent-filtering',
  'max-sessions',
  'max-sessions-per-host',
  'log-mappings',
  'pool4-port-overlap',
] as const;

/** Tayga's `tun-ip`: an IPv4 or IPv6 address with an optional /length (host bits allowed). */
function parseInterfaceAddress(text: string): { value: string } | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const v6 = addr.includes(':');
  const max = v6 ? 128 : 32;
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return `bad prefix length "/${lenText}"`;
  const parsed = v6 ? parseIpv6(addr) : parseIpv4(addr);
  if (!parsed.ok) return parsed.reason;
  return { value: `${addr}/${lenText}` };
}

/** `host:port`, `[v6]:port` or `off`: returns null for off, a reason string when invalid. */
export function parseListenAddress(value: string): { host: string; port: number } | null | string {
  if (value === 'off' || value === 'no') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || !(port > 0 && port < 65536)) {
    return 'expected host:port, [ipv6]:port or off';
  }
  if (m[1] !== undefined ? !parseIpv6(host).ok : !parseIpv4(host).ok) return 'bad address';
  return { host, port };
}

function parseMap(args: readonly string[], line: number, fail: (r: string) => void) {
  const [v4text = '', v6text = ''] = args;
  const what = `map ${v4text} ${v6text}`;
  const v4 = parseIpv4Net(v4text, 32);
  if (!v4.ok) return fail(`${what}: IPv4 side: ${v4.reason}`);
  const v6 = parseIpv6Net(v6text, 128);
  if (!v6.ok) return fail(`${what}: IPv6 side: ${v6.reason}`);
  if (32 - v4.value.length !== 128 - v6.value.length) {
    return fail(
      `${what}: the IPv4 and IPv6 sides differ in size ` +
        `(${32 - v4.value.length} and ${128 - v6.value.length} host bits)`,
    );
  }
  const r4 = reservedIpv4(v4.value.addr);
  if (r4) return fail(`${what}: IPv4 side: ${r4}`);
  const r6 = reservedIpv6(v6.value.bytes);
  if (r6) return fail(`${what}: IPv6 side: ${r6}`);
  return { ipv4: v4.value, ipv6: v6.value, line };
}

export interface ParseOptions {
  /** Used when the file has no data-dir, like Tayga (systemd's StateDirectory=). */
  readonly stateDirectory?: string | undefined;
  /** NAT64D_REPORT_URL and NAT64D_REPORT_KEY, which win over report-url and report-key. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Reads `map-file` (default: readFileSync). */
  readonly readFile?: (path: string) => string;
}

/**
 * Tayga's `map-file`: more `map` lines in their own file, absolute or relative to data-dir
 * (or STATE_DIRECTORY). Its lines join the map lines of the main file (and are re-read with
 * it on SIGHUP); problems are reported as `map-file:line: reason`.
 */
function readMapFile(
  draft: Draft,
  file: string,
  issues: ConfigIssue[],
  options: ParseOptions,
): string | null {
  const given = draft.mapFile;
  if (given === undefined) return null;
  const confLine = draft.lines.get('map-file') ?? 0;
  const base = draft.dataDir ?? options.stateDirectory?.split(':')[0];
  if (!isAbsolute(given) && !base) {
    issues.push({ file, line: confLine, reason: `map-file ${given}: relative, and no data-dir` });
    return null;
  }
  const path = isAbsolute(given) ? given : join(base!, given);
  let text: string;
  try {
    text = (options.readFile ?? ((f: string) => readFileSync(f, 'utf8')))(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    issues.push({ file, line: confLine, reason: `map-file ${path}: cannot read: ${code}` });
    return null;
  }
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const fail = (reason: string) => issues.push({ file: path, line, reason });
    const hash = raw.search(/(^|\s)#/);
    const [key, ...args] = (hash >= 0 ? raw.slice(0, hash) : raw).split(/\s+/).filter(Boolean);
    if (key === undefined) return;
    if (key.toLowerCase() !== 'map')
      return fail(`only map lines belong in a map-file, found "${key}"`);
    if (args.length !== 2) return fail(`map: expects 2 values, found ${args.length}`);
    const entry = parseMap(args, line, fail);
    if (entry) draft.maps.push(entry);
  });
  return path;
}

/** Levenshtein distance between two short strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known key nearest to an unknown one, for "did you mean": at most 2 edits (1 for keys
 * of up to 4 letters), and only when one key is nearest.
 */
export function closestKey(key: string, known: readonly string[]): string | null {
  const limit = key.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestDistance = limit + 1;
  let tie = false;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance) tie = true;
  }
  return best !== null && !tie ? best : null;
}

/** Parses and validates the text of a tayga.conf. Throws ConfigError with every issue found. */
export function parseTaygaConf(
  text: string,
  file: string,
  options: ParseOptions = {},
): Nat64dConfig {
  const issues: ConfigIssue[] = [];
  const draft: Draft = {
    maps: [],
    pool4: [],
    bib: [],
    tunIps: [],
    tunRoutes: [],
    warnings: [],
    lines: new Map(),
  };
  /** Lines of repeatable stateful directives, for "only with pool4" messages. */
  const bibLines: number[] = [];
  const lines = text.split(/\r?\n/);

  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (reason: string) => issues.push({ file, line, reason });
    // `#` starts a comment at the start of a line or after a blank; inside a value it is
    // the port separator of `bib` lines (address#port).
    const hash = raw.search(/(^|\s)#/);
    const tokens = (hash >= 0 ? raw.slice(0, hash) : raw).split(/[\s]+/).filter(Boolean);
    const [keyText, ...args] = tokens;
    if (keyText === undefined) return;
    const key = keyText.toLowerCase();
    const directive = Object.hasOwn(DIRECTIVES, key) ? DIRECTIVES[key] : undefined;
    if (!directive) {
      const near = closestKey(key, Object.keys(DIRECTIVES));
      return fail(`unknown key "${keyText}"` + (near ? ` (did you mean "${near}"?)` : ''));
    }
    const most = directive.maxArgs ?? directive.args;
    if (args.length < directive.args || args.length > most) {
      const want =
        most !== directive.args
          ? `${directive.args} or ${most} values`
          : directive.args === 1
            ? '1 value'
            : `${directive.args} values`;
      return fail(`${key}: expects ${want}, found ${args.length}`);
    }
    if (!directive.repeatable) {
      const first = draft.lines.get(key);
      if (first !== undefined) return fail(`${key}: duplicate (first given on line ${first})`);
      draft.lines.set(key, line);
    }
    if (key === 'map') {
      const entry = parseMap(args, line, fail);
      if (entry) draft.maps.push(entry);
      return;
    }
    if (key === 'bib') bibLines.push(line);
    directive.parse(draft, args, fail, line);
  });

  if (draft.pool4.length === 0 && issues.length === 0) {
    // Stateful keys without pool4: reported on their own lines.
    for (const key of STATEFUL_KEYS) {
      const lines =
        key === 'bib' ? bibLines : [draft.lines.get(key)].filter((l) => l !== undefined);
      for (const line of lines) {
        issues.push({ file, line, reason: `${key}: only valid with pool4 (stateful NAT64)` });
      }
    }
    issues.sort((a, b) => a.line - b.line);
  }
  const mapFile = issues.length === 0 ? readMapFile(draft, file, issues, options) : null;
  const reportLines = {
    url: draft.reportUrl,
    urlLine: draft.lines.get('report-url'),
    key: draft.reportKey,
    keyLine: draft.lines.get('report-key'),
  };
  draft.report = resolveReport(file, reportLines, options.env ?? {}, issues);
  if (issues.length === 0) validate(draft, file, issues, options);
  if (issues.length > 0) throw new ConfigError(issues);
  return finish(draft, file, options, mapFile);
}

export function readTaygaConf(file: string, options: ParseOptions = {}): Nat64dConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError([{ file, line: 0, reason: `cannot read: ${code}` }]);
  }
  return parseTaygaConf(text, file, options);
}

/** Cross-directive checks; only run when every line parsed. */
function validate(draft: Draft, file: string, issues: ConfigIssue[], options: ParseOptions): void {
  const at = (line: number, reason: string) => issues.push({ file, line, reason });
  const lineOf = (key: string) => draft.lines.get(key) ?? 0;

  if (draft.tunDevice === undefined) at(0, 'no tun-device directive');
  if (draft.ipv4Addr === undefined) at(0, 'no ipv4-addr directive');
  if (draft.prefix === undefined) {
    at(0, 'no prefix directive (nat64d needs a NAT64 prefix; map-only SIIT is not supported)');
  }
  if (options.stateDirectory !== undefined && draft.dataDir === undefined) {
    const dir = options.stateDirectory.split(':')[0] ?? '';
    if (!dir.startsWith('/')) at(0, `STATE_DIRECTORY ${dir}: must be an absolute path`);
  }

  // map lines against each other and against the prefix. Report on the later line.
  draft.maps.forEach((m, i) => {
    const what = `map ${formatIpv4Net(m.ipv4)} ${formatIpv6Net(m.ipv6)}`;
    for (const earlier of draft.maps.slice(0, i)) {
      if (ipv4Overlap(m.ipv4, earlier.ipv4)) {
        at(m.line, `${what}: IPv4 side overlaps map on line ${earlier.line}`);
      }
      if (ipv6Overlap(m.ipv6, earlier.ipv6)) {
        at(m.line, `${what}: IPv6 side overlaps map on line ${earlier.line}`);
      }
    }
    if (draft.prefix && ipv6Overlap(m.ipv6, draft.prefix)) {
      at(m.line, `${what}: IPv6 side overlaps prefix ${formatIpv6Net(draft.prefix)}`);
    }
    if (draft.ipv4Addr !== undefined && ipv4InNet(draft.ipv4Addr, m.ipv4)) {
      at(
        Math.max(m.line, lineOf('ipv4-addr')),
        `ipv4-addr ${formatIpv4(draft.ipv4Addr)}: conflicts with map on line ${m.line}`,
      );
    }
    if (draft.ipv6Addr && ipv6InNet(draft.ipv6Addr, 0, m.ipv6)) {
      at(
        Math.max(m.line, lineOf('ipv6-addr')),
        `ipv6-addr ${formatIpv6(draft.ipv6Addr)}: conflicts with map on line ${m.line}`,
      );
    }
    // A map inside the dynamic pool takes its addresses out of the pool (Tayga); a map
    // containing the whole pool leaves nothing to allocate and is refused.
    const pool = draft.dynamicPool;
    if (pool && m.ipv4.length <= pool.length && ipv4Overlap(m.ipv4, pool)) {
      at(
        Math.max(m.line, lineOf('dynamic-pool')),
        `dynamic-pool ${formatIpv4Net(pool)}: lies inside map on line ${m.line}`,
      );
    }
  });

  const prefix = draft.prefix;
  if (prefix && draft.ipv6Addr) {
    const v6 = draft.ipv6Addr;
    const line = Math.max(lineOf('ipv6-addr'), lineOf('prefix'));
    if (ipv6InNet(v6, 0, WELL_KNOWN_PREFIX) && draft.wkpfStrict !== false) {
      at(line, `ipv6-addr ${formatIpv6(v6)}: inside the Well-Known Prefix 64:ff9b::/96`);
    } else if (ipv6InNet(v6, 0, prefix)) {
      at(line, `ipv6-addr ${formatIpv6(v6)}: inside prefix ${formatIpv6Net(prefix)}`);
    }
  }
  if (prefix && !draft.ipv6Addr && draft.ipv4Addr !== undefined) {
    const wkp = ipv6InNet(prefix.bytes, 0, WELL_KNOWN_PREFIX);
    if (wkp && draft.wkpfStrict !== false && !isGlobalIpv4(draft.ipv4Addr)) {
      at(
        lineOf('ipv4-addr'),
        `ipv4-addr ${formatIpv4(draft.ipv4Addr)}: not global, so ipv6-addr must be given ` +
          `with prefix 64:ff9b::/96 (RFC 6052 section 3.1)`,
      );
    }
  }
  validateStateful(draft, at, lineOf);
  const pool = draft.dynamicPool;
  if (pool && draft.ipv4Addr !== undefined && ipv4InNet(draft.ipv4Addr, pool)) {
    // Allowed, like Tayga: the address is taken out of the pool. A pool that would have no
    // address left is refused.
    const size = 2 ** (32 - pool.length) - 1;
    if (size <= 1) {
      at(
        Math.max(lineOf('dynamic-pool'), lineOf('ipv4-addr')),
        `dynamic-pool ${formatIpv4Net(pool)}: no address left once ipv4-addr is taken out`,
      );
    }
  }
}

function portsOverlap(a: Pool4Entry, b: { first: number; last: number }): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** pool4 and bib lines against each other and the rest of the file. */
function validateStateful(
  draft: Draft,
  at: (line: number, reason: string) => void,
  lineOf: (key: string) => number,
): void {
  const pool4 = draft.pool4;
  if (pool4.length === 0) return;
  const first = pool4[0]!.line;
  if (draft.dynamicPool) {
    at(
      Math.max(first, lineOf('dynamic-pool')),
      `dynamic-pool ${formatIpv4Net(draft.dynamicPool)}: not allowed with pool4 ` +
        `(stateful NAT64, line ${first}); use one or the other`,
    );
  }
  pool4.forEach((p, i) => {
    const what = `pool4 ${formatIpv4Net(p.net)}`;
    for (const earlier of pool4.slice(0, i)) {
      const shared = p.protocols.filter((x) => earlier.protocols.includes(x));
      if (shared.length && ipv4Overlap(p.net, earlier.net) && portsOverlap(p, earlier)) {
        at(
          p.line,
          `${what} ${p.first}-${p.last}: overlaps pool4 on line ${earlier.line} (${shared.join(', ')})`,
        );
      }
    }
    for (const m of draft.maps) {
      if (ipv4Overlap(p.net, m.ipv4)) {
        at(Math.max(p.line, m.line), `${what}: overlaps map on line ${m.line}`);
      }
    }
    if (draft.ipv4Addr !== undefined && ipv4InNet(draft.ipv4Addr, p.net)) {
      at(
        Math.max(p.line, lineOf('ipv4-addr')),
        `${what}: contains ipv4-addr ${formatIpv4(draft.ipv4Addr)} (the translator's own address)`,
      );
    }
  });
  draft.bib.forEach((b, i) => {
    const what = `bib ${b.protocol} ${formatIpv6(b.ipv6)}#${b.port6} ${formatIpv4(b.ipv4)}#${b.port4}`;
    if (!pool4.some((p) => p.protocols.includes(b.protocol) && ipv4InNet(b.ipv4, p.net))) {
      at(b.line, `${what}: ${formatIpv4(b.ipv4)} is not a pool4 address for ${b.protocol}`);
    }
    if (draft.prefix && ipv6InNet(b.ipv6, 0, draft.prefix)) {
      at(b.line, `${what}: IPv6 side inside prefix ${formatIpv6Net(draft.prefix)}`);
    }
    for (const m of draft.maps) {
      if (ipv6InNet(b.ipv6, 0, m.ipv6))
        at(b.line, `${what}: IPv6 side lies in map on line ${m.line}`);
    }
    for (const e of draft.bib.slice(0, i)) {
      if (e.protocol !== b.protocol) continue;
      if (e.port6 === b.port6 && formatIpv6(e.ipv6) === formatIpv6(b.ipv6)) {
        at(b.line, `${what}: IPv6 side already bound on line ${e.line}`);
      }
      if (e.port4 === b.port4 && e.ipv4 === b.ipv4) {
        at(b.line, `${what}: IPv4 side already bound on line ${e.line}`);
      }
    }
  });
}

function finishStateful(draft: Draft): Nat64dConfig['stateful'] {
  if (draft.pool4.length === 0) return null;
  return {
    pool4: draft.pool4,
    bib: draft.bib,
    udpTimeout: draft.udpTimeout ?? 300,
    tcpEstTimeout: draft.tcpEstTimeout ?? 7440,
    tcpTransTimeout: draft.tcpTransTimeout ?? 240,
    icmpTimeout: draft.icmpTimeout ?? 60,
    addressDependentFiltering: draft.addressDependentFiltering ?? false,
    maxSessions: draft.maxSessions ?? DEFAULT_MAX_SESSIONS,
    maxSessionsPerHost: draft.maxSessionsPerHost ?? DEFAULT_MAX_SESSIONS_PER_HOST,
    logMappings: draft.logMappings ?? false,
    pool4PortOverlap: draft.pool4PortOverlap ?? 'refuse',
  };
}

/** RFC 6052 §2.2: `ipv6-addr` derived from `ipv4-addr` under the prefix. */
function embeddedAddress(prefix: Nat64Prefix, ipv4: number): Uint8Array {
  const out = new Uint8Array(16);
  embedIpv4(prefix, ipv4, out, 0);
  return out;
}

function finish(
  draft: Draft,
  file: string,
  options: ParseOptions,
  mapFile: string | null,
): Nat64dConfig {
  // validate() guarantees these.
  const prefix = draft.prefix as Nat64Prefix;
  const ipv4Addr = draft.ipv4Addr as number;
  const ipv6Addr = draft.ipv6Addr ?? embeddedAddress(prefix, ipv4Addr);
  const stateDir = options.stateDirectory?.split(':')[0];
  return {
    file,
    tunDevice: draft.tunDevice as string,
    ipv4Addr,
    ipv6Addr,
    ipv6AddrDerived: draft.ipv6Addr === undefined,
    prefix,
    dynamicPool: draft.dynamicPool ?? null,
    maps: draft.maps,
    dataDir: draft.dataDir ?? (stateDir ? stateDir : null),
    strictFragHdr: draft.strictFragHdr ?? false,
    wkpfStrict: draft.wkpfStrict ?? true,
    udpChecksumMode: draft.udpChecksumMode ?? 'drop',
    offlinkMtu: draft.offlinkMtu ?? IPV6_MIN_MTU,
    tunUp: draft.tunUp ?? true,
    tunMtu: draft.tunMtu ?? DEFAULT_TUN_MTU,
    tunQueueLen: draft.tunQueueLen ?? DEFAULT_TUN_QUEUE_LEN,
    metrics: draft.metrics === undefined ? DEFAULT_METRICS : draft.metrics,
    stateful: finishStateful(draft),
    icmpErrorRate: draft.icmpErrorRate ?? DEFAULT_ICMP_ERROR_RATE,
    icmpErrorBurst: draft.icmpErrorBurst ?? DEFAULT_ICMP_ERROR_RATE,
    tunIps: draft.tunIps,
    tunRoutes: draft.tunRoutes,
    mapFile,
    warnings: draft.warnings.map((w) => ({ ...w, file })),
    report: draft.report ?? null,
  };
}
