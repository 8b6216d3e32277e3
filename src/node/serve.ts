/**
 * `npm run serve`: the self-hosted resolver on Node. The same Hono app and engine as on
 * Workers, served over HTTP/1.1 + h2c (or HTTPS with HTTP/2 and HTTP/1.1), classic DNS over UDP
 * and TCP, and DNS over TLS. Settings come from the environment (README: Self-hosted server).
 */
import cluster, { type Worker } from 'node:cluster';
import { USAGE, check, parseCli, readReload, version } from './cli';
import { ConfigError, type ServerConfig, errorText, loadConfig } from './config';
import { ServerAcl } from './acl';
import { log as leveledLog, lifecycleLog as serverLog, setLogLevel } from './log';
import { clusterSource, startMetricsServer } from './metrics';
import { effectiveSettings } from './obs-config';
import {
  type ReloadUpdate,
  type RunningServer,
  SHUTDOWN_GRACE_MS,
  hostPort,
  startServer,
} from './server';
import { SharedRecords, type TenantChange } from './tenants';

/** Messages between the primary and its workers (WORKERS > 1). */
type ClusterMessage =
  | { dns64: 'ready'; listening: readonly string[] }
  /** SIGHUP in the primary: the checked tenants and TLS files, for every worker to take. */
  | { dns64: 'reload'; tenants: Record<string, unknown>; tls: PemPair | null }
  | { dns64: 'tenants?' }
  /** The primary's tenants and TLS certificate and key now, for a worker starting. */
  | { dns64: 'tenants'; records: Record<string, unknown>; tls: PemPair | null }
  | ({ dns64: 'tenant' } & TenantChange);

type PemPair = { cert: string; key: string };

function pem(tls: ServerConfig['tls']): PemPair | null {
  return tls ? { cert: tls.cert.toString('utf8'), key: tls.key.toString('utf8') } : null;
}

function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && 'dns64' in m;
}

/** Plain lines of the server's life (`ready: ...`, `SIGTERM: draining ...`) as JSON log lines. */
const log = (line: string) => serverLog.info(line);

function fail(err: unknown): never {
  console.error(err instanceof ConfigError ? err.message : `fatal: ${errorText(err)}`);
  process.exit(1);
}

