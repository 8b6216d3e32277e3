/**
 * `nat64d stats`, `nat64d sessions`, `nat64d bib`: read the running daemon's state from its
 * metrics endpoint (`/stats`, `/sessions`, `/bib`).
 */
import { request } from 'node:http';
import { parseListenAddress } from '../config/index.js';
import type { BibView, SessionView } from '../stateful/index.js';

export function fetchJson<T>(listen: string, path: string, timeoutMs = 3000): Promise<T> {
  const addr = parseListenAddress(listen);
  if (addr === null || typeof addr === 'string') {
    return Promise.reject(new Error(`metrics address ${listen}: ${addr ?? 'disabled'}`));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: addr.host, port: addr.port, path, method: 'GET', timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode ?? '?'}`);
            resolve(JSON.parse(body) as T);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export function fetchStats(listen: string, timeoutMs = 3000): Promise<Record<string, number>> {
  return fetchJson<Record<string, number>>(listen, '/stats', timeoutMs);
}

export function formatStats(stats: Record<string, number>): string {
  const width = Math.max(0, ...Object.keys(stats).map((k) => k.length));
  return Object.entries(stats)
    .map(([k, v]) => `${k.padEnd(width)}  ${v}`)
    .join('\n');
}

/** What `/sessions` and `/bib` answer (filtered by `proto` and `addr` query parameters). */
export interface SessionsAnswer {
  readonly stateful: boolean;
  /** Entries before filtering. */
  readonly total: number;
  readonly sessions: readonly SessionView[];
}

export interface BibAnswer {
  readonly stateful: boolean;
  readonly total: number;
  readonly bib: readonly BibView[];
}

/** Left-aligned columns separated by two blanks (the last column is not padded). */
function columns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '),
  );
}

function countLine(shown: number, total: number, what: string, stateful: boolean): string {
  const noun = (n: number) => (n === 1 ? what : `${what}s`);
  if (!stateful) return `0 ${noun(0)} (stateless NAT64: no pool4 lines)`;
  return shown === total ? `${total} ${noun(total)}` : `${shown} of ${total} ${noun(total)}`;
}

/** Seconds as H:MM:SS. */
function duration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** `nat64d sessions`: one line per session, like `jool session display`, then a count. */
export function formatSessions(a: SessionsAnswer): string {
  const rows = a.sessions.map((s) => [
    s.proto,
    `${s.ipv6}#${s.port6}`,
    `${s.ipv4}#${s.port4}`,
    `${s.remote4}#${s.remotePort}`,
    s.state ?? '-',
    duration(s.expiresIn),
  ]);
  const head = ['PROTO', 'IPV6 HOST#PORT', 'POOL4#PORT', 'REMOTE#PORT', 'STATE', 'EXPIRES IN'];
  const lines = rows.length > 0 ? columns([head, ...rows]) : [];
  return [...lines, countLine(a.sessions.length, a.total, 'session', a.stateful)].join('\n');
}

/** `nat64d bib`: one line per binding, like `jool bib display`, then a count. */
export function formatBib(a: BibAnswer): string {
  const rows = a.bib.map((b) => [
    b.proto,
    `${b.ipv6}#${b.port6}`,
    `${b.ipv4}#${b.port4}`,
    b.static ? 'static' : 'dynamic',
    String(b.sessions),
  ]);
  const head = ['PROTO', 'IPV6 HOST#PORT', 'POOL4#PORT', 'KIND', 'SESSIONS'];
  const lines = rows.length > 0 ? columns([head, ...rows]) : [];
  return [...lines, countLine(a.bib.length, a.total, 'binding', a.stateful)].join('\n');
}
