import { X509Certificate } from 'node:crypto';
import cluster from 'node:cluster';
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { parseAddress } from '../acl/address';
import { ResponseCache } from '../cache/response-cache';
import { ROOT, textToName } from '../dns/name';
import { createApp } from '../doh/app';
import type { DdrConfig } from '../resolver/ddr';
import { Engine, type EngineCounts, type EngineEnv, type TenantRef } from '../resolver/engine';
import { ServerAcl } from './acl';
import { TenantStore } from '../tenant/store';
import { type Answerer, StreamDns, UdpDns, bindUdp, dotServer, tcpServer } from './classic';
import { ConfigError, type ServerConfig, errorText } from './config';
import { ClientAddresses, HttpFront } from './http';
import { memoryRateLimits } from './limits';
import { classicExchangers } from './upstream-classic';
import { type RrlCounts, ResponseRateLimiter } from './rrl';
import { upstreamFetch } from './upstream-fetch';
import type { SharedRecords } from './tenants';
import { ObservedHealth } from '../obs/observed-health';
import { refusalLogger } from '../obs/observers';
import { queryLogRecord } from '../obs/query-event';
import { log as serverLog, queryLog } from './log';
import { Metrics, localSource, startMetricsServer } from './metrics';

/** How long shutdown waits for queries in flight before closing anyway. */
export const SHUTDOWN_GRACE_MS = 5000;

export interface RunningServer {
  /** One line per listener, for the log. */
  readonly listening: readonly string[];
  /** What the server refused or rate-limited, for metrics (the counters only grow). */
  readonly counts: { readonly engine: EngineCounts; readonly rrl: RrlCounts };
  /** ALLOW_QUERY as applied, for the log. */
  readonly allowQuery: string;
  /**
   * SIGHUP: the tenants and TLS certificate and key, already read and checked, take over. Queries
   * and connections in flight carry on; new TLS handshakes use the new certificate.
   */
  reload(update: ReloadUpdate): Promise<void>;
  /** Stop accepting, finish what is in flight (at most graceMs), close everything. */
  shutdown(graceMs?: number): Promise<void>;
  /** This process's metrics (for counters kept outside the engine: ACLs, rate limiting). */
  readonly metrics: Metrics;
}

export interface ReloadUpdate {
  readonly tenants: Readonly<Record<string, unknown>>;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null;
}

