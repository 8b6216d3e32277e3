/**
 * Command line, Tayga style:
 *   nat64d [-c FILE] [--metrics HOST:PORT|off] [-d]   run the daemon in the foreground
 *   nat64d [-c FILE] --mktun | --rmtun                create / destroy a persistent TUN device
 *   nat64d [-c FILE] --check                          validate the configuration and exit
 *   nat64d stats [-c FILE] [--metrics HOST:PORT] [--all] [--json]
 *   nat64d sessions|bib [-c FILE] [--metrics HOST:PORT] [--proto P] [--addr A] [--json]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_METRICS, parseListenAddress, readTaygaConf } from './config/index.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './config/addr.js';
import { formatIssue } from './config/errors.js';
import { closestKey } from './config/tayga-conf.js';
import { Daemon } from './daemon/daemon.js';
import { stderrLogger } from './daemon/log.js';
import {
  configNotes,
  runningTaygas,
  taygaConflict,
  tunOpenError,
  type RunningProcess,
} from './daemon/preflight.js';
import {
  fetchJson,
  fetchStats,
  formatBib,
  formatSessions,
  formatSummary,
  loadSnapshot,
  saveSnapshot,
  statsStateDir,
  type BibAnswer,
  type SessionsAnswer,
} from './daemon/stats-client.js';
import { TunDevice } from './tun/index.js';

export const DEFAULT_CONFIG = '/etc/tayga.conf';

export const USAGE = `Usage: nat64d [options]            run the NAT64 daemon (foreground)
       nat64d stats [options]      print the running daemon's counters
       nat64d sessions [options]   print the running daemon's sessions (stateful NAT64)
       nat64d bib [options]        print the running daemon's BIB (stateful NAT64)

NAT64 on a TUN device, configured by tayga.conf: stateless (RFC 7915 / RFC 6052, Tayga's
model), or stateful (RFC 6146) with pool4 lines.

Options:
  -c, --config FILE        configuration file (default ${DEFAULT_CONFIG})
      --metrics ADDR       Prometheus /metrics and /stats on ADDR (host:port, [v6]:port
                           or off); overrides the "metrics" key (default ${DEFAULT_METRICS})
      --mktun              create the TUN device as persistent and exit
      --rmtun              remove a persistent TUN device and exit
      --check              validate the configuration, print a summary and exit
      --json               with "stats", "sessions", "bib": print JSON
      --all                with "stats": every counter, zeros too
      --proto P            with "sessions", "bib": only tcp, udp or icmp
      --addr A             with "sessions", "bib": only entries with this IPv6 host,
                           pool4 or (sessions) remote IPv4 address
  -n, --nodetach           accepted for Tayga compatibility (nat64d never detaches)
  -d, --debug              log each drop reason (sampled: the first, then one line
                           per reason every 10 s with the count)
  -h, --help               this text
  -V, --version            print the version

Environment: NAT64D_REPORT_URL, NAT64D_REPORT_KEY override report-url, report-key.
Signals: SIGHUP reloads the map, pool4 and bib lines; SIGTERM/SIGINT withdraw from report-url
(DELETE, at most 2 s), undo routes and steering, save the dynamic table and exit 0.
`;

interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** What the CLI looks at besides argv (tests replace them). */
export interface CliEnv {
  /** Running Tayga processes (default: from /proc). */
  readonly taygas?: () => readonly RunningProcess[];
  /** Where `stats` keeps its previous call (default: statsStateDir()). */
  readonly statsDir?: string;
  /** Unix milliseconds (default: Date.now). */
  readonly now?: () => number;
}

export function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../package.json') as { version: string }).version;
}

