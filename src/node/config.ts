import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { createSecureContext } from 'node:tls';
import { CidrSet } from '../acl/cidr';
import {
  type ResolverEnv,
  type ResolverSettings,
  SettingsError,
  parseSettings,
} from '../config/env';
import { textToName } from '../dns/name';
import { TENANT_ID, checkTenantRecord } from '../tenant/schema';
import { type ObsSettings, parseObsSettings } from './obs-config';

/** The self-hosted server's settings, read from the process environment at start. */
export interface ServerConfig {
  /** The variables the Hono app reads per request (resolver settings, ADMIN_TOKEN). */
  readonly appEnv: ResolverEnv & { ADMIN_TOKEN?: string };
  readonly settings: ResolverSettings;
  /** null: the default ('::' dual-stack, or 0.0.0.0 where IPv6 is unavailable). */
  readonly host: string | null;
  readonly httpPort: number;
  readonly dnsPort: number;
  readonly dotPort: number;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null;
  /** Where TLS_CERT and TLS_KEY are (read again on SIGHUP). */
  readonly tlsPaths: TlsPaths | null;
  /** Validated tenant records by id (TENANTS_FILE), empty without one. */
  readonly tenants: Readonly<Record<string, unknown>>;
  /** TENANTS_FILE (read again on SIGHUP), null without one. */
  readonly tenantsFile: string | null;
  readonly dnsTenant: string | null;
  readonly trustProxy: boolean;
  readonly workers: number;
  /** SERVER_NAME: the server's DNS name, for DDR's `_dns.<name>` (RFC 9462 §5); null: none. */
  readonly serverName: Uint8Array | null;
  /** UPSTREAM_CA_FILE: more CA certificates (PEM) trusted for tls:// upstreams. */
  readonly upstreamCa: Buffer | null;
  /** LOG_LEVEL, QUERY_LOG, QUERY_LOG_FULL_IP, METRICS_ADDR. */
  readonly obs: ObsSettings;
  /**
   * ALLOW_QUERY, the server-wide ACL of DoH, classic DNS and DoT: `localnets` (the default:
   * loopback and the networks of the host's interfaces), `any`, or a CIDR match list.
   */
  readonly allowQuery: 'localnets' | 'any' | CidrSet;
  readonly rrl: RrlSettings;
}

export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
}

/** UDP response rate limiting per client /24 or /56 (0 responses per second: off). */
export interface RrlSettings {
  readonly responsesPerSecond: number;
  readonly window: number;
  readonly slip: number;
}

/** BIND's window and slip defaults (15 s, 2); a rate a busy LAN /24 stays under. */
export const DEFAULT_RRL: RrlSettings = { responsesPerSecond: 100, window: 15, slip: 2 };

export const DEFAULT_HTTP_PORT = 8787;
export const DEFAULT_DNS_PORT = 5353;
export const DEFAULT_DOT_PORT = 853;
export const MAX_WORKERS = 64;

/** A setting the server refuses to start with; the message reads `VARIABLE: reason`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type ProcessEnv = Readonly<Record<string, string | undefined>>;

/**
 * Reads and checks every setting; throws one ConfigError listing every problem, one line each
 * (`VARIABLE: reason`; a bad tenant record `file: tenant id: field: reason`).
 */
