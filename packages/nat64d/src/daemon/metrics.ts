/**
 * Counters over HTTP on loopback: `GET /metrics` (Prometheus text format 0.0.4) and
 * `GET /stats` (JSON, read by `nat64d stats`).
 */
import { createServer, type Server } from 'node:http';

export interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly value: number;
  readonly labels?: Readonly<Record<string, string>>;
}

export type MetricsSource = () => readonly Metric[];

/** camelCase counter name -> snake_case (icmp4ErrorsSent -> icmp4_errors_sent). */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const escapeLabel = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderPrometheus(metrics: readonly Metric[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const m of metrics) {
    if (!seen.has(m.name)) {
      seen.add(m.name);
      lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    }
    const labels = m.labels
      ? `{${Object.entries(m.labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(',')}}`
      : '';
    lines.push(`${m.name}${labels} ${m.value}`);
  }
  return lines.join('\n') + '\n';
}

export function renderJson(metrics: readonly Metric[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    const labels = m.labels
      ? `{${Object.entries(m.labels)
          .map(([k, v]) => `${k}="${v}"`)
          .join(',')}}`
      : '';
    out[m.name + labels] = m.value;
  }
  return out;
}

/** Further JSON documents by path (`/sessions`, `/bib`): the value, or undefined for 404. */
export type ViewSource = (path: string, query: URLSearchParams) => unknown;

export function startMetricsServer(
  host: string,
  port: number,
  source: MetricsSource,
  views: ViewSource = () => undefined,
): Promise<Server> {
  const server = createServer((req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname;
      const view =
        path === '/metrics' || path === '/stats' ? undefined : views(path, url.searchParams);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(renderPrometheus(source()));
      } else if (path === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(renderJson(source())) + '\n');
      } else if (view !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(view) + '\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /stats\n');
      }
    } catch {
      res.writeHead(500).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
