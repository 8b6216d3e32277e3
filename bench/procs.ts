import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every process and temporary directory the benchmark starts, so that all of them are stopped
 * and removed on the way out, whatever happens (normal end, error, Ctrl-C, SIGTERM).
 */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr), capped. */
  log(): string;
  stop(): Promise<void>;
}

const procs: Proc[] = [];
const dirs: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dns64-bench-${prefix}-`));
  dirs.push(dir);
  return dir;
}

/** Starts `cmd` in a process group of its own (stopped as a group: wrangler has children). */
export function start(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  let text = '';
  const add = (d: Buffer) => {
    text += d.toString();
    if (text.length > 200_000) text = text.slice(-100_000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  child.on('error', (err) => add(Buffer.from(`spawn error: ${err.message}\n`)));
  const proc: Proc = {
    name,
    child,
    log: () => text,
    stop: async () => {
      if (child.pid === undefined) return;
      if (child.exitCode !== null || child.signalCode !== null) {
        signalGroup(child.pid, 'SIGKILL'); // leftovers in its group, if any
        return;
      }
      const exited = new Promise((r) => child.once('exit', r));
      signalGroup(child.pid, 'SIGTERM');
      const timer = new Promise((r) => setTimeout(r, 5000, 'timeout'));
      if ((await Promise.race([exited, timer])) === 'timeout') {
        signalGroup(child.pid, 'SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      // Children that outlived their parent (workerd under wrangler) are still in the group.
      signalGroup(child.pid, 'SIGKILL');
    },
  };
  procs.push(proc);
  return proc;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

/** Resolves once `proc` printed something matching `ready`; rejects with its output otherwise. */
export async function waitForOutput(proc: Proc, ready: RegExp, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (ready.test(proc.log())) return;
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) break;
    await sleep(100);
  }
  throw new Error(`${proc.name} did not get ready:\n${proc.log().slice(-4000)}`);
}

/** Polls `predicate` until it is true or `ms` passes. */
export async function waitUntil(what: string, predicate: () => Promise<boolean>, ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let cleaning: Promise<void> | null = null;

/** Stops every process (newest first) and removes every temporary directory. Idempotent. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  })();
  return cleaning;
}

/** Cleans up on SIGINT/SIGTERM and uncaught errors, then exits. */
export function installCleanupHandlers(): void {
  const bail = (why: string, code: number) => {
    console.error(`\n${why}: stopping everything the benchmark started`);
    void cleanup().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => bail('SIGINT', 130));
  process.on('SIGTERM', () => bail('SIGTERM', 143));
  process.on('SIGHUP', () => bail('SIGHUP', 129));
  process.on('uncaughtException', (err) => bail(`error: ${err.stack ?? err.message}`, 1));
  process.on('unhandledRejection', (err) => bail(`error: ${String(err)}`, 1));
}

/** utime + stime of a process in clock ticks (USER_HZ, 100 on Linux), from /proc/<pid>/stat. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces), from field 3 (state) on.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // fields 14 (utime) and 15 (stime)
}

/** Processes in process group `pgid` whose command name is `comm`. */
export function groupMembers(pgid: number, comm?: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && (comm === undefined || name === comm)) {
        out.push(Number(entry));
      }
    } catch {
      // It exited meanwhile.
    }
  }
  return out;
}
