/**
 * `npm run bench:profile [-- hit|miss]`: a V8 CPU profile of the resolver's app inside workerd.
 * Starts bench/profile/app.worker.ts in `wrangler dev` with its inspector on a free port, warms it up,
 * records Profiler samples over 4 batches of 3 000 queries through the DevTools protocol, and
 * writes bench/profiles/workerd-<mode>.cpuprofile (open it in Chrome DevTools or speedscope) plus
 * a summary of self time by source module to stdout. The DevTools client is the `ws` package
 * (Node 20's experimental WebSocket is refused by wrangler's inspector proxy).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RawData, WebSocket } from 'ws';
import { ROOT } from '../servers';
import { freePort } from '../../test/integration/servers';
import { cleanup, installCleanupHandlers, start, waitForOutput } from '../procs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const mode = process.argv.includes('hit') ? 'hit' : 'miss';

/** One DevTools-protocol session over the inspector's WebSocket. */
function devtools(url: string): Promise<(method: string, params?: object) => Promise<unknown>> {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on('message', (data: RawData) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  return new Promise((resolve, reject) => {
    ws.once('error', (err) => reject(new Error(`cannot connect to ${url}: ${err.message}`)));
    ws.once('open', () =>
      resolve(
        (method, params = {}) =>
          new Promise((done) => {
            pending.set(++id, done);
            ws.send(JSON.stringify({ id, method, params }));
          }),
      ),
    );
  });
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const dir = mkdtempSync(join(tmpdir(), 'profile-'));
  const port = await freePort();
  const inspector = await freePort();
  const config = join(dir, 'wrangler.toml');
  writeFileSync(
    config,
    `name = "profile"\nmain = "${join(ROOT, 'bench', 'profile', 'app.worker.ts')}"\n` +
      `compatibility_date = "2025-09-01"\ncompatibility_flags = ["nodejs_compat"]\nkeep_names = false\n`,
  );
  const wrangler = start('wrangler', join(ROOT, 'node_modules', '.bin', 'wrangler'), [
    'dev', '--config', config, '--port', String(port), '--ip', '127.0.0.1',
    '--inspector-port', String(inspector),
  ], { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } }); // prettier-ignore
  await waitForOutput(wrangler, /Ready on/, 90_000);
  const ask = async (n: number) =>
    (await (await fetch(`http://127.0.0.1:${port}/?mode=${mode}&n=${n}`)).text()).trim();
  for (let i = 0; i < 3; i++) console.log(`warm-up: ${await ask(2000)} us per ${mode}`);
  const targets = (await (await fetch(`http://127.0.0.1:${inspector}/json`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const send = await devtools(targets[0]!.webSocketDebuggerUrl);
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 100 });
  await send('Profiler.start');
  for (let i = 0; i < 4; i++) console.log(`profiled: ${await ask(3000)} us per ${mode}`);
  const { profile } = (await send('Profiler.stop')) as { profile: Profile };
  const out = join(ROOT, 'bench', 'profiles');
  mkdirSync(out, { recursive: true });
  const file = join(out, `workerd-${mode}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`\nwritten to ${file}\n\nself time by source module (or runtime function):`);
  for (const [where, share] of selfTimeBySource(profile, dir).slice(0, 30)) {
    console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${where}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Shares of self time per source module (the bundle's `// path` markers, looked up in the bundle
 * wrangler wrote under `dir`) or per native function.
 */
function selfTimeBySource(profile: Profile, dir: string): [string, number][] {
  const self = new Map<number, number>();
  profile.samples.forEach((node, i) =>
    self.set(node, (self.get(node) ?? 0) + profile.timeDeltas[i]!),
  );
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const bundles = new Map<string, (line: number) => string>();
  const moduleOf = (url: string, line: number): string => {
    let find = bundles.get(url);
    if (!find) {
      const tmp = join(dir, '.wrangler', 'tmp');
      const run = existsSync(tmp)
        ? readdirSync(tmp).find((d) => existsSync(join(tmp, d, url)))
        : null;
      const marks: [number, string][] = [];
      if (run) {
        readFileSync(join(tmp, run, url), 'utf8')
          .split('\n')
          .forEach((text, i) => {
            const m = /^\/\/ (\S+)$/.exec(text);
            if (m) marks.push([i, m[1]!.replace(/^(\.\.\/)+/, '').replace(/^work\/main\//, '')]);
          });
      }
      find = (l) => {
        let name = url;
        for (const [at, path] of marks) {
          if (at > l) break;
          name = path;
        }
        return name;
      };
      bundles.set(url, find);
    }
    return find(line);
  };
  const by = new Map<string, number>();
  for (const node of profile.nodes) {
    const t = self.get(node.id);
    if (!t) continue;
    const { url, functionName, lineNumber } = node.callFrame;
    const where =
      url.endsWith('.js') && !url.includes(':')
        ? moduleOf(url, lineNumber)
        : `[runtime] ${functionName || '(anonymous)'}${url ? ` ${url}` : ''}`;
    by.set(where, (by.get(where) ?? 0) + t);
  }
  return [...by.entries()]
    .map(([k, v]): [string, number] => [k, v / total])
    .sort((a, b) => b[1] - a[1]);
}

void main()
  .catch((err: unknown) => {
    console.error(`profile failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    process.exit();
  });