export function loadConfig(env: ProcessEnv, opts: { files?: boolean } = {}): ServerConfig {
  /** false (a cluster worker): TENANTS_FILE and the TLS files are not read (tenants {}, tls null). */
  const files = opts.files ?? true;
  const problems: string[] = [];
  /** The value, or the fallback with the problem noted. */
  const take = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (err) {
      if (err instanceof SettingsError) problems.push(...err.problems);
      else if (err instanceof ConfigError) problems.push(...err.message.split('\n'));
      else throw err;
      return fallback;
    }
  };

  const appEnv: ResolverEnv & { ADMIN_TOKEN?: string } = {};
  if (env.UPSTREAMS !== undefined) appEnv.UPSTREAMS = env.UPSTREAMS;
  if (env.DNS64_PREFIX !== undefined) appEnv.DNS64_PREFIX = env.DNS64_PREFIX;
  if (env.UPSTREAM_TIMEOUT_MS !== undefined) appEnv.UPSTREAM_TIMEOUT_MS = env.UPSTREAM_TIMEOUT_MS;
  if (env.ADMIN_TOKEN) appEnv.ADMIN_TOKEN = env.ADMIN_TOKEN;
  if (env.SERVER_ID !== undefined) appEnv.SERVER_ID = env.SERVER_ID;
  // true: udp://, tcp:// and tls:// upstreams too (src/node/upstream-classic.ts).
  const settings = take<ResolverSettings | null>(() => parseSettings(appEnv, true), null);

  const host = take(() => parseHost(env.HOST), null);
  const httpPort = take(() => parsePort('PORT', env.PORT, DEFAULT_HTTP_PORT), DEFAULT_HTTP_PORT);
  const dnsPort = take(() => parsePort('DNS_PORT', env.DNS_PORT, DEFAULT_DNS_PORT), 0);
  const dotPort = take(() => parsePort('DOT_PORT', env.DOT_PORT, DEFAULT_DOT_PORT), 0);
  const tlsPaths = take(() => tlsFiles(env.TLS_CERT, env.TLS_KEY), null);
  const tls = tlsPaths && files ? take(() => readTls(tlsPaths), null) : null;
  // DOT_PORT without TLS_CERT/TLS_KEY is checked but unused: DoT starts once TLS is configured.
  const used = new Map<number, string>();
  const ports: [string, number][] = [['PORT', httpPort]];
  ports.push(['DNS_PORT', dnsPort]);
  if (tlsPaths) ports.push(['DOT_PORT', dotPort]);
  for (const [name, port] of ports) {
    if (port === 0) continue; // already reported
    const other = used.get(port);
    if (other) problems.push(`${name}: ${port} is already used by ${other}`);
    used.set(port, name);
  }

  const tenantsFile = env.TENANTS_FILE?.trim() || null;
  const tenants = files ? take(() => loadTenants(tenantsFile ?? undefined), null) : {};
  const dnsTenant = env.DNS_TENANT?.trim() || null;
  if (dnsTenant !== null && files) {
    take(() => checkDnsTenant(dnsTenant, tenantsFile, tenants), undefined);
  }
  const trustProxy = take(() => parseBool('TRUST_PROXY', env.TRUST_PROXY), false);
  const workers = take(() => parseWorkers(env.WORKERS), 1);
  const allowQuery = take(() => parseAllowQuery(env.ALLOW_QUERY), 'localnets' as const);
  const rrl = take(() => parseRrl(env), DEFAULT_RRL);

  const serverName = take(() => parseServerName(env.SERVER_NAME), null);
  const upstreamCa = take(() => parseCaFile(env.UPSTREAM_CA_FILE), null);
  const obs = parseObsSettings(env);
  if (!obs.ok) problems.push(...obs.problems);

  if (problems.length > 0 || settings === null || !obs.ok) {
    throw new ConfigError(problems.join('\n'));
  }
  return {
    serverName,
    appEnv,
    settings,
    host,
    httpPort,
    dnsPort,
    dotPort,
    tls,
    tlsPaths,
    tenants: tenants ?? {},
    tenantsFile,
    dnsTenant,
    trustProxy,
    workers,
    allowQuery,
    rrl,
    upstreamCa,
    obs: obs.settings,
  };
}

/** DNS_TENANT must name a tenant of TENANTS_FILE (when the file could be read at all). */
export function checkDnsTenant(
  dnsTenant: string,
  tenantsFile: string | null,
  tenants: Readonly<Record<string, unknown>> | null,
): void {
  if (!tenantsFile)
    throw new ConfigError(`DNS_TENANT: ${dnsTenant} needs a TENANTS_FILE that defines it`);
  if (tenants !== null && !(dnsTenant in tenants)) {
    throw new ConfigError(`DNS_TENANT: no tenant ${dnsTenant} in ${tenantsFile}`);
  }
}

/**
 * ALLOW_QUERY: `any`, or a comma-separated CIDR list (BIND address-match-list order, `!` to
 * refuse). Unset: `localnets`, loopback and the networks of the host's own interfaces.
 */
function parseAllowQuery(text: string | undefined): ServerConfig['allowQuery'] {
  const t = text?.trim() ?? '';
  if (t === '' || t.toLowerCase() === 'localnets') return 'localnets';
  if (t.toLowerCase() === 'any') return 'any';
  const elements = t
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const { set, errors } = CidrSet.tryParse(elements);
  if (errors.length > 0) {
    throw new ConfigError(
      `ALLOW_QUERY: ${errors.join('; ')} (give CIDR ranges, any, or localnets)`,
    );
  }
  return set;
}

