/**
 * `npm run bench:node-hit`: the Node server's CPU per cached DoH answer, alone and quickly (about
 * 30 s), for working on the hit path between full `npm run bench` runs. The server runs in this
 * process (src/node/server.ts, as `npm run serve` starts it) with an in-process fake DoH upstream;
 * h2load (nghttp2-client) asks 4 connections x 16 streams over h2c, as `npm run bench` (a) does,
 * for AAAA of names already in the cache. Prints requests/s and this process's CPU (user +
 * system, process.cpuUsage) per request: the figure to compare between two versions of the code.
 *
 *   npm run bench:node-hit [-- --seconds 6 --rounds 3 --names 8000 --cpu-prof DIR]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { loadConfig } from '../src/node/config';
import { startServer } from '../src/node/server';
import { SharedRecords } from '../src/node/tenants';
import { query } from './dns';
import { type FakeName, fakeUpstream } from '../test/helpers/fake-upstream';
import { freePort } from '../test/integration/servers';

const ZONE = 'bench.test';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * The tests' fake upstream (test/helpers/fake-upstream.ts) behind a real HTTP listener, since the
 * server asks its upstreams over the network: every `h<i>.bench.test` has an A record in
 * 198.18.0.0/15 and no AAAA.
 */
async function fakeDohServer(names: number): Promise<{ url: string; close(): void }> {
  const zone: Record<string, FakeName> = {};
  for (let i = 0; i < names; i++) {
    zone[`h${i}.${ZONE}`] = { A: [`198.18.${(i >> 8) & 0xff}.${i & 0xff}`] };
  }
  const upstream = fakeUpstream(zone, {}, 0);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void upstream
        .fetch(`http://upstream${req.url ?? '/'}`, { method: 'POST', body: Buffer.concat(chunks) })
        .then(async (answer) => {
          res.writeHead(answer.status, { 'content-type': 'application/dns-message' });
          res.end(Buffer.from(await answer.arrayBuffer()));
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/dns-query`, close: () => server.close() };
}

function h2load(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('h2load', args, { maxBuffer: 1 << 26 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
}

async function main(): Promise<void> {
  const seconds = option('--seconds', 6);
  const rounds = option('--rounds', 3);
  const names = option('--names', 8000);
  const profIndex = process.argv.indexOf('--cpu-prof');
  const profDir = profIndex >= 0 ? process.argv[profIndex + 1]! : null;
  const upstream = await fakeDohServer(names);
  const cfg = loadConfig(
    {
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      DNS_PORT: String(await freePort()),
      UPSTREAMS: upstream.url,
      DNS64_PREFIX: '2001:db8:64::/96',
      METRICS_ADDR: 'off',
    },
    { files: false },
  );
  const server = await startServer(cfg, new SharedRecords({}, () => {}), () => {});
  const port = cfg.httpPort;
  const dir = mkdtempSync(join(tmpdir(), 'node-hit-'));
  try {
    const base = `http://127.0.0.1:${port}/dns-query?dns=`;
    const uris = Array.from(
      { length: names },
      (_, i) => base + Buffer.from(query(`h${i}.${ZONE}`, 'AAAA')).toString('base64url'),
    );
    const file = join(dir, 'uris');
    writeFileSync(file, uris.join('\n') + '\n');
    // Warm: every name (each h2load client walks the list from its start), then only hits.
    await h2load(['-i', file, '-n', String(names * 4), '-c', '4', '-m', '16', '-t', '1']);
    const session = profDir ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    for (let r = 1; r <= rounds; r++) {
      const before = process.cpuUsage();
      const out = await h2load([
        ...['-i', file, '-c', '4', '-m', '16', '-t', '1', '-D', String(seconds)],
        ...['--warm-up-time', '1', '-H', 'accept: application/dns-message'],
      ]);
      const used = process.cpuUsage(before);
      const done = Number(
        /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(out)?.[2],
      );
      const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]);
      // CPU covers the warm-up second too, so divide by all requests answered meanwhile.
      const cpuUs = (used.user + used.system) / (done + rps);
      console.log(
        `round ${r}/${rounds}: ${Math.round(rps)} req/s, ~${cpuUs.toFixed(1)} us CPU/req ` +
          `(user ${(used.user / (done + rps)).toFixed(1)}, system ${(used.system / (done + rps)).toFixed(1)})`,
      );
    }
    if (session && profDir) {
      const { profile } = await session.post('Profiler.stop');
      const path = join(profDir, `node-hit-${Date.now()}.cpuprofile`);
      writeFileSync(path, JSON.stringify(profile));
      console.log(`profile: ${path}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.shutdown(100);
    upstream.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