/** Starts the DoH front, classic DNS over UDP and TCP, and DoT (with TLS) in this process. */
export async function startServer(
  cfg: ServerConfig,
  records: SharedRecords,
  log: (line: string) => void,
): Promise<RunningServer> {
  const store = new TenantStore(records.backend);
  const addresses = new ClientAddresses();
  const metrics = new Metrics();
  const health = new ObservedHealth(() => serverLog, metrics.upstreamHooks());
  const refusals = refusalLogger(() => serverLog);
  const { queryLog: logAll, queryLogFullIp } = cfg.obs;
  const cache = new ResponseCache();
  // One engine, and so one answer cache (in-process LRU, no shared layer on Node), for DoH,
  // DNS and DoT alike.
  const acl = new ServerAcl(cfg.allowQuery);
  const engine = new Engine({
    store: () => store,
    cache,
    fetch: upstreamFetch,
    exchangers: classicExchangers({ ca: cfg.upstreamCa }),
    ddr: ddrConfig(cfg),
    health,
    onGatewayChange: (tenant, gateway, state) => {
      metrics.gateway(tenant, gateway, state);
      serverLog.warn(
        { event: 'gateway', tenant, gateway, state },
        `gateway ${gateway} of ${tenant} is ${state}`,
      );
    },
    allowQuery: acl,
    observe: (e) => {
      metrics.query(e);
      if (logAll || e.queryLog) queryLog.info(queryLogRecord(e, queryLogFullIp), 'query');
      refusals(e);
    },
  });
  const app = createApp({
    engine,
    store: () => store,
    clientAddress: addresses.clientAddress,
    // The setup page says what works besides DoH: classic DNS, and DoT when TLS is configured.
    transports: { dnsPort: cfg.dnsPort, dotPort: cfg.tls ? cfg.dotPort : null },
    trustProxy: cfg.trustProxy,
    log: serverLog,
  });
  const rrl = new ResponseRateLimiter(cfg.rrl);
  const env: EngineEnv = { ...cfg.appEnv, ...memoryRateLimits() };

  // Classic DNS and DoT answer as the default tenant, or DNS_TENANT (its allowQuery applies).
  const classicTenant: TenantRef =
    cfg.dnsTenant === null
      ? { kind: 'default' }
      : { kind: 'tenant', id: cfg.dnsTenant, key: undefined };
  const answerer: Answerer = (raw, address, transport) =>
    engine.answer({
      wire: raw,
      tenant: classicTenant,
      client: parseAddress(address),
      env,
      transport,
    });
  const http = new HttpFront(app, addresses, {
    env,
    trustProxy: cfg.trustProxy,
    tls: cfg.tls,
    engine,
  });
  const stream = new StreamDns({ answerer, log });
  const tcp = tcpServer(stream);
  const dot = cfg.tls ? dotServer(stream, cfg.tls) : null;

  const listening: string[] = [];
  const host = await listenNet(http.server, 'PORT', cfg.httpPort, cfg.host);
  listening.push(
    cfg.tls
      ? `DoH https://${hostPort(host, cfg.httpPort)}/dns-query (HTTP/2, HTTP/1.1)`
      : `DoH http://${hostPort(host, cfg.httpPort)}/dns-query (HTTP/1.1, h2c)`,
  );
  const udpSocket = await bindUdp(host, cfg.dnsPort).catch((err: unknown) => {
    throw new ConfigError(
      `DNS_PORT: cannot listen on udp ${hostPort(host, cfg.dnsPort)}: ${errorText(err)}`,
    );
  });
  const udp = new UdpDns(udpSocket, { answerer, log, rrl });
  await listenNet(tcp, 'DNS_PORT', cfg.dnsPort, host);
  listening.push(`DNS udp+tcp ${hostPort(host, cfg.dnsPort)}`);
  if (dot) {
    await listenNet(dot, 'DOT_PORT', cfg.dotPort, host);
    listening.push(`DoT ${hostPort(host, cfg.dotPort)}`);
  }
  metrics.bind({
    cache,
    inflight: () => http.inflight.size + udp.inflight.size + stream.inflight.size,
    lastAnswer: () => health.lastAnswerAt,
  });
  // A cluster worker's figures go to the primary, which serves them for all (src/node/serve.ts).
  let metricsServer: HttpServer | null = null;
  if (cluster.isWorker) {
    metrics.serveToPrimary();
  } else if (cfg.obs.metrics) {
    const addr = cfg.obs.metrics;
    metricsServer = await startMetricsServer(
      addr,
      localSource(metrics, () => health.lastAnswerAt),
    ).catch((err: unknown) => {
      throw new ConfigError(
        `METRICS_ADDR: cannot listen on ${hostPort(addr.host, addr.port)}: ${errorText(err)}`,
      );
    });
    listening.push(`metrics http://${hostPort(addr.host, addr.port)}/metrics`);
  }

  let stopping: Promise<void> | null = null;
  const shutdown = (graceMs = SHUTDOWN_GRACE_MS) => {
    stopping ??= (async () => {
      tcp.close();
      dot?.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([http.drain(), udp.drain(), stream.drain()]),
        new Promise((r) => (timer = setTimeout(r, graceMs))),
      ]);
      clearTimeout(timer);
      http.destroyAll();
      stream.destroyAll();
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      await udp.close();
    })();
    return stopping;
  };
  const reload = async (update: ReloadUpdate) => {
    await records.replace(update.tenants);
    store.forget();
    if (update.tls) {
      const context = { cert: update.tls.cert, key: update.tls.key };
      (http.server as TlsServer).setSecureContext(context);
      (dot as TlsServer | null)?.setSecureContext(context);
    }
  };
  return {
    listening,
    shutdown,
    metrics,
    reload,
    counts: { engine: engine.counts, rrl: rrl.counts },
    allowQuery: acl.describe(),
  };
}

/**
 * DDR (RFC 9462) with TLS: DoH and DoT on their ports, under SERVER_NAME or else the first DNS
 * name of the certificate (the name clients check it against); without TLS, none. With
 * DNS_TENANT, classic DNS and DoT answer as that tenant, so the DoH endpoint is the tenant's
 * URL (`/t/{id}/dns-query`), not `/dns-query` (the default prefix); a tenant with a key gets no
 * DoH endpoint, since the key would ride in the published path.
 */
export function ddrConfig(cfg: ServerConfig): DdrConfig | null {
  if (!cfg.tls) return null;
  const certName = new X509Certificate(cfg.tls.cert).subjectAltName
    ?.split(',')
    .map((s) => s.trim())
    .find((s) => s.startsWith('DNS:'))
    ?.slice(4);
  const parsed = certName ? textToName(certName) : null;
  const target = cfg.serverName ?? (parsed?.ok ? parsed.name : ROOT);
  const tenant =
    cfg.dnsTenant === null ? null : (cfg.tenants[cfg.dnsTenant] as { key?: unknown } | undefined);
  const dohPath =
    cfg.dnsTenant === null
      ? undefined
      : tenant?.key !== undefined
        ? null
        : `/t/${cfg.dnsTenant}/dns-query{?dns}`;
  return {
    target,
    serverName: cfg.serverName,
    dohPort: cfg.httpPort,
    dotPort: cfg.dotPort,
    dohPath,
  };
}

/**
 * Listens on host, or by default on `::` (IPv6 and IPv4, dual-stack), falling back to 0.0.0.0
 * where the machine has no IPv6. Resolves with the address used.
 */
async function listenNet(
  server: Server,
  variable: string,
  port: number,
  host: string | null,
): Promise<string> {
  const attempt = (h: string) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: h, ipv6Only: false }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const first = host ?? '::';
  try {
    await attempt(first);
    return first;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (host === null && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
      await attempt('0.0.0.0').catch((e: unknown) => {
        throw new ConfigError(`${variable}: cannot listen on 0.0.0.0:${port}: ${errorText(e)}`);
      });
      return '0.0.0.0';
    }
    throw new ConfigError(
      `${variable}: cannot listen on ${hostPort(first, port)}: ${errorText(err)}`,
    );
  }
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
