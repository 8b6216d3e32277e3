import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoadOptions {
  readonly port: number;
  /** Request paths, e.g. /dns-query?dns=...; every client walks them in this order. */
  readonly paths: readonly string[];
  readonly clients: number;
  /** Concurrent streams per client (HTTP/2). */
  readonly streams: number;
  readonly seconds: number;
  readonly warmUpSeconds: number;
  readonly dir: string;
  readonly tag: string;
}

export interface LoadResult {
  readonly rps: number;
  /** Requests completed (h2load's `done`: those still in flight when time ran out are not). */
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Per-request latency from h2load's --log-file, milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

/** The q-quantile (0..1) of sorted numbers, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/**
 * h2load over h2c (HTTP/2 prior knowledge on a http:// URI) for a fixed time after a warm-up;
 * requests/s from h2load's summary, p50/p99 from its per-request log.
 */
export async function h2load(opts: LoadOptions): Promise<LoadResult> {
  const uris = join(opts.dir, `${opts.tag}.uris`);
  const log = join(opts.dir, `${opts.tag}.log`);
  const base = `http://127.0.0.1:${opts.port}`;
  rmSync(log, { force: true }); // h2load appends to an existing log
  writeFileSync(uris, opts.paths.map((p) => base + p).join('\n') + '\n');
  const args = ['-i', uris, '-c', String(opts.clients), '-m', String(opts.streams), '-t', '1'];
  args.push('-D', String(opts.seconds), '--warm-up-time', String(opts.warmUpSeconds));
  args.push('-H', 'accept: application/dns-message', '--log-file', log);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      'h2load',
      args,
      { timeout: (opts.seconds + opts.warmUpSeconds + 30) * 1000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`h2load: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
  const rps = Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const counts =
    /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!counts || !codes || !Number.isFinite(rps))
    throw new Error(`cannot read h2load output:\n${out}`);
  const [done, succeeded, failed, errored, timeouts] = counts.slice(2).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const non2xx = Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
  const micros = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'))
    .filter((c) => c[1] === '200')
    .map((c) => Number(c[2]))
    .sort((a, b) => a - b);
  const mean = micros.reduce((s, v) => s + v, 0) / Math.max(1, micros.length);
  return {
    rps,
    requests: done,
    succeeded,
    failed: failed + errored + timeouts + non2xx,
    p50: quantile(micros, 0.5) / 1000,
    p99: quantile(micros, 0.99) / 1000,
    mean: mean / 1000,
  };
}
