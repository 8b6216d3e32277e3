import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  ConfigError,
  type ServerConfig,
  checkDnsTenant,
  errorText,
  loadConfig,
  loadTenants,
  readTls,
} from './config';
import { ServerAcl } from './acl';
import type { ReloadUpdate } from './server';

export const USAGE = `usage: npm run serve [-- --check | --help | --version]
       node --import tsx src/node/serve.ts [--check | --help | --version]

The self-hosted DNS64 resolver: DoH on PORT, classic DNS on DNS_PORT (UDP, TCP), DoT on
DOT_PORT with TLS_CERT/TLS_KEY. Every setting is an environment variable (README.md,
"Self-hosted server"): PORT, DNS_PORT, DOT_PORT, HOST, UPSTREAMS, DNS64_PREFIX,
UPSTREAM_TIMEOUT_MS, TLS_CERT, TLS_KEY, TENANTS_FILE, ADMIN_TOKEN, DNS_TENANT, TRUST_PROXY,
WORKERS, ALLOW_QUERY, RRL_RESPONSES_PER_SECOND, RRL_WINDOW, RRL_SLIP.

  --check        check every setting and TENANTS_FILE, print a summary, exit 0 (good) or 1
  -h, --help     print this and exit
  -V, --version  print the version and exit

Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads TENANTS_FILE and the TLS certificate
and key (a bad file is refused, every problem logged, and the running configuration kept).`;

export type CliMode = 'run' | 'check' | 'help' | 'version';

/** The command line: a mode, or a usage error (exit 2). Never opens a socket. */
export function parseCli(argv: readonly string[]): CliMode | { error: string } {
  try {
    const { values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
    if (values.help) return 'help';
    if (values.version) return 'version';
    if (values.check) return 'check';
    return 'run';
  } catch (err) {
    return { error: errorText(err) };
  }
}

/** The version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${pkg.name} ${pkg.version}`;
}

/** `--check`: every problem (exit 1), or what the server would run with (exit 0). */
export function check(env: NodeJS.ProcessEnv): { code: 0 | 1; text: string } {
  let cfg: ServerConfig;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    const lines = err instanceof ConfigError ? err.message : `fatal: ${errorText(err)}`;
    return { code: 1, text: `${lines}\nconfiguration has errors\n` };
  }
  return { code: 0, text: summary(cfg).join('\n') + '\nconfiguration OK\n' };
}

/** What a configuration means, one line per item (for --check). */
export function summary(cfg: ServerConfig): string[] {
  const host = cfg.host ?? '::';
  const at = (port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  const tenantIds = Object.keys(cfg.tenants);
  const rrl = cfg.rrl;
  return [
    `DoH: ${cfg.tls ? 'https' : 'http'}://${at(cfg.httpPort)}/dns-query`,
    `DNS: udp+tcp ${at(cfg.dnsPort)}`,
    `DoT: ${cfg.tls ? at(cfg.dotPort) : 'off (no TLS_CERT/TLS_KEY)'}`,
    `UPSTREAMS: ${cfg.settings.upstreams.join(', ')}`,
    `DNS64_PREFIX: ${cfg.settings.policy.prefixes.map((p) => p.prefix.text).join(', ')}`,
    `UPSTREAM_TIMEOUT_MS: ${cfg.settings.deadlineMs}`,
    `TENANTS_FILE: ${
      cfg.tenantsFile
        ? `${cfg.tenantsFile}: ${tenantIds.length} tenant(s)${tenantIds.length ? ` (${tenantIds.join(', ')})` : ''}`
        : 'none'
    }`,
    `DNS_TENANT: ${cfg.dnsTenant ?? '(default)'}`,
    `ALLOW_QUERY: ${new ServerAcl(cfg.allowQuery).describe()}`,
    `RRL: ${
      rrl.responsesPerSecond > 0
        ? `${rrl.responsesPerSecond} responses/s per /24 or /56, window ${rrl.window} s, slip ${rrl.slip}`
        : 'off'
    }`,
    `ADMIN_TOKEN: ${cfg.appEnv.ADMIN_TOKEN ? 'set (admin API on)' : 'unset (admin API off)'}`,
    `TRUST_PROXY: ${cfg.trustProxy}`,
    `WORKERS: ${cfg.workers}`,
  ];
}

/**
 * SIGHUP: TENANTS_FILE and the TLS certificate and key read again and checked as at start.
 * Throws a ConfigError listing every problem; the caller keeps what it runs.
 */
export function readReload(cfg: ServerConfig): ReloadUpdate {
  const problems: string[] = [];
  let tenants: Record<string, unknown> | null = null;
  let tls: ReloadUpdate['tls'] = null;
  try {
    tenants = loadTenants(cfg.tenantsFile ?? undefined);
  } catch (err) {
    problems.push(errorText(err));
  }
  if (cfg.tlsPaths) {
    try {
      tls = readTls(cfg.tlsPaths);
    } catch (err) {
      problems.push(errorText(err));
    }
  }
  if (cfg.dnsTenant !== null) {
    try {
      checkDnsTenant(cfg.dnsTenant, cfg.tenantsFile, tenants);
    } catch (err) {
      problems.push(errorText(err));
    }
  }
  if (problems.length > 0 || tenants === null) throw new ConfigError(problems.join('\n'));
  return { tenants, tls };
}
