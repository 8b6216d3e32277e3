import { defaultPolicy, type Dns64Policy } from '../dns64/policy';
import { parsePrefix } from '../dns64/prefix';
import { DEFAULT_DEADLINE_MS } from '../upstream/doh-client';
import { isClassicUpstream, parseUpstream } from '../upstream/target';

/** The variables the resolver reads (wrangler.toml [vars], `--var`, or the process environment). */
export interface ResolverEnv {
  UPSTREAMS?: string;
  DNS64_PREFIX?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  /** The server's identity for NSID (RFC 5001) and CH TXT id.server / hostname.bind. */
  SERVER_ID?: string;
}

export const DEFAULT_UPSTREAMS = [
  'https://cloudflare-dns.com/dns-query',
  'https://dns.google/dns-query',
];
export const DEFAULT_PREFIX = '64:ff9b::/96';

/** The default tenant: what `/dns-query` answers with. */
export interface ResolverSettings {
  readonly policy: Dns64Policy;
  readonly upstreams: readonly string[];
  readonly deadlineMs: number;
  /** SERVER_ID: what NSID and CH TXT id.server / hostname.bind answer; null = not disclosed. */
  readonly serverId: string | null;
}

let memo: {
  upstreams: string | undefined;
  prefix: string | undefined;
  timeout: string | undefined;
  serverId: string | undefined;
  classic: boolean;
  settings: ResolverSettings;
} | null = null;

/**
 * Reads and checks the settings once per isolate (and again only when they change). Runs on
 * every request, so the check is three string comparisons.
 */
export function settingsFromEnv(env: ResolverEnv, classic = false): ResolverSettings {
  if (
    memo &&
    memo.classic === classic &&
    memo.upstreams === env.UPSTREAMS &&
    memo.prefix === env.DNS64_PREFIX &&
    memo.timeout === env.UPSTREAM_TIMEOUT_MS &&
    memo.serverId === env.SERVER_ID
  ) {
    return memo.settings;
  }
  const settings = parseSettings(env, classic);
  memo = {
    classic,
    upstreams: env.UPSTREAMS,
    prefix: env.DNS64_PREFIX,
    timeout: env.UPSTREAM_TIMEOUT_MS,
    serverId: env.SERVER_ID,
    settings,
  };
  return settings;
}

/**
 * A setting that breaks its rule: `problems` holds one `VARIABLE: reason` per bad variable, every
 * one of them (not just the first), and the message joins them with "; ".
 */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/**
 * Throws a SettingsError naming every bad variable and the rule it breaks. `classic`: udp://,
 * tcp:// and tls:// upstreams can be served (the Node server); Workers take DoH URLs only.
 */
export function parseSettings(env: ResolverEnv, classic = false): ResolverSettings {
  const problems: string[] = [];
  const upstreams = parseUpstreams(env.UPSTREAMS, classic, problems);
  const prefixText = env.DNS64_PREFIX?.trim() || DEFAULT_PREFIX;
  const prefix = parsePrefix(prefixText);
  if (!prefix.ok) problems.push(`DNS64_PREFIX: ${prefix.reason}`);
  const timeoutText = env.UPSTREAM_TIMEOUT_MS?.trim();
  const deadlineMs = timeoutText ? Number(timeoutText) : DEFAULT_DEADLINE_MS;
  if (!Number.isInteger(deadlineMs) || deadlineMs < 50 || deadlineMs > 30000) {
    problems.push(`UPSTREAM_TIMEOUT_MS: ${timeoutText} is not a whole number from 50 to 30000`);
  }
  const serverId = parseServerId(env.SERVER_ID, problems);
  if (problems.length > 0 || !prefix.ok) throw new SettingsError(problems);
  return { policy: defaultPolicy(prefix.prefix.text), upstreams, deadlineMs, serverId };
}

function parseUpstreams(text: string | undefined, classic: boolean, problems: string[]): string[] {
  const list = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) return [...DEFAULT_UPSTREAMS];
  for (const url of list) {
    const parsed = parseUpstream(url);
    if (!parsed.ok) problems.push(`UPSTREAMS: ${parsed.reason}`);
    else if (!classic && isClassicUpstream(url)) {
      problems.push(`UPSTREAMS: ${url} is not available on Workers (DoH only)`);
    }
  }
  return list;
}

/** Longest SERVER_ID: a TXT string holds 255 octets, and Workers add `/` and the data centre. */
export const MAX_SERVER_ID = 200;

function parseServerId(text: string | undefined, problems: string[]): string | null {
  const id = text?.trim();
  if (!id) return null;
  if (id.length > MAX_SERVER_ID || !/^[\x21-\x7e]+$/.test(id)) {
    problems.push(
      `SERVER_ID: must be 1 to ${MAX_SERVER_ID} printable ASCII characters without spaces`,
    );
    return null;
  }
  return id;
}
