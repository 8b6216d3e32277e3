import { defaultPolicy, type Dns64Policy } from '../dns64/policy';
import { parsePrefix } from '../dns64/prefix';
import { DEFAULT_DEADLINE_MS } from '../upstream/doh-client';

/** The variables the resolver reads (wrangler.toml [vars], `--var`, or the process environment). */
export interface ResolverEnv {
  UPSTREAMS?: string;
  DNS64_PREFIX?: string;
  UPSTREAM_TIMEOUT_MS?: string;
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
}

let memo: {
  upstreams: string | undefined;
  prefix: string | undefined;
  timeout: string | undefined;
  settings: ResolverSettings;
} | null = null;

/**
 * Reads and checks the settings once per isolate (and again only when they change). Runs on
 * every request, so the check is three string comparisons.
 */
export function settingsFromEnv(env: ResolverEnv): ResolverSettings {
  if (
    memo &&
    memo.upstreams === env.UPSTREAMS &&
    memo.prefix === env.DNS64_PREFIX &&
    memo.timeout === env.UPSTREAM_TIMEOUT_MS
  ) {
    return memo.settings;
  }
  const settings = parseSettings(env);
  memo = {
    upstreams: env.UPSTREAMS,
    prefix: env.DNS64_PREFIX,
    timeout: env.UPSTREAM_TIMEOUT_MS,
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

/** Throws a SettingsError naming every bad variable and the rule it breaks. */
export function parseSettings(env: ResolverEnv): ResolverSettings {
  const problems: string[] = [];
  const upstreams = parseUpstreams(env.UPSTREAMS, problems);
  const prefixText = env.DNS64_PREFIX?.trim() || DEFAULT_PREFIX;
  const prefix = parsePrefix(prefixText);
  if (!prefix.ok) problems.push(`DNS64_PREFIX: ${prefix.reason}`);
  const timeoutText = env.UPSTREAM_TIMEOUT_MS?.trim();
  const deadlineMs = timeoutText ? Number(timeoutText) : DEFAULT_DEADLINE_MS;
  if (!Number.isInteger(deadlineMs) || deadlineMs < 50 || deadlineMs > 30000) {
    problems.push(`UPSTREAM_TIMEOUT_MS: ${timeoutText} is not a whole number from 50 to 30000`);
  }
  if (problems.length > 0 || !prefix.ok) throw new SettingsError(problems);
  return { policy: defaultPolicy(prefix.prefix.text), upstreams, deadlineMs };
}

function parseUpstreams(text: string | undefined, problems: string[]): string[] {
  const list = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) return [...DEFAULT_UPSTREAMS];
  for (const url of list) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      problems.push(`UPSTREAMS: ${url} is not a URL`);
      continue;
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      problems.push(`UPSTREAMS: ${url} must be an http:// or https:// DoH URL`);
    }
  }
  return list;
}
