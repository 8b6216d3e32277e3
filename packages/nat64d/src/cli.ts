/**
 * Command line, Tayga style:
 *   nat64d [-c FILE] [--metrics HOST:PORT|off] [-d]   run the daemon in the foreground
 *   nat64d [-c FILE] --mktun | --rmtun                create / destroy a persistent TUN device
 *   nat64d [-c FILE] --check                          validate the configuration and exit
 *   nat64d stats [-c FILE] [--metrics HOST:PORT] [--all] [--json]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_METRICS, parseListenAddress, readTaygaConf } from './config/index.js';
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
  fetchStats,
  formatSummary,
  loadSnapshot,
  saveSnapshot,
  statsStateDir,
} from './daemon/stats-client.js';
import { TunDevice } from './tun/index.js';

export const DEFAULT_CONFIG = '/etc/tayga.conf';

export const USAGE = `Usage: nat64d [options]            run the NAT64 daemon (foreground)
       nat64d stats [options]      print the running daemon's counters

NAT64 on a TUN device, configured by tayga.conf: stateless (RFC 7915 / RFC 6052, Tayga's
model), or stateful (RFC 6146) with pool4 lines.

Options:
  -c, --config FILE        configuration file (default ${DEFAULT_CONFIG})
      --metrics ADDR       Prometheus /metrics and /stats on ADDR (host:port, [v6]:port
                           or off); overrides the "metrics" key (default ${DEFAULT_METRICS})
      --mktun              create the TUN device as persistent and exit
      --rmtun              remove a persistent TUN device and exit
      --check              validate the configuration, print a summary and exit
      --json               with "stats": print JSON
      --all                with "stats": every counter, zeros too
  -n, --nodetach           accepted for Tayga compatibility (nat64d never detaches)
  -d, --debug              log each drop reason (sampled: the first, then one line
                           per reason every 10 s with the count)
  -h, --help               this text
  -V, --version            print the version

Signals: SIGHUP reloads the map lines, SIGTERM/SIGINT save the dynamic table and exit 0.
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
  if (positionals.length > 1 || (command !== undefined && command !== 'stats')) {
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
    if (command === 'stats') {
      let listen = values.metrics;
      let source = 'given by --metrics';
      if (listen === undefined) {
        listen = values.config ? (readTaygaConf(configFile).metrics ?? 'off') : DEFAULT_METRICS;
        source = values.config ? `the metrics key of ${configFile}` : 'the default';
      }
      if (listen === 'off' || listen === 'no') {
        io.err(`nat64d stats: the metrics endpoint is off (${source}); nothing to ask\n`);
        return 1;
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
      const config = readTaygaConf(configFile, { stateDirectory: process.env.STATE_DIRECTORY });
      if (values.check) {
        const st = config.stateful;
        const stateful = st
          ? `, stateful: ${st.pool4.length} pool4 line(s), ${st.bib.length} bib line(s)`
          : '';
        for (const w of config.warnings) io.out(`warning: ${formatIssue(w)}\n`);
        for (const n of configNotes(config)) io.out(`${n}\n`);
        io.out(
          `${configFile}: OK (tun-device ${config.tunDevice}, ${config.maps.length} map line(s)${stateful})\n`,
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
    try {
      await daemon.start();
    } catch (err) {
      await daemon.stop().catch(() => undefined);
      throw err;
    }
    let reloading = Promise.resolve();
    process.on('SIGHUP', () => {
      reloading = reloading.then(() => daemon.reload());
    });
    const shutdown = (signal: string) => {
      log.info(`${signal}: saving state and exiting`);
      daemon.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error(String(err));
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
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