const stdio: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Returns the exit code for one-shot commands, or null when the daemon keeps running. */
export async function main(
  argv: readonly string[],
  io: Io = stdio,
  env: CliEnv = {},
): Promise<number | null> {
  let parsed;
  const options = {
    config: { type: 'string', short: 'c' },
    metrics: { type: 'string' },
    mktun: { type: 'boolean' },
    rmtun: { type: 'boolean' },
    check: { type: 'boolean' },
    json: { type: 'boolean' },
    all: { type: 'boolean' },
    proto: { type: 'string' },
    addr: { type: 'string' },
    version: { type: 'boolean', short: 'V' },
    nodetach: { type: 'boolean', short: 'n' },
    debug: { type: 'boolean', short: 'd' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /^Unknown option '(--[^']+)'/.exec(message)?.[1];
    const near = unknown
      ? closestKey(
          unknown,
          Object.keys(options).map((o) => `--${o}`),
        )
      : null;
    const text = unknown ? `unknown option ${unknown}` : message;
    io.err(`nat64d: ${text}${near ? ` (did you mean ${near}?)` : ''}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.version) {
    io.out(`nat64d ${version()}\n`);
    return 0;
  }
  const command = positionals[0];
  const commands = ['stats', 'sessions', 'bib'];
  if (positionals.length > 1 || (command !== undefined && !commands.includes(command))) {
    io.err(`nat64d: unexpected argument "${positionals.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  if (values.metrics !== undefined) {
    // Checked before anything starts (and by --check): every option is validated.
    const listen = parseListenAddress(values.metrics);
    if (typeof listen === 'string') {
      io.err(`nat64d: --metrics ${values.metrics}: ${listen}\n`);
      return 1;
    }
  }
  const configFile = values.config ?? DEFAULT_CONFIG;
  const log = stderrLogger(values.debug === true);

  try {
    if (command !== undefined) {
      let listen = values.metrics;
      let source = 'given by --metrics';
      if (listen === undefined) {
        listen = values.config
          ? (readTaygaConf(configFile, { env: process.env }).metrics ?? 'off')
          : DEFAULT_METRICS;
        source = values.config ? `the metrics key of ${configFile}` : 'the default';
      }
      if (listen === 'off' || listen === 'no') {
        io.err(`nat64d ${command}: the metrics endpoint is off (${source}); nothing to ask\n`);
        return 1;
      }
      if (command === 'sessions' || command === 'bib') {
        const query = new URLSearchParams();
        if (values.proto !== undefined) {
          const p = values.proto.toLowerCase();
          if (p !== 'tcp' && p !== 'udp' && p !== 'icmp') {
            io.err(`nat64d: --proto ${values.proto}: expected tcp, udp or icmp\n`);
            return 2;
          }
          query.set('proto', p);
        }
        if (values.addr !== undefined) {
          const v4 = parseIpv4(values.addr);
          const v6 = parseIpv6(values.addr);
          if (!v4.ok && !v6.ok) {
            io.err(`nat64d: --addr ${values.addr}: not an IPv4 or IPv6 address\n`);
            return 2;
          }
          query.set('addr', v4.ok ? formatIpv4(v4.value) : v6.ok ? formatIpv6(v6.value) : '');
        }
        const q = query.size > 0 ? `?${query.toString()}` : '';
        if (command === 'sessions') {
          const a = await fetchJson<SessionsAnswer>(listen, `/sessions${q}`);
          io.out(values.json ? `${JSON.stringify(a, null, 2)}\n` : `${formatSessions(a)}\n`);
        } else {
          const a = await fetchJson<BibAnswer>(listen, `/bib${q}`);
          io.out(values.json ? `${JSON.stringify(a, null, 2)}\n` : `${formatBib(a)}\n`);
        }
        return 0;
      }
      let stats;
      try {
        stats = await fetchStats(listen);
      } catch (err) {
        io.err(
          `nat64d stats: ${(err as Error).message}; ${listen} is ${source}. ` +
            'Is nat64d running? Name its endpoint with -c FILE or --metrics ADDR\n',
        );
        return 1;
      }
      if (values.json) io.out(`${JSON.stringify(stats, null, 2)}\n`);
      else {
        const dir = env.statsDir ?? statsStateDir();
        const snapshot = { time: (env.now ?? Date.now)(), stats };
        const previous = loadSnapshot(dir, listen);
        io.out(`${formatSummary(listen, snapshot, previous, values.all === true)}\n`);
        saveSnapshot(dir, listen, snapshot);
      }
      return 0;
    }
    if (values.mktun || values.rmtun || values.check) {
      const config = readTaygaConf(configFile, {
        stateDirectory: process.env.STATE_DIRECTORY,
        env: process.env,
      });
      if (values.check) {
        const st = config.stateful;
        const stateful = st
          ? `, stateful: ${st.pool4.length} pool4 line(s), ${st.bib.length} bib line(s)`
          : '';
        for (const w of config.warnings) io.out(`warning: ${formatIssue(w)}\n`);
        for (const n of configNotes(config)) io.out(`${n}\n`);
        const report = config.report ? `, reports to ${config.report.url}` : '';
        io.out(
          `${configFile}: OK (tun-device ${config.tunDevice}, ${config.maps.length} map line(s)${stateful}${report})\n`,
        );
        return 0;
      }
      let tun;
      try {
        tun = TunDevice.open(config.tunDevice);
      } catch (err) {
        throw tunOpenError(err);
      }
      try {
        if (values.mktun) tun.setMtu(config.tunMtu);
        tun.setPersist(values.mktun === true);
      } finally {
        tun.close();
      }
      io.out(`${values.mktun ? 'Created' : 'Removed'} persistent tun device ${config.tunDevice}\n`);
      return 0;
    }

    if (values.config === undefined) {
      // Without -c, nat64d reads Tayga's file and would share its data-dir.
      const conflict = taygaConflict(configFile, (env.taygas ?? runningTaygas)());
      if (conflict) {
        io.err(`nat64d: ${conflict}\n`);
        return 1;
      }
    }
    const daemon = new Daemon({
      configFile,
      metrics: values.metrics,
      log,
      debug: values.debug === true,
    });
    // The handlers come first: a SIGTERM during start-up (right after "translating on", say)
    // still stops in order, once start() is done, instead of killing the process.
    let started: Promise<void> = Promise.resolve();
    const shutdown = (signal: string) => {
      log.info(`${signal}: saving state and exiting`);
      started.then(
        () =>
          daemon.stop().then(
            () => process.exit(0),
            (err: unknown) => {
              log.error(String(err));
              process.exit(1);
            },
          ),
        () => undefined, // a failed start stops the daemon and exits 1 below
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    started = daemon.start();
    try {
      await started;
    } catch (err) {
      await daemon.stop().catch(() => undefined);
      throw err;
    }
    let reloading = Promise.resolve();
    process.on('SIGHUP', () => {
      reloading = reloading.then(() => daemon.reload());
    });
    return null;
  } catch (err) {
    if (err instanceof ConfigError) io.err(`${err.message}\n`);
    else {
      const message = (err as Error).message;
      io.err(message.startsWith('nat64d ') ? `${message}\n` : `nat64d: ${message}\n`);
    }
    return 1;
  }
}
