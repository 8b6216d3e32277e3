/**
 * `npm start`: `wrangler dev` with the resolver's variables taken from the environment too.
 * wrangler dev itself reads only wrangler.toml [vars], .dev.vars and `--var`, so
 * `UPSTREAMS=... npm start` would silently answer with the defaults; here every variable the
 * worker reads that is set in the environment becomes a `--var NAME:value` (before the
 * arguments given after `npm start --`, so an explicit `--var` still wins).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Variables the worker reads beyond wrangler.toml's [vars] (add new ones here). */
export const WORKER_VARIABLES = ['UPSTREAMS', 'DNS64_PREFIX', 'UPSTREAM_TIMEOUT_MS', 'ADMIN_TOKEN'];

/** The names in wrangler.toml's [vars] table. */
function tomlVars(): string[] {
  const text = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const names: string[] = [];
  let inVars = false;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.startsWith('[')) inVars = t === '[vars]';
    else if (inVars) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(t);
      if (m) names.push(m[1]!);
    }
  }
  return names;
}

export function varArgs(env: NodeJS.ProcessEnv): { args: string[]; names: string[] } {
  const args: string[] = [];
  const names: string[] = [];
  for (const name of new Set([...WORKER_VARIABLES, ...tomlVars()])) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    args.push('--var', `${name}:${value}`);
    names.push(name);
  }
  return { args, names };
}

const { args, names } = varArgs(process.env);
if (names.length > 0) {
  console.log(`npm start: from the environment: ${names.join(', ')} (as wrangler --var)`);
}
const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
const child = spawn(wrangler, ['dev', ...args, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
