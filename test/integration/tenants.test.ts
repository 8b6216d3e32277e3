import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startBind, startDnsdist, startWrangler } from './servers';

/** Tenants end to end: the operators' CLI against `wrangler dev` (miniflare's local KV). */
const TOKEN = 'integration-admin-token';
let bind: Running;
let dnsdist: Running;
let worker: Running;
let base: string;
const dir = mkdtempSync(join(tmpdir(), 'tenant-cli-'));

beforeAll(async () => {
  bind = await startBind();
  dnsdist = await startDnsdist(bind.port);
  worker = await startWrangler({
    UPSTREAMS: `http://127.0.0.1:${dnsdist.port}/dns-query`,
    ADMIN_TOKEN: TOKEN,
  });
  base = `https://127.0.0.1:${worker.port}`;
});

afterAll(async () => {
  await worker?.stop();
  await dnsdist?.stop();
  await bind?.stop();
});

function cli(...args: string[]) {
  const r = spawnSync('node_modules/.bin/tsx', ['scripts/tenant-cli.ts', ...args, '--url', base], {
    env: {
      ...process.env,
      ADMIN_TOKEN: TOKEN,
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
      NODE_NO_WARNINGS: '1',
    },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function dnspython(path: string, name: string, type: string) {
  const script = join(__dirname, 'doh_client.py');
  const out = execFileSync('/usr/bin/python3', [script, `${base}${path}`, name, type]);
  return JSON.parse(out.toString()) as { rcode: string; answer: unknown[][] };
}

describe('npm run tenant', () => {
  it('puts a tenant that then answers with its own prefix, gets and lists it', () => {
    const file = join(dir, 'acme.json');
    writeFileSync(file, JSON.stringify({ name: 'Acme ISP', prefixes: ['2001:db8:ac::/96'] }));
    const put = cli('put', 'acme', file);
    expect(put.code).toBe(0);
    expect(JSON.parse(put.out)).toEqual({ name: 'Acme ISP', prefixes: ['2001:db8:ac::/96'] });
    expect(dnspython('/t/acme/dns-query', 'a-only.dns64.test', 'AAAA').answer).toEqual([
      ['a-only.dns64.test.', 300, 'AAAA', '2001:db8:ac::cb00:710a'],
    ]);
    // the default tenant at the same moment keeps the Well-Known Prefix (no global IPv4 here)
    expect(dnspython('/dns-query', 'a-only.dns64.test', 'AAAA').answer).toEqual([]);
    expect(JSON.parse(cli('get', 'acme').out)).toEqual({
      name: 'Acme ISP',
      prefixes: ['2001:db8:ac::/96'],
    });
    expect(JSON.parse(cli('list').out)).toEqual({ tenants: ['acme'] });
  });

  it('reports a bad record with the server reason and exit code 1', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ prefixes: ['2001:db8::/33'] }));
    const r = cli('put', 'bad', file);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'HTTP 400: invalid tenant record: prefixes.0: 2001:db8::/33: RFC 6052 allows only /32, /40, /48, /56, /64 or /96\n',
    );
  });

  it('deletes a tenant, after which its URL answers 404', () => {
    expect(cli('delete', 'acme')).toMatchObject({ code: 0, out: 'deleted acme\n' });
    const out = execFileSync('curl', [
      '-sk',
      '-w',
      '%{http_code}',
      `${base}/t/acme/dns-query?dns=AAABAAABAAAAAAAAAmV4BHRlc3QAABwAAQ`,
    ]);
    expect(out.toString()).toBe('unknown tenant acme\n404');
  });

  it('refuses a wrong token', () => {
    const r = cli('list', '--token', 'nope');
    expect([r.code, r.err]).toEqual([
      1,
      'HTTP 401: admin API needs Authorization: Bearer <ADMIN_TOKEN>\n',
    ]);
  });
});
