/**
 * Prometheus metrics and health checks of the self-hosted server, on their own listener
 * (METRICS_ADDR, default 127.0.0.1:9153, CoreDNS's port): `/metrics` (text format 0.0.4),
 * `/healthz` (the process answers) and `/readyz` (an upstream answered in the last 30 s). With
 * WORKERS > 1 the primary serves them and sums its workers' figures (prom-client's
 * AggregatorRegistry over node:cluster IPC).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import client from 'prom-client';
import type { ResponseCache } from '../cache/response-cache';
import { redactUrl } from '../obs/log';
import type { UpstreamHooks } from '../obs/observed-health';
import { type QueryEvent, type QueryTransport, rcodeName } from '../obs/query-event';

/** `/readyz` is 200 when an upstream answered within this many ms. */
export const READY_WINDOW_MS = 30_000;

type Transport = string;

interface MetricSources {
  cache: ResponseCache | null;
  inflight: () => number;
  lastAnswer: () => number | null;
}

/** The transports queries come by (QueryEvent's), in the order of the count arrays. */
const TRANSPORTS: readonly QueryTransport[] = ['doh', 'udp', 'tcp', 'tls'];
/** One cell per RCODE 0..31: the engine reports header RCODEs (0-15) and BADVERS (16). */
const RCODE_CELLS = 32;

function transportIndex(t: QueryTransport): number {
  return t === 'doh' ? 0 : t === 'udp' ? 1 : t === 'tcp' ? 2 : 3;
}

