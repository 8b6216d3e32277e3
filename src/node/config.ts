import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { createSecureContext } from 'node:tls';
import { type ResolverEnv, type ResolverSettings, parseSettings } from '../config/env';
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
  /** Validated tenant records by id (TENANTS_FILE), empty without one. */
  readonly tenants: Readonly<Record<string, unknown>>;
  readonly dnsTenant: string | null;
  readonly trustProxy: boolean;
  readonly workers: number;
  /** SERVER_NAME: the server's DNS name, for DDR's `_dns.<name>` (RFC 9462 §5); null: none. */
  readonly serverName: Uint8Array | null;
  /** UPSTREAM_CA_FILE: more CA certificates (PEM) trusted for tls:// upstreams. */
  readonly upstreamCa: Buffer | null;
  /** LOG_LEVEL, QUERY_LOG, QUERY_LOG_FULL_IP, METRICS_ADDR. */
  readonly obs: ObsSettings;
}

export const DEFAULT_HTTP_PORT = 8787;
export const DEFAULT_DNS_PORT = 5353;
export const DEFAULT_DOT_PORT = 853;
export const MAX_WORKERS = 64;

/** A setting the server refuses to start with; the message reads `VARIABLE: reason`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type ProcessEnv = Readonly<Record<string, string | undefined>>;

/** Reads and checks every setting; throws ConfigError (one line per problem for TENANTS_FILE). */
export function loadConfig(env: ProcessEnv): ServerConfig {
  const appEnv: ResolverEnv & { ADMIN_TOKEN?: string } = {};
  if (env.UPSTREAMS !== undefined) appEnv.UPSTREAMS = env.UPSTREAMS;
  if (env.DNS64_PREFIX !== undefined) appEnv.DNS64_PREFIX = env.DNS64_PREFIX;
  if (env.UPSTREAM_TIMEOUT_MS !== undefined) appEnv.UPSTREAM_TIMEOUT_MS = env.UPSTREAM_TIMEOUT_MS;
  if (env.ADMIN_TOKEN) appEnv.ADMIN_TOKEN = env.ADMIN_TOKEN;
  if (env.SERVER_ID !== undefined) appEnv.SERVER_ID = env.SERVER_ID;
  let settings: ResolverSettings;
  try {
    // true: udp://, tcp:// and tls:// upstreams too (src/node/upstream-classic.ts).
    settings = parseSettings(appEnv, true);
  } catch (err) {
    // parseSettings already names the variable.
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }

  const host = parseHost(env.HOST);
  const httpPort = parsePort('PORT', env.PORT, DEFAULT_HTTP_PORT);
  const dnsPort = parsePort('DNS_PORT', env.DNS_PORT, DEFAULT_DNS_PORT);
  const dotPort = parsePort('DOT_PORT', env.DOT_PORT, DEFAULT_DOT_PORT);
  const tls = parseTls(env.TLS_CERT, env.TLS_KEY);
  // DOT_PORT without TLS_CERT/TLS_KEY is checked but unused: DoT starts once TLS is configured.
  const used = new Map<number, string>();
  const ports: [string, number][] = [['PORT', httpPort]];
  ports.push(['DNS_PORT', dnsPort]);
  if (tls) ports.push(['DOT_PORT', dotPort]);
  for (const [name, port] of ports) {
    const other = used.get(port);
    if (other) throw new ConfigError(`${name}: ${port} is already used by ${other}`);
    used.set(port, name);
  }

  const tenants = loadTenants(env.TENANTS_FILE);
  const dnsTenant = env.DNS_TENANT?.trim() || null;
  if (dnsTenant !== null && !(dnsTenant in tenants)) {
    throw new ConfigError(
      env.TENANTS_FILE?.trim()
        ? `DNS_TENANT: no tenant ${dnsTenant} in ${env.TENANTS_FILE.trim()}`
        : `DNS_TENANT: ${dnsTenant} needs a TENANTS_FILE that defines it`,
    );
  }

  const serverName = parseServerName(env.SERVER_NAME);
  const obs = parseObsSettings(env);
  if (!obs.ok) throw new ConfigError(obs.problems.join('\n'));

  return {
    serverName,
    appEnv,
    settings,
    host,
    httpPort,
    dnsPort,
    dotPort,
    tls,
    tenants,
    dnsTenant,
    trustProxy: parseBool('TRUST_PROXY', env.TRUST_PROXY),
    workers: parseWorkers(env.WORKERS),
    upstreamCa: parseCaFile(env.UPSTREAM_CA_FILE),
    obs: obs.settings,
  };
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

function parseTls(certPath: string | undefined, keyPath: string | undefined): ServerConfig['tls'] {
  const c = certPath?.trim();
  const k = keyPath?.trim();
  if (!c && !k) return null;
  if (!c) throw new ConfigError('TLS_CERT: needed with TLS_KEY (a PEM certificate chain file)');
  if (!k) throw new ConfigError('TLS_KEY: needed with TLS_CERT (a PEM private key file)');
  const cert = readSetting('TLS_CERT', c);
  const key = readSetting('TLS_KEY', k);
  try {
    createSecureContext({ cert });
  } catch (err) {
    throw new ConfigError(`TLS_CERT: ${c} is not a PEM certificate: ${errorText(err)}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`TLS_KEY: ${k} is not the private key of TLS_CERT: ${errorText(err)}`);
  }
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
function loadTenants(path: string | undefined): Record<string, unknown> {
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