/** UDP response rate limiting (README: RRL_RESPONSES_PER_SECOND, RRL_WINDOW, RRL_SLIP). */
function parseRrl(env: ProcessEnv): RrlSettings {
  const problems: string[] = [];
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const t = env[name]?.trim();
    if (!t) return fallback;
    const n = Number(t);
    if (!/^\d+$/.test(t) || n < min || n > max) {
      problems.push(`${name}: ${t} is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const rrl: RrlSettings = {
    responsesPerSecond: num('RRL_RESPONSES_PER_SECOND', DEFAULT_RRL.responsesPerSecond, 0, 100000),
    window: num('RRL_WINDOW', DEFAULT_RRL.window, 1, 3600),
    slip: num('RRL_SLIP', DEFAULT_RRL.slip, 0, 10),
  };
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return rrl;
}

function parseHost(text: string | undefined): string | null {
  const host = text?.trim();
  if (!host) return null;
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) === 0) throw new ConfigError(`HOST: ${host} is not an IPv4 or IPv6 address`);
  return bare;
}

function parsePort(name: string, text: string | undefined, fallback: number): number {
  const t = text?.trim();
  if (!t) return fallback;
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > 65535) {
    throw new ConfigError(`${name}: ${t} is not a port number from 1 to 65535`);
  }
  return n;
}

function parseBool(name: string, text: string | undefined): boolean {
  const t = text?.trim().toLowerCase() ?? '';
  if (t === '' || t === '0' || t === 'false' || t === 'no' || t === 'off') return false;
  if (t === '1' || t === 'true' || t === 'yes' || t === 'on') return true;
  throw new ConfigError(`${name}: ${text} is not true/false (1/0, yes/no, on/off)`);
}

function parseWorkers(text: string | undefined): number {
  const t = text?.trim().toLowerCase();
  if (!t) return 1;
  if (t === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > MAX_WORKERS) {
    throw new ConfigError(
      `WORKERS: ${text} is not a whole number from 1 to ${MAX_WORKERS} or auto`,
    );
  }
  return n;
}

function readSetting(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path}: ${errorText(err)}`);
  }
}

/** TLS_CERT and TLS_KEY: both or neither. */
function tlsFiles(certPath: string | undefined, keyPath: string | undefined): TlsPaths | null {
  const c = certPath?.trim();
  const k = keyPath?.trim();
  if (!c && !k) return null;
  if (!c) throw new ConfigError('TLS_CERT: needed with TLS_KEY (a PEM certificate chain file)');
  if (!k) throw new ConfigError('TLS_KEY: needed with TLS_CERT (a PEM private key file)');
  return { cert: c, key: k };
}

/** Reads and checks the certificate and key (at start, and again on SIGHUP). */
export function readTls(paths: TlsPaths): { cert: Buffer; key: Buffer } {
  const { cert: c, key: k } = paths;
  const problems: string[] = [];
  const read = (name: string, path: string) => {
    try {
      return readSetting(name, path);
    } catch (err) {
      problems.push(errorText(err));
      return null;
    }
  };
  const cert = read('TLS_CERT', c);
  const key = read('TLS_KEY', k);
  if (cert) {
    try {
      createSecureContext({ cert });
    } catch (err) {
      problems.push(`TLS_CERT: ${c} is not a PEM certificate: ${errorText(err)}`);
    }
  }
  if (cert && key && problems.length === 0) {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      problems.push(`TLS_KEY: ${k} is not the private key of TLS_CERT: ${errorText(err)}`);
    }
  }
  if (problems.length > 0 || !cert || !key) throw new ConfigError(problems.join('\n'));
  return { cert, key };
}

function parseCaFile(path: string | undefined): Buffer | null {
  const file = path?.trim();
  if (!file) return null;
  const ca = readSetting('UPSTREAM_CA_FILE', file);
  try {
    if (!ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM');
    createSecureContext({ ca });
  } catch (err) {
    throw new ConfigError(`UPSTREAM_CA_FILE: ${file} is not PEM certificates: ${errorText(err)}`);
  }
  return ca;
}

/**
 * TENANTS_FILE: `{ "<tenant id>": <tenant record>, ... }`. Every record is checked; problems
 * read `file: tenant id: field: reason`, one line each.
 */
export function loadTenants(path: string | undefined): Record<string, unknown> {
  const file = path?.trim();
  if (!file) return {};
  const text = readSetting('TENANTS_FILE', file).toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConfigError(`TENANTS_FILE: ${file} is not JSON: ${errorText(err)}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`TENANTS_FILE: ${file} must be a JSON object of tenant id -> record`);
  }
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [id, record] of Object.entries(data)) {
    if (!TENANT_ID.test(id)) {
      problems.push(
        `${file}: ${id}: id: must be 1 to 63 of a-z 0-9 - (not starting or ending with -)`,
      );
      continue;
    }
    const check = checkTenantRecord(record);
    if (check.ok) out[id] = check.record;
    else problems.push(...check.errors.map((e) => `${file}: ${id}: ${e}`));
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return out;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SERVER_NAME: a domain name in master-file form (RFC 1035 §5.1). */
function parseServerName(text: string | undefined): Uint8Array | null {
  const trimmed = text?.trim();
  if (!trimmed) return null;
  const parsed = textToName(trimmed);
  if (!parsed.ok || parsed.name.length <= 1) {
    throw new ConfigError(
      `SERVER_NAME: ${parsed.ok ? 'the root' : parsed.reason} is not a server name`,
    );
  }
  return parsed.name;
}
