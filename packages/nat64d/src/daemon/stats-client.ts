/**
 * `nat64d stats`, `nat64d sessions`, `nat64d bib`: read the running daemon's state from its
 * metrics endpoint (`/stats`, `/sessions`, `/bib`).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    req.on('timeout', () =>
      req.destroy(new Error(`no answer from ${listen} within ${timeoutMs / 1000} s`)),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED')
        reject(new Error(`no nat64d answers at ${listen} (connection refused)`));
      else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH')
        reject(new Error(`no nat64d answers at ${listen} (${err.code})`));
      else reject(err);
    });
    req.end();
  });
}

export function fetchStats(listen: string, timeoutMs = 3000): Promise<Record<string, number>> {
  return fetchJson<Record<string, number>>(listen, '/stats', timeoutMs);
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
function clock(s: number): string {
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
    clock(s.expiresIn),
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

/** What `nat64d stats` remembers between calls, to show rates since the previous one. */
export interface StatsSnapshot {
  /** Unix milliseconds of the call. */
  readonly time: number;
  readonly stats: Record<string, number>;
}

const START = 'nat64d_start_time_seconds';

/** Where snapshots are kept: $XDG_RUNTIME_DIR/nat64d, /run/nat64d for root, else a private tmp dir. */
export function statsStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'nat64d');
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/nat64d' : join(tmpdir(), `nat64d-${uid}`);
}

function statsStateFile(dir: string, listen: string): string {
  return join(dir, `stats-${listen.replace(/[^A-Za-z0-9.]+/g, '_')}.json`);
}

/** The previous call's snapshot for this address, or null. */
export function loadSnapshot(dir: string, listen: string): StatsSnapshot | null {
  try {
    const s = JSON.parse(readFileSync(statsStateFile(dir, listen), 'utf8')) as StatsSnapshot;
    return typeof s.time === 'number' && s.stats && typeof s.stats === 'object' ? s : null;
  } catch {
    return null;
  }
}

/** Keeps this call's snapshot (best effort: without it the next call shows rates since start). */
export function saveSnapshot(dir: string, listen: string, snapshot: StatsSnapshot): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = statsStateFile(dir, listen);
    writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify(snapshot));
    renameSync(`${file}.tmp-${process.pid}`, file);
  } catch {
    // not writable: rates fall back to the daemon's uptime
  }
}

function duration(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = d
    ? [`${d}d`, `${h}h`, `${m}m`, `${s}s`]
    : h
      ? [`${h}h`, `${m}m`, `${s}s`]
      : m
        ? [`${m}m`, `${s}s`]
        : [`${s}s`];
  return parts.join(' ');
}

/**
 * The readable summary: uptime, then the counters and gauges that are not zero (every one
 * with `all`), with rates per second for counters (`_total`) since the previous call of the
 * same daemon, or over its uptime on the first call or after a restart.
 */
export function formatSummary(
  listen: string,
  now: StatsSnapshot,
  previous: StatsSnapshot | null,
  all = false,
): string {
  const start = now.stats[START] ?? 0;
  const uptime = now.time / 1000 - start;
  const since =
    previous && previous.stats[START] === start && previous.time < now.time ? previous : null;
  const span = since ? (now.time - since.time) / 1000 : uptime;
  const rows: Array<[string, string, string]> = [];
  let zero = 0;
  for (const [name, value] of Object.entries(now.stats)) {
    if (name === START) continue;
    if (value === 0 && !all) {
      zero++;
      continue;
    }
    const counter = /_total($|\{)/.test(name);
    const base = since ? (since.stats[name] ?? 0) : 0;
    const rate = counter && span > 0 ? ((value - base) / span).toFixed(1) : '';
    rows.push([name, String(value), rate]);
  }
  const started = new Date(start * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const lines = [`nat64d at ${listen}: up ${duration(uptime)} (started ${started})`];
  if (rows.length) {
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(5, ...rows.map((r) => r[1].length));
    const w2 = Math.max(5, ...rows.map((r) => r[2].length));
    lines.push(`${''.padEnd(w0)}  ${'value'.padStart(w1)}  ${'per s'.padStart(w2)}`);
    for (const [n, v, r] of rows)
      lines.push(`${n.padEnd(w0)}  ${v.padStart(w1)}  ${r.padStart(w2)}`.trimEnd());
  } else lines.push('every counter is zero');
  lines.push(
    since
      ? `per s: over the ${duration(span)} since the previous nat64d stats`
      : `per s: over the daemon's uptime (no previous nat64d stats of this run)`,
  );
  if (zero) lines.push(`${zero} at zero not shown (--all shows every one, --json for scripts)`);
  return lines.join('\n');
}
