/**
 * Command line, Tayga style:
 *   nat64d [-c FILE] [--metrics HOST:PORT|off] [-d]   run the daemon in the foreground
 *   nat64d [-c FILE] --mktun | --rmtun                create / destroy a persistent TUN device
 *   nat64d [-c FILE] --check                          validate the configuration and exit
 *   nat64d stats [-c FILE] [--metrics HOST:PORT] [--json]
 *   nat64d sessions|bib [-c FILE] [--metrics HOST:PORT] [--proto P] [--addr A] [--json]
 */
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_METRICS, readTaygaConf } from './config/index.js';
import { formatIssue } from './config/errors.js';
import { Daemon } from './daemon/daemon.js';
import { stderrLogger } from './daemon/log.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './config/addr.js';
import {
  fetchJson,
  fetchStats,
  formatBib,
  formatSessions,
  formatStats,
  type BibAnswer,
  type SessionsAnswer,
} from './daemon/stats-client.js';
import { TunDevice } from './tun/index.js';

export const DEFAULT_CONFIG = '/etc/tayga.conf';

export const USAGE = `Usage: nat64d [options]            run the NAT64 daemon (foreground)
       nat64d stats [options]      print the running daemon's counters
       nat64d sessions [options]   print the running daemon's sessions (stateful NAT64)
       nat64d bib [options]        print the running daemon's BIB (stateful NAT64)

Stateless NAT64 (RFC 7915 / RFC 6052) on a TUN device, configured by tayga.conf.

Options:
  -c, --config FILE        configuration file (default ${DEFAULT_CONFIG})
      --metrics ADDR       Prometheus /metrics and /stats on ADDR (host:port, [v6]:port
                           or off); overrides the "metrics" key (default ${DEFAULT_METRICS})
      --mktun              create the TUN device as persistent and exit
      --rmtun              remove a persistent TUN device and exit
      --check              validate the configuration, print a summary and exit
      --json               with "stats", "sessions", "bib": print JSON
      --proto P            with "sessions", "bib": only tcp, udp or icmp
      --addr A             with "sessions", "bib": only entries with this IPv6 host,
                           pool4 or (sessions) remote IPv4 address
  -n, --nodetach           accepted for Tayga compatibility (nat64d never detaches)
  -d, --debug              verbose logging
  -h, --help               this text

Environment: NAT64D_REPORT_URL, NAT64D_REPORT_KEY override report-url, report-key.
Signals: SIGHUP reloads the map, pool4 and bib lines; SIGTERM/SIGINT withdraw from report-url
(DELETE, at most 2 s), undo routes and steering, save the dynamic table and exit 0.
`;

interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Returns the exit code for one-shot commands, or null when the daemon keeps running. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | null> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        metrics: { type: 'string' },
        mktun: { type: 'boolean' },
        rmtun: { type: 'boolean' },
        check: { type: 'boolean' },
        json: { type: 'boolean' },
        proto: { type: 'string' },
        addr: { type: 'string' },
        nodetach: { type: 'boolean', short: 'n' },
        debug: { type: 'boolean', short: 'd' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`nat64d: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const command = positionals[0];
  const commands = ['stats', 'sessions', 'bib'];
  if (positionals.length > 1 || (command !== undefined && !commands.includes(command))) {
    io.err(`nat64d: unexpected argument "${positionals.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  const configFile = values.config ?? DEFAULT_CONFIG;
  const log = stderrLogger(values.debug === true);

  try {
    if (command !== undefined) {
      let listen = values.metrics;
      if (listen === undefined) {
        listen = values.config
          ? (readTaygaConf(configFile, { env: process.env }).metrics ?? 'off')
          : DEFAULT_METRICS;
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
      const stats = await fetchStats(listen);
      io.out(values.json ? `${JSON.stringify(stats, null, 2)}\n` : `${formatStats(stats)}\n`);
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
        const report = config.report ? `, reports to ${config.report.url}` : '';
        io.out(
          `${configFile}: OK (tun-device ${config.tunDevice}, ${config.maps.length} map line(s)${stateful}${report})\n`,
        );
        return 0;
      }
      const tun = TunDevice.open(config.tunDevice);
      try {
        if (values.mktun) tun.setMtu(config.tunMtu);
        tun.setPersist(values.mktun === true);
      } finally {
        tun.close();
      }
      io.out(`${values.mktun ? 'Created' : 'Removed'} persistent tun device ${config.tunDevice}\n`);
      return 0;
    }

    const daemon = new Daemon({ configFile, metrics: values.metrics, log });
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
    else io.err(`nat64d: ${(err as Error).message}\n`);
    return 1;
  }
}
