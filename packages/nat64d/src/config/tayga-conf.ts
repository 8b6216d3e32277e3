/**
 * Parser for Tayga's configuration file (tayga.conf(5)): one directive per line, its value(s)
 * separated by blanks, `#` starts a comment. Keys are matched case-insensitively like Tayga.
 * Every problem is collected with its line; the first pass checks each directive on its own,
 * the second checks directives against each other (map conflicts, prefix, pool, addresses).
 */
import { readFileSync } from 'node:fs';
import type { Nat64Prefix, UdpChecksumMode } from '../core/types.js';
import {
  WELL_KNOWN_PREFIX,
  embedIpv4,
  formatIpv4,
  formatIpv4Net,
  formatIpv6,
  formatIpv6Net,
  ipv4InNet,
  ipv4Overlap,
  ipv6InNet,
  ipv6Overlap,
  isNonGlobalIpv4,
  parseIpv4,
  parseIpv4Net,
  parseIpv6,
  parseIpv6Net,
  reservedIpv4,
  reservedIpv6,
  type Ipv4Net,
} from './addr.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Nat64dConfig, StaticMapEntry } from './types.js';

export const DEFAULT_TUN_MTU = 1500;
export const IPV6_MIN_MTU = 1280;
export const DEFAULT_METRICS = '127.0.0.1:9164';
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
const IFNAMSIZ = 16;

const RFC6052_LENGTHS = [32, 40, 48, 56, 64, 96] as const;

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
  metrics?: string | null;
  /** Line of each single-instance directive seen, to report duplicates and cross-checks. */
  lines: Map<string, number>;
}

type Handler = (draft: Draft, args: readonly string[], fail: (reason: string) => void) => void;

interface Directive {
  /** Exact number of values. */
  readonly args: number;
  /** May appear more than once (only `map`). */
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

/**
 * The directive table. Stateful NAT64 keys (`pool4`, `bib`) will be added here; until then
 * they are refused as unknown keys.
 */
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
      const length = RFC6052_LENGTHS.find((l) => l === net.value.length);
      if (length === undefined) {
        return fail(`prefix ${text}: RFC 6052 allows only /32, /40, /48, /56, /64 or /96`);
      }
      if (length === 96 && net.value.bytes[8] !== 0) {
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
  'tun-up': booleanDirective('tun-up', (d, v) => (d.tunUp = v)),
  'tun-mtu': mtuDirective('tun-mtu', (d, v) => (d.tunMtu = v)),
  metrics: {
    args: 1,
    parse: (draft, [value = ''], fail) => {
      const r = parseListenAddress(value);
      if (typeof r === 'string') fail(`metrics ${value}: ${r}`);
      else draft.metrics = r === null ? null : value;
    },
  },
};

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
}

/** Parses and validates the text of a tayga.conf. Throws ConfigError with every issue found. */
export function parseTaygaConf(
  text: string,
  file: string,
  options: ParseOptions = {},
): Nat64dConfig {
  const issues: ConfigIssue[] = [];
  const draft: Draft = { maps: [], lines: new Map() };
  const lines = text.split(/\r?\n/);

  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (reason: string) => issues.push({ file, line, reason });
    const hash = raw.indexOf('#');
    const tokens = (hash >= 0 ? raw.slice(0, hash) : raw).split(/[\s]+/).filter(Boolean);
    const [keyText, ...args] = tokens;
    if (keyText === undefined) return;
    const key = keyText.toLowerCase();
    const directive = Object.hasOwn(DIRECTIVES, key) ? DIRECTIVES[key] : undefined;
    if (!directive) return fail(`unknown key "${keyText}"`);
    if (args.length !== directive.args) {
      const want = directive.args === 1 ? '1 value' : `${directive.args} values`;
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
    directive.parse(draft, args, fail);
  });

  if (issues.length === 0) validate(draft, file, issues, options);
  if (issues.length > 0) throw new ConfigError(issues);
  return finish(draft, file, options);
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
    if (wkp && draft.wkpfStrict !== false && isNonGlobalIpv4(draft.ipv4Addr)) {
      at(
        lineOf('ipv4-addr'),
        `ipv4-addr ${formatIpv4(draft.ipv4Addr)}: not global, so ipv6-addr must be given ` +
          `with prefix 64:ff9b::/96 (RFC 6052 section 3.1)`,
      );
    }
  }
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

function finish(draft: Draft, file: string, options: ParseOptions): Nat64dConfig {
  // validate() guarantees these.
  const prefix = draft.prefix as Nat64Prefix;
  const ipv4Addr = draft.ipv4Addr as number;
  const ipv6Addr = draft.ipv6Addr ?? embedIpv4(prefix, ipv4Addr);
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
    metrics: draft.metrics === undefined ? DEFAULT_METRICS : draft.metrics,
  };
}