/** The server's metrics in one registry (one per process; the primary aggregates them). */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly queries: client.Counter<'transport' | 'rcode'>;
  private readonly synthesized: client.Counter<'transport'>;
  private readonly duration: client.Histogram<'transport'>;
  /**
   * Queries and synthesized answers counted per query in plain arrays (transport x RCODE), and
   * handed to prom-client when /metrics is read (its `collect`): prom-client hashes a labels
   * object on every increment, which cost more than the rest of a cache hit's bookkeeping.
   */
  private readonly queryCells = new Float64Array(TRANSPORTS.length * RCODE_CELLS);
  private readonly synthCells = new Float64Array(TRANSPORTS.length);
  /** Label children by their label values: prom-client hashes a labels object on every call. */
  private readonly durationChildren = new Map<string, { observe(v: number): void }>();
  private readonly refusedTotal: client.Counter<'transport' | 'reason'>;
  private readonly rateLimitedTotal: client.Counter<'transport' | 'limiter'>;
  private readonly rejected: client.Counter<'transport' | 'reason'>;
  private readonly upstreamRequests: client.Counter<'upstream'>;
  private readonly upstreamFailures: client.Counter<'upstream' | 'kind'>;
  private readonly upstreamDuration: client.Histogram<'upstream'>;
  private readonly upstreamUp: client.Gauge<'upstream'>;
  private readonly gatewayUp: client.Gauge<'tenant' | 'gateway'>;
  private readonly gatewayChanges: client.Counter<'tenant' | 'gateway' | 'state'>;
  /** Read when /metrics is asked (bind()). */
  private readonly sources: MetricSources = {
    cache: null,
    inflight: () => 0,
    lastAnswer: () => null,
  };

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.queries = new client.Counter({
      name: 'dns64_queries_total',
      help: 'Queries answered with a DNS message, by transport (doh, udp, tcp, tls) and response code.',
      labelNames: ['transport', 'rcode'],
      registers,
      collect: () => {
        this.queries.reset();
        this.queryCells.forEach((n, cell) => {
          if (n === 0) return;
          const transport = TRANSPORTS[Math.floor(cell / RCODE_CELLS)]!;
          this.queries.inc({ transport, rcode: rcodeName(cell % RCODE_CELLS) }, n);
        });
      },
    });
    this.synthesized = new client.Counter({
      name: 'dns64_synthesized_total',
      help: 'Answers with DNS64-synthesized records (AAAA from A, PTR through CNAME, ipv4only.arpa).',
      labelNames: ['transport'],
      registers,
      collect: () => {
        this.synthesized.reset();
        this.synthCells.forEach((n, t) => {
          if (n > 0) this.synthesized.inc({ transport: TRANSPORTS[t]! }, n);
        });
      },
    });
    this.duration = new client.Histogram({
      name: 'dns64_query_duration_seconds',
      help: 'Time from a query reaching the engine to its answer, by transport.',
      labelNames: ['transport'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.refusedTotal = new client.Counter({
      name: 'dns64_refused_total',
      help: 'Queries refused by an access rule: allow-query (REFUSED, EDE 18), forbidden (wrong or missing tenant key), unknown-tenant.',
      labelNames: ['transport', 'reason'],
      registers,
    });
    this.rateLimitedTotal = new client.Counter({
      name: 'dns64_rate_limited_total',
      help: "Queries over a rate limit, by limiter (tenant: the tenant's rateLimit).",
      labelNames: ['transport', 'limiter'],
      registers,
    });
    this.rejected = new client.Counter({
      name: 'dns64_rejected_total',
      help: 'Requests the engine could not answer as DNS: malformed, too-large, bad-prefix, misconfigured.',
      labelNames: ['transport', 'reason'],
      registers,
    });
    this.upstreamRequests = new client.Counter({
      name: 'dns64_upstream_requests_total',
      help: 'Requests sent to each upstream (hedged requests included).',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamFailures = new client.Counter({
      name: 'dns64_upstream_failures_total',
      help: 'Upstream requests that failed, by kind: timeout, network, http, malformed, mismatch, truncated, servfail (SERVFAIL or REFUSED).',
      labelNames: ['upstream', 'kind'],
      registers,
    });
    this.upstreamDuration = new client.Histogram({
      name: 'dns64_upstream_duration_seconds',
      help: 'Round-trip time of upstream requests that answered.',
      labelNames: ['upstream'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.upstreamUp = new client.Gauge({
      name: 'dns64_upstream_up',
      help: '1 while an upstream is healthy, 0 while it cools down after 3 failures in a row (asked only after the others).',
      labelNames: ['upstream'],
      aggregator: 'min',
      registers,
    });
    this.gatewayUp = new client.Gauge({
      name: 'dns64_gateway_up',
      help: "1 while a tenant's NAT64 gateway reports within its gatewayTimeout (its prefixes are synthesized), 0 while it is down or stopped.",
      labelNames: ['tenant', 'gateway'],
      aggregator: 'max',
      registers,
    });
    this.gatewayChanges = new client.Counter({
      name: 'dns64_gateway_changes_total',
      help: "Changes of a tenant's NAT64 gateway between up, down (silent past gatewayTimeout) and stopped (said so), as seen by queries.",
      labelNames: ['tenant', 'gateway', 'state'],
      registers,
    });
    const src = this.sources;
    new client.Counter({
      name: 'dns64_cache_hits_total',
      help: 'Answers served from the answer cache.',
      registers,
      collect() {
        this.reset();
        this.inc(src.cache?.stats.hits ?? 0);
      },
    });
    new client.Counter({
      name: 'dns64_cache_misses_total',
      help: 'Cache misses that asked the upstreams (concurrent misses for one question count once).',
      registers,
      collect() {
        this.reset();
        this.inc(src.cache?.stats.misses ?? 0);
      },
    });
    new client.Counter({
      name: 'dns64_cache_coalesced_total',
      help: 'Cache misses that waited for the same question already asked upstream by another query.',
      registers,
      collect() {
        this.reset();
        this.inc(src.cache?.stats.coalesced ?? 0);
      },
    });
    new client.Gauge({
      name: 'dns64_cache_entries',
      help: 'Answers held in the answer cache.',
      registers,
      collect() {
        this.set(src.cache?.size ?? 0);
      },
    });
    new client.Gauge({
      name: 'dns64_queries_in_flight',
      help: 'Queries and HTTP requests received and not yet answered.',
      registers,
      collect() {
        this.set(src.inflight());
      },
    });
    new client.Gauge({
      name: 'dns64_upstream_last_answer_timestamp_seconds',
      help: 'When an upstream last answered (Unix time); 0 before any answer.',
      aggregator: 'max',
      registers,
      collect() {
        this.set((src.lastAnswer() ?? 0) / 1000);
      },
    });
  }

  /** Where cache figures, queries in flight and the last upstream answer are read from. */
  bind(sources: MetricSources): void {
    Object.assign(this.sources, sources);
  }

  /** The engine's observer: one query. */
  query(e: QueryEvent): void {
    const transport = e.transport;
    if (e.rcode !== null) {
      const t = transportIndex(transport);
      this.queryCells[t * RCODE_CELLS + Math.min(e.rcode, RCODE_CELLS - 1)]!++;
      if (e.synthesized) this.synthCells[t]!++;
    }
    let duration = this.durationChildren.get(transport);
    if (!duration) {
      duration = this.duration.labels({ transport });
      this.durationChildren.set(transport, duration);
    }
    duration.observe(e.ms / 1000);
    if (e.refused) this.refused(transport, 'allow-query');
    switch (e.verdict) {
      case null:
        break;
      case 'rate-limited':
        this.rateLimited(transport, 'tenant');
        break;
      case 'forbidden':
      case 'unknown-tenant':
        this.refused(transport, e.verdict);
        break;
      default:
        this.rejected.inc({ transport, reason: e.verdict });
    }
  }

  /** A query refused by an access rule (for code outside the engine, e.g. a server-wide ACL). */
  refused(transport: Transport, reason: string): void {
    this.refusedTotal.inc({ transport, reason });
  }

  /** A query over a rate limit (for code outside the engine, e.g. response rate limiting). */
  rateLimited(transport: Transport, limiter: string): void {
    this.rateLimitedTotal.inc({ transport, limiter });
  }

  /** A tenant's gateway seen going up, down or stopped (issue 15). */
  gateway(tenant: string, gateway: string, state: string): void {
    this.gatewayUp.set({ tenant, gateway }, state === 'up' ? 1 : 0);
    this.gatewayChanges.inc({ tenant, gateway, state });
  }

  /** Hooks for the upstream health table (ObservedHealth). */
  upstreamHooks(): UpstreamHooks {
    return {
      attempt: (url) => this.upstreamRequests.inc({ upstream: redactUrl(url) }),
      success: (url, ms) => {
        this.upstreamDuration.observe({ upstream: redactUrl(url) }, ms / 1000);
        this.upstreamUp.set({ upstream: redactUrl(url) }, 1);
      },
      failure: (url, kind) => {
        this.upstreamFailures.inc({ upstream: redactUrl(url), kind });
        // Known to the gauge once asked, so it reads 1 until it cools down.
        const upstream = redactUrl(url);
        if (!this.upstreamUpKnown.has(upstream)) {
          this.upstreamUpKnown.add(upstream);
          this.upstreamUp.set({ upstream }, 1);
        }
      },
      health: (url, up) => this.upstreamUp.set({ upstream: redactUrl(url) }, up ? 1 : 0),
    };
  }

  private readonly upstreamUpKnown = new Set<string>();

  /** Makes this process answer the primary's requests for its figures (a cluster worker). */
  serveToPrimary(): void {
    client.AggregatorRegistry.setRegistries([this.registry]);
    new client.AggregatorRegistry();
  }
}

/** Where `/metrics` and `/readyz` get their figures. */
export interface MetricsSource {
  /** Prometheus text. */
  text(): Promise<string>;
  /** When an upstream last answered (ms since the epoch), null before any. */
  lastAnswer(): Promise<number | null>;
}

/** This process's own figures (one process, no cluster). */
export function localSource(metrics: Metrics, lastAnswer: () => number | null): MetricsSource {
  return {
    text: () => metrics.registry.metrics(),
    lastAnswer: async () => lastAnswer(),
  };
}

/** The cluster's figures, summed over the workers by the primary. */
export function clusterSource(): MetricsSource {
  const aggregator = new client.AggregatorRegistry();
  return {
    text: () => aggregator.clusterMetrics(),
    lastAnswer: async () => {
      const text = await aggregator.clusterMetrics();
      const m = /^dns64_upstream_last_answer_timestamp_seconds (\S+)$/m.exec(text);
      const seconds = m ? Number(m[1]) : 0;
      return seconds > 0 ? seconds * 1000 : null;
    },
  };
}

export const PROMETHEUS_CONTENT_TYPE = client.Registry.PROMETHEUS_CONTENT_TYPE;

/** The metrics listener's request handler: /metrics, /healthz, /readyz. */
export function metricsHandler(source: MetricsSource, now: () => number = Date.now) {
  const reply = (
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    head: boolean,
  ) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  };
  const text = 'text/plain; charset=utf-8';
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      return reply(res, 405, text, `method ${req.method} not allowed\n`, false);
    }
    const failed = (err: unknown) =>
      reply(
        res,
        503,
        text,
        `metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`,
        head,
      );
    switch (path) {
      case '/metrics':
        void source
          .text()
          .then((body) => reply(res, 200, PROMETHEUS_CONTENT_TYPE, body, head), failed);
        return;
      case '/healthz':
        return reply(res, 200, text, 'ok\n', head);
      case '/readyz':
        void source.lastAnswer().then((at) => {
          if (at === null) {
            return reply(res, 503, text, 'not ready: no upstream has answered yet\n', head);
          }
          const ago = Math.max(0, Math.round((now() - at) / 1000));
          if (now() - at > READY_WINDOW_MS) {
            return reply(
              res,
              503,
              text,
              `not ready: no upstream has answered for ${ago} s\n`,
              head,
            );
          }
          reply(res, 200, text, `ready: an upstream answered ${ago} s ago\n`, head);
        }, failed);
        return;
      default:
        return reply(
          res,
          404,
          text,
          'not found: /metrics, /healthz and /readyz are served here\n',
          head,
        );
    }
  };
}

/** Starts the metrics listener; rejects when it cannot listen. */
export function startMetricsServer(
  addr: { host: string; port: number },
  source: MetricsSource,
): Promise<Server> {
  const server = createServer(metricsHandler(source));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
