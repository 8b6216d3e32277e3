import type { Server } from 'node:net';
import { parseAddress } from '../acl/address';
import { ResponseCache } from '../cache/response-cache';
import { EDE, RCODE } from '../dns/constants';
import { clientEdns } from '../dns/edns';
import { errorResponse } from '../dns/response';
import { createApp } from '../doh/app';
import { type EndpointContext, answer, cachedWire, uncachedWire } from '../doh/endpoint';
import { checkRateLimit } from '../tenant/rate-limit';
import { TenantStore } from '../tenant/store';
import { type Tenant, openTenant } from '../tenant/tenant';
import type { UpstreamOptions } from '../upstream/doh-client';
import { type Answerer, StreamDns, UdpDns, bindUdp, dotServer, tcpServer } from './classic';
import { ConfigError, type ServerConfig, errorText } from './config';
import type { WireAnswerer } from './fast-doh';
import { ClientAddresses, HttpFront } from './http';
import { upstreamFetch } from './upstream-fetch';
import { memoryRateLimits } from './rate-limit';
import type { SharedRecords } from './tenants';

/** How long shutdown waits for queries in flight before closing anyway. */
export const SHUTDOWN_GRACE_MS = 5000;

export interface RunningServer {
  /** One line per listener, for the log. */
  readonly listening: readonly string[];
  /** Stop accepting, finish what is in flight (at most graceMs), close everything. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Starts the DoH front, classic DNS over UDP and TCP, and DoT (with TLS) in this process. */
export async function startServer(
  cfg: ServerConfig,
  records: SharedRecords,
  log: (line: string) => void,
): Promise<RunningServer> {
  const store = new TenantStore(records.backend);
  const addresses = new ClientAddresses();
  // One answer cache (in-process LRU, no shared layer on Node) for DoH, DNS and DoT alike.
  const cache = new ResponseCache();
  const app = createApp({
    store: () => store,
    cache,
    clientAddress: addresses.clientAddress,
    fetch: upstreamFetch,
  });
  const env = { ...cfg.appEnv, ...memoryRateLimits() };

  const answerer = classicAnswerer(cfg, store, cache, env);
  // DoH's /dns-query is the default tenant (DNS_TENANT is for classic DNS and DoT only).
  const open = openTenant(cfg.settings.policy);
  const upstream = upstreamOptions(cfg, open);
  // A cache hit is answered synchronously (the HTTP/2 server then writes it in the same turn).
  const dohAnswerer: WireAnswerer = (raw, address) => {
    const ctx: EndpointContext = {
      tenant: open,
      clientAddress: parseAddress(address),
      cache,
      upstream,
    };
    return cachedWire(raw, ctx) ?? uncachedWire(raw, ctx);
  };
  const http = new HttpFront(app, addresses, {
    env,
    trustProxy: cfg.trustProxy,
    tls: cfg.tls,
    answerer: dohAnswerer,
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
  const udp = new UdpDns(udpSocket, { answerer, log });
  await listenNet(tcp, 'DNS_PORT', cfg.dnsPort, host);
  listening.push(`DNS udp+tcp ${hostPort(host, cfg.dnsPort)}`);
  if (dot) {
    await listenNet(dot, 'DOT_PORT', cfg.dotPort, host);
    listening.push(`DoT ${hostPort(host, cfg.dotPort)}`);
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
      await udp.close();
    })();
    return stopping;
  };
  return { listening, shutdown };
}

/** A tenant's upstreams (its own or the server's), with the Node upstream fetch. */
function upstreamOptions(cfg: ServerConfig, tenant: Tenant): UpstreamOptions {
  return {
    urls: tenant.upstreams ?? cfg.settings.upstreams,
    deadlineMs: cfg.settings.deadlineMs,
    fetch: upstreamFetch,
  };
}

/** The engine for classic DNS and DoT: the default tenant or DNS_TENANT, then `answer()`. */
function classicAnswerer(
  cfg: ServerConfig,
  store: TenantStore,
  cache: ResponseCache,
  env: ReturnType<typeof memoryRateLimits>,
): Answerer {
  const open = openTenant(cfg.settings.policy);
  return async (query, raw, address) => {
    const clientAddress = parseAddress(address);
    let tenant: Tenant = open;
    if (cfg.dnsTenant !== null) {
      const found = await store.lookup(cfg.dnsTenant);
      if (found.kind !== 'found') {
        return errorResponse(query, RCODE.REFUSED, clientEdns(query), [
          { code: EDE.PROHIBITED, text: `DNS_TENANT ${cfg.dnsTenant} is ${found.kind}` },
        ]);
      }
      tenant = found.tenant;
    }
    if (await checkRateLimit(env, tenant, clientAddress)) {
      return errorResponse(query, RCODE.REFUSED, clientEdns(query), [
        { code: EDE.OTHER, text: `rate limit of ${tenant.rateLimit} queries per minute exceeded` },
      ]);
    }
    const ctx: EndpointContext = {
      tenant,
      clientAddress,
      cache,
      upstream: upstreamOptions(cfg, tenant),
    };
    return answer(query, ctx, raw);
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
