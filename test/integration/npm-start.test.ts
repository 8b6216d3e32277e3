import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePort, waitFor } from './servers';

/**
 * `DNS64_PREFIX=... npm start`: wrangler dev alone reads only wrangler.toml, .dev.vars and
 * --var, so the variable used to be ignored; scripts/dev.ts passes it on.
 */
it('npm start takes the resolver variables from the environment', async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'npm-start-'));
  const args = ['start', '--', '--port', String(port), '--ip', '127.0.0.1'];
  args.push('--inspector-port', String(await freePort()), '--persist-to', state);
  const child = spawn('npm', args, {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', DNS64_PREFIX: '2001:db8:77::/96' },
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitFor('npm start', async () => log.includes('Ready on'), 90000);
    expect(log).toContain('npm start: from the environment: DNS64_PREFIX (as wrangler --var)');
    const res = await fetch(`http://127.0.0.1:${port}/resolve?name=ipv4only.arpa&type=AAAA`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { Answer: { data: string }[] };
    // RFC 7050: the well-known IPv4 addresses of ipv4only.arpa under the environment's prefix.
    expect(body.Answer.map((a) => a.data)).toEqual([
      '2001:db8:77::c000:aa',
      '2001:db8:77::c000:ab',
    ]);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    rmSync(state, { recursive: true, force: true });
  }
}, 120000);