/** Runs the server in this process: the only one, or one of the cluster's workers. */
async function runServer(config: ServerConfig): Promise<void> {
  let cfg = config;
  const worker = cluster.isWorker;
  let records: SharedRecords;
  let running: RunningServer | null = null;
  let pendingReload: ReloadUpdate | null = null;
  if (worker) {
    // The primary reloads on SIGHUP and hands the result to every worker.
    process.on('SIGHUP', () => {});
    process.on('message', (m: unknown) => {
      if (!isClusterMessage(m) || m.dns64 !== 'reload') return;
      const update: ReloadUpdate = {
        tenants: m.tenants,
        tls: m.tls ? { cert: Buffer.from(m.tls.cert), key: Buffer.from(m.tls.key) } : null,
      };
      if (running) void running.reload(update).catch((err: unknown) => fail(err));
      else pendingReload = update;
    });
    // Tenants as the primary has them now (the file plus admin changes since), then its updates.
    let shared: SharedRecords | null = null;
    const early: TenantChange[] = [];
    const initial = await new Promise<Record<string, unknown>>((resolve) => {
      process.on('message', (m: unknown) => {
        if (!isClusterMessage(m)) return;
        if (m.dns64 === 'tenants') {
          // The files as the primary read them (at start or its last good SIGHUP): a worker
          // restarted after a refused reload does not trip over the bad file on disk.
          cfg = {
            ...cfg,
            tls: m.tls ? { cert: Buffer.from(m.tls.cert), key: Buffer.from(m.tls.key) } : null,
          };
          resolve(m.records);
        }
        if (m.dns64 === 'tenant') {
          const change = { id: m.id, json: m.json };
          if (shared) void shared.apply(change);
          else early.push(change);
        }
      });
      send({ dns64: 'tenants?' });
    });
    shared = new SharedRecords(initial, (change) => send({ dns64: 'tenant', ...change }));
    for (const change of early) await shared.apply(change);
    records = shared;
  } else {
    records = new SharedRecords(cfg.tenants, () => {});
  }

  let server: RunningServer;
  try {
    // Classic DNS's own complaints (a failed query, a socket error) are warnings.
    server = await startServer(cfg, records, (line) => leveledLog.warn(line));
  } catch (err) {
    fail(err);
  }
  running = server;
  if (pendingReload) await server.reload(pendingReload);
  if (worker) send({ dns64: 'ready', listening: server.listening });
  else {
    leveledLog.info({ event: 'allow-query' }, `allow-query: ${server.allowQuery}`);
    serverLog.info(
      { event: 'ready', listening: server.listening },
      `ready: ${server.listening.join('; ')}`,
    );
    process.on('SIGHUP', () => {
      const update = reloadOrExplain(cfg);
      if (update) {
        void server.reload(update).then(
          () => serverLog.info({ event: 'reload' }, reloaded(cfg)),
          (err: unknown) =>
            serverLog.error({ event: 'reload' }, `reload failed: ${errorText(err)}`),
        );
      }
    });
  }

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    if (!worker) log(`${why}: draining (at most ${SHUTDOWN_GRACE_MS} ms)`);
    void server.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        serverLog.error({ event: 'shutdown' }, `shutdown: ${errorText(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (worker) process.on('disconnect', () => stop('primary gone'));
}

/** SIGHUP: the files read again, or null with every problem logged (the old ones kept). */
function reloadOrExplain(cfg: ServerConfig): ReloadUpdate | null {
  try {
    return readReload(cfg);
  } catch (err) {
    const lines = err instanceof ConfigError ? err.message.split('\n') : [errorText(err)];
    console.error(
      ['SIGHUP: reload refused, the running configuration is kept:', ...lines].join('\n  '),
    );
    return null;
  }
}

function reloaded(cfg: ServerConfig): string {
  const what = [cfg.tenantsFile ? `TENANTS_FILE ${cfg.tenantsFile}` : 'no TENANTS_FILE'];
  if (cfg.tlsPaths) what.push(`TLS_CERT ${cfg.tlsPaths.cert}`);
  return `SIGHUP: reloaded ${what.join(', ')}`;
}

function send(m: ClusterMessage): void {
  process.send?.(m);
}

/**
 * WORKERS > 1: the primary forks the workers, which share the listening ports through node:cluster
 * (TCP connections handed out round-robin by the primary, the UDP socket shared by all workers),
 * relays admin API changes between them, restarts a worker that dies, and on SIGTERM has every
 * worker drain, then exits 0.
 */
function runPrimary(cfg: ServerConfig): void {
  const records = new SharedRecords(cfg.tenants, () => {});
  let currentTls = pem(cfg.tls);
  const ready = new Set<Worker>();
  // /metrics, /healthz, /readyz for the whole cluster: the workers' figures, summed.
  const metricsAddr = cfg.obs.metrics;
  const metricsListening = metricsAddr
    ? startMetricsServer(metricsAddr, clusterSource()).then(
        () => `metrics http://${hostPort(metricsAddr.host, metricsAddr.port)}/metrics`,
        (err: unknown) =>
          fail(
            new ConfigError(
              `METRICS_ADDR: cannot listen on ${hostPort(metricsAddr.host, metricsAddr.port)}: ${errorText(err)}`,
            ),
          ),
      )
    : Promise.resolve(null);
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: unknown) => {
      if (!isClusterMessage(m)) return;
      if (m.dns64 === 'tenants?') {
        void records
          .snapshot()
          .then((snap) => w.send({ dns64: 'tenants', records: snap, tls: currentTls }));
      } else if (m.dns64 === 'tenant') {
        void records.apply({ id: m.id, json: m.json });
        for (const other of Object.values(cluster.workers ?? {})) {
          if (other && other !== w && other.isConnected()) other.send(m);
        }
      } else if (m.dns64 === 'ready') {
        ready.add(w);
        if (announced) {
          log(`worker ${w.process.pid} ready (a restart)`);
        } else if (ready.size === cfg.workers) {
          announced = true;
          const listening = m.listening;
          void metricsListening.then((metricsLine) => {
            const all = metricsLine ? [...listening, metricsLine] : [...listening];
            serverLog.info(
              { event: 'ready', listening: all, workers: cfg.workers },
              `ready: ${all.join('; ')} (${cfg.workers} workers)`,
            );
          });
        }
      }
    });
    w.on('exit', (code, signal) => {
      const wasReady = ready.delete(w);
      if (stopping) {
        if (code !== 0) exitCode = 1;
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
        return;
      }
      if (!wasReady) {
        // It failed to start (its error is on stderr): stop the rest and give up.
        stopping = true;
        exitCode = 1;
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
        return;
      }
      serverLog.error(
        { event: 'worker-died', pid: w.process.pid, exit: signal ?? code },
        `worker ${w.process.pid} died (${signal ?? code}), starting another in 1 s`,
      );
      setTimeout(() => {
        if (!stopping) fork();
      }, 1000);
    });
  };
  for (let i = 0; i < cfg.workers; i++) fork();

  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`${why}: draining ${cfg.workers} workers (at most ${SHUTDOWN_GRACE_MS} ms)`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    const update = reloadOrExplain(cfg);
    if (!update) return;
    const tenants = { ...update.tenants };
    const tls = pem(update.tls);
    currentTls = tls;
    // The primary's copy seeds workers started later; the running ones take the message.
    void records.replace(tenants).then(() => {
      for (const w of Object.values(cluster.workers ?? {})) {
        if (w?.isConnected()) w.send({ dns64: 'reload', tenants, tls } satisfies ClusterMessage);
      }
      log(`${reloaded(cfg)} (${cfg.workers} workers)`);
    });
  });
  log(`allow-query: ${new ServerAcl(cfg.allowQuery).describe()}`);
}

let cfg: ServerConfig;
if (cluster.isPrimary) {
  const mode = parseCli(process.argv.slice(2));
  if (typeof mode === 'object') {
    console.error(`${mode.error}\n${USAGE}`);
    process.exit(2);
  }
  if (mode === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  if (mode === 'version') {
    console.log(version());
    process.exit(0);
  }
  if (mode === 'check') {
    const result = check(process.env);
    (result.code === 0 ? process.stdout : process.stderr).write(result.text);
    process.exit(result.code);
  }
}
try {
  // A worker takes TENANTS_FILE and the TLS files from the primary, not from the disk.
  cfg = loadConfig(process.env, { files: cluster.isPrimary });
} catch (err) {
  fail(err);
}
setLogLevel(cfg.obs.logLevel);
if (cluster.isPrimary) {
  serverLog.info(
    { event: 'start', settings: effectiveSettings(process.env, cfg, cfg.obs) },
    `start: dns64-edge on Node ${process.version}`,
  );
}
if (cluster.isPrimary && cfg.workers > 1) runPrimary(cfg);
else void runServer(cfg).catch(fail);
