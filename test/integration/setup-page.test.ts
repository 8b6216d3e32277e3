import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appleProfile } from '../../src/pages/mobileconfig';
import { SETUP_HEADINGS } from '../../src/pages/setup-page';
import { pagesApp } from './fixtures/pages-app';
import { SAMPLE_DEFAULT, SAMPLE_TENANTS } from './fixtures/pages-sample';
import { REFUSAL_HEADINGS } from '../../src/pages/error-page';
import { type NodeServer, freePort, requireCommand, startNodeServer, waitFor } from './servers';

// The setup page as a real browser sees it: served over HTTP by the page routes (through a small
// node:http adapter), rendered by Debian's headless Chromium, its screenshot's QR code decoded by
// zbarimg (zbar-tools), and the Apple profile read by Python's plistlib. The same routes are
// also served by workerd (`wrangler dev`, a worker with only these routes) to check that the
// deployed build gives byte-identical pages and a profile plistlib accepts.

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const ACME = SAMPLE_TENANTS.acme!;
const EVIL = SAMPLE_TENANTS.evil!;

let work: string;
let node: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  requireCommand(CHROMIUM, 'chromium');
  requireCommand('zbarimg', 'zbar-tools');
  requireCommand('python3', 'python3');
  work = mkdtempSync(join(tmpdir(), 'setup-page-'));
  node = await serve(pagesApp());
});

afterAll(async () => {
  await node?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A minimal node:http front for `app.fetch` (GET and HEAD only need no request body). */
async function serve(app: Hono): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string') headers.set(k, v);
      else if (Array.isArray(v)) for (const one of v) headers.append(k, one);
    }
    const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
    });
    Promise.resolve(app.fetch(request))
      .then(async (response) => {
        const body = Buffer.from(await response.arrayBuffer());
        const out: Record<string, string> = {};
        response.headers.forEach((value, name) => (out[name] = value));
        res.writeHead(response.status, out);
        res.end(body);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

let profileCount = 0;
/** Headless Chromium with a fresh profile directory; returns stdout. */
async function chromium(args: string[]): Promise<string> {
  const userData = mkdtempSync(join(work, `chromium-${profileCount++}-`));
  const { stdout } = await run(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      `--user-data-dir=${userData}`,
      ...args,
    ],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, HOME: userData } },
  );
  return stdout;
}

/** Parses an XML property list with Python's plistlib (expat underneath), as JSON. */
async function plistlib(path: string): Promise<Record<string, unknown>> {
  const script =
    'import json, plistlib, sys\n' +
    "with open(sys.argv[1], 'rb') as f:\n" +
    '    d = plistlib.load(f, fmt=plistlib.FMT_XML)\n' +
    'json.dump(d, sys.stdout)\n';
  const { stdout } = await run('/usr/bin/python3', ['-c', script, path], { timeout: 30_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

function dnsPayload(profile: Record<string, unknown>): Record<string, unknown> {
  const content = profile.PayloadContent;
  if (!Array.isArray(content) || content.length !== 1) throw new Error('PayloadContent');
  return content[0] as Record<string, unknown>;
}

describe('the setup page in headless Chromium', () => {
  it('renders the DoH URL, the prefixes and every section heading', async () => {
    const dom = await chromium(['--dump-dom', `${node.url}/t/acme`]);
    expect(dom).toContain(
      '<pre class="copy" id="doh-url"><code>https://doh.example/t/acme/dns-query</code></pre>',
    );
    const headings = [...dom.matchAll(/<h2>([^<]*)<\/h2>/g)].map((m) => m[1]);
    expect(headings).toEqual(Object.values(SETUP_HEADINGS));
    for (const prefix of ACME.prefixes) expect(dom).toContain(`<li><code>${prefix}</code></li>`);
    expect(dom).toContain('<title>Set up Acme Corp: DNS64 over HTTPS</title>');
    // the inline SVG made it into the DOM as SVG
    expect(dom).toMatch(/<figure class="qr"><svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it('keeps a hostile display name, URL and prefix as text: no element is injected', async () => {
    const dom = await chromium(['--dump-dom', `${node.url}/t/evil`]);
    expect(dom).not.toContain('<script');
    expect(dom).not.toContain('<img');
    // Chromium's serializer escapes &, < and > in text; quotes in text stay as they are.
    expect(dom).toContain(`<h1>Set up &lt;script&gt;alert("x")&lt;/script&gt; &amp; 'co'</h1>`);
    expect(dom).toContain(
      '<code>https://doh.example/t/evil/dns-query?a=&lt;b&gt;&amp;c="d"</code>',
    );
    expect(dom).toContain('<li><code>&lt;img src=x onerror=alert(1)&gt;/96</code></li>');
    expect(EVIL.displayName).toContain('<script>');
  });

  it('takes a screenshot whose QR code decodes (zbarimg) to the DoH URL', async () => {
    const png = join(work, 'setup-page.png');
    await chromium([`--screenshot=${png}`, '--window-size=1200,2400', `${node.url}/t/acme`]);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    // IHDR: width and height of the window
    expect(bytes.readUInt32BE(16)).toBe(1200);
    expect(bytes.readUInt32BE(20)).toBe(2400);
    expect(statSync(png).size).toBeGreaterThan(30_000);
    copyFileSync(png, '/tmp/setup-page.png');

    const { stdout } = await run(
      'zbarimg',
      ['--quiet', '--raw', '-Sdisable', '-Sqrcode.enable', png],
      { timeout: 30_000 },
    );
    expect(stdout).toBe(`${ACME.dohUrl}\n`);
  });
});

describe('the Apple profile outside our code', () => {
  it('is served as an attachment that plistlib reads, with the DoH URL', async () => {
    const res = await fetch(`${node.url}/t/acme/apple.mobileconfig`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="doh.example-acme.mobileconfig"',
    );
    const file = join(work, 'node.mobileconfig');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const profile = await plistlib(file);
    expect(profile.PayloadType).toBe('Configuration');
    expect(profile.PayloadVersion).toBe(1);
    const dns = dnsPayload(profile);
    expect(dns.PayloadType).toBe('com.apple.dnsSettings.managed');
    expect(dns.DNSSettings).toEqual({ DNSProtocol: 'HTTPS', ServerURL: ACME.dohUrl });
  });

  it('carries hostile text exactly through plistlib', async () => {
    const file = join(work, 'evil.mobileconfig');
    writeFileSync(file, await appleProfile(EVIL));
    const profile = await plistlib(file);
    expect(profile.PayloadOrganization).toBe(EVIL.displayName);
    expect((dnsPayload(profile).DNSSettings as Record<string, unknown>).ServerURL).toBe(
      EVIL.dohUrl,
    );
  });
});

describe('the same routes in workerd (wrangler dev)', () => {
  let worker: { url: string; stop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    worker = await startPagesWorker(join(work, 'worker'));
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it('serves byte-identical pages to the ones Chromium rendered', async () => {
    for (const path of ['/', '/t/acme', '/t/evil']) {
      const [a, b] = await Promise.all([
        fetch(`${worker!.url}${path}`).then((r) => r.text()),
        fetch(`${node.url}${path}`).then((r) => r.text()),
      ]);
      expect(a, path).toBe(b);
      expect(a.length).toBeGreaterThan(5000);
    }
    const missing = await fetch(`${worker!.url}/t/nobody`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('unknown tenant\n');
  });

  it('serves profiles that plistlib reads, for the default tenant and a hostile one', async () => {
    for (const [path, info] of [
      ['/apple.mobileconfig', SAMPLE_DEFAULT],
      ['/t/evil/apple.mobileconfig', EVIL],
    ] as const) {
      const res = await fetch(`${worker!.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-apple-aspen-config');
      const file = join(work, `worker-${info.tenantId ?? 'default'}.mobileconfig`);
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      const profile = await plistlib(file);
      expect(profile.PayloadDisplayName).toBe(`${info.displayName}: DNS64 over HTTPS`);
      const dns = dnsPayload(profile);
      expect(dns.DNSSettings).toEqual({ DNSProtocol: 'HTTPS', ServerURL: info.dohUrl });
      // the identifiers workerd derives are the ones Node derives
      const nodeProfile = await plistlib(file.replace('worker-', 'node-'));
      expect(profile.PayloadUUID).toBe(nodeProfile.PayloadUUID);
      expect(dns.PayloadUUID).toBe(dnsPayload(nodeProfile).PayloadUUID);
    }
  });
});

// The self-hosted server's own page, as Chromium gets it: over plain HTTP (no TLS, so no DoT) by
// address, and over HTTPS (TLS_CERT/TLS_KEY, so DoT too) by name. Nothing here asks an
// upstream, so UPSTREAMS points at a closed loopback port.
describe("the self-hosted server's page in headless Chromium, http and https", () => {
  const KEY = 'lab-key-0123456789abcdef';
  let plain: NodeServer;
  let tls: NodeServer;

  beforeAll(async () => {
    requireCommand('openssl', 'openssl');
    requireCommand('curl', 'curl');
    const dir = mkdtempSync(join(work, 'servers-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    ], { stdio: 'ignore' }); // prettier-ignore
    const tenants = join(dir, 'tenants.json');
    writeFileSync(
      tenants,
      JSON.stringify({ lab: { name: 'Lab', prefixes: ['2001:db8:64::/96'], key: KEY } }),
    );
    const common = { UPSTREAMS: 'http://127.0.0.1:9/dns-query', TENANTS_FILE: tenants };
    [plain, tls] = await Promise.all([
      startNodeServer(common),
      startNodeServer({ ...common, TLS_CERT: cert, TLS_KEY: key }),
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([plain?.stop(), tls?.stop()]);
  });

  /** curl's status, content type and body (-k: the test certificate). */
  async function curl(url: string, ...args: string[]): Promise<[number, string, string]> {
    const { stdout } = await run(
      'curl',
      ['-sk', '--max-time', '10', '-w', '\n%{http_code} %{content_type}', ...args, url],
      { timeout: 20_000 },
    );
    const cut = stdout.lastIndexOf('\n');
    const tail = stdout.slice(cut + 1);
    const space = tail.indexOf(' ');
    return [Number(tail.slice(0, space)), tail.slice(space + 1), stdout.slice(0, cut)];
  }

  it('http://: says HTTPS is needed, shows classic DNS, no profile link and no DoT host', async () => {
    const dom = await chromium(['--dump-dom', `http://127.0.0.1:${plain.port}/`]);
    expect(dom).toContain('<code>http://127.0.0.1:' + plain.port + '/dns-query</code>');
    expect(dom).toContain(
      '<b>This DNS over HTTPS URL is http://, and browsers and operating systems take DNS over ' +
        'HTTPS\nonly from an https:// URL.</b>',
    );
    expect(dom).toContain(
      `<li id="works-dns"><b>Classic DNS</b> (UDP and TCP, not encrypted) at ` +
        `<code>127.0.0.1</code>, port <code>${plain.dnsPort}</code>`,
    );
    expect(dom).not.toContain('id="works-dot"');
    expect(dom.match(/class="warn needs-https"/g)).toHaveLength(4); // Firefox, Chrome, Windows, Apple
    expect(dom).not.toContain('class="button"');
    expect(dom).not.toContain('apple.mobileconfig');
    expect(dom).not.toContain('id="dot-host"');
    expect(dom).toContain('This server does not serve DoT');
    // Windows: the URL names the server by address, so no lookup step
    expect(dom).toContain(
      `netsh dns add encryption server=127.0.0.1 dohtemplate=http://127.0.0.1:${plain.port}/dns-query`,
    );
    expect(dom).not.toContain('Resolve-DnsName');

    const [status, type, body] = await curl(`http://127.0.0.1:${plain.port}/apple.mobileconfig`);
    expect([status, type, body]).toEqual([
      404,
      'text/plain; charset=utf-8',
      'no Apple profile for an http:// DoH URL: Apple devices take DNS over HTTPS only from an ' +
        'https:// URL; open this page over HTTPS\n',
    ]);
  });

  it('https://: no notice, the profile link, and the DoT host name for Android', async () => {
    const base = `https://localhost:${tls.port}`;
    const dom = await chromium([
      '--ignore-certificate-errors',
      '--dump-dom',
      `${base}/t/lab/${KEY}/`,
    ]);
    expect(dom).toContain(`<code>${base}/t/lab/${KEY}/dns-query</code>`);
    expect(dom).not.toContain('https-needed');
    expect(dom).not.toContain('needs-https');
    expect(dom).toContain('<a class="button" href="apple.mobileconfig">');
    expect(dom).toContain('<pre class="copy" id="dot-host"><code>localhost</code></pre>');
    // DOT_PORT is a free port here, not 853: the page says Private DNS needs 853
    expect(dom).toContain(
      `<p class="warn" id="dot-port">This server serves DoT on port <code>${tls.dotPort}</code>`,
    );
    expect(dom).toContain('<code>Resolve-DnsName localhost</code>');
  });

  it('serves the profile for ?ssid=Lab-v6 with the exact OnDemandRules (plistlib)', async () => {
    const base = `https://localhost:${tls.port}`;
    const file = join(work, 'lab-ssid.mobileconfig');
    const { stdout } = await run(
      'curl',
      ['-sk', '--max-time', '10', '-o', file, '-w', '%{http_code} %{content_type}',
        `${base}/t/lab/${KEY}/apple.mobileconfig?ssid=Lab-v6`],
      { timeout: 20_000 },
    ); // prettier-ignore
    expect(stdout).toBe('200 application/x-apple-aspen-config');
    const profile = await plistlib(file);
    const dns = dnsPayload(profile);
    expect(dns.DNSSettings).toEqual({
      DNSProtocol: 'HTTPS',
      ServerURL: `${base}/t/lab/${KEY}/dns-query`,
    });
    expect(dns.OnDemandRules).toEqual([
      { Action: 'Connect', InterfaceTypeMatch: 'WiFi', SSIDMatch: ['Lab-v6'] },
      { Action: 'Disconnect' },
    ]);
    const [status, , reason] = await curl(`${base}/t/lab/${KEY}/apple.mobileconfig?ssid=`);
    expect([status, reason]).toEqual([400, 'ssid: empty; give the Wi-Fi network name\n']);
  });

  it('gives a browser an HTML page (403) for the keyed tenant without its key', async () => {
    const base = `https://localhost:${tls.port}`;
    const dom = await chromium(['--ignore-certificate-errors', '--dump-dom', `${base}/t/lab/`]);
    expect(dom).toContain(`<h1>${REFUSAL_HEADINGS.needsKey}</h1>`);
    expect(dom).toContain(
      '<p class="reason">HTTP 403: tenant lab needs its key: /t/lab/{key}/dns-query</p>',
    );
    expect(dom).not.toContain(KEY);
    const accept = 'text/html,application/xhtml+xml,*/*;q=0.8';
    const [status, type] = await curl(`${base}/t/lab/`, '-H', `accept: ${accept}`);
    expect([status, type]).toEqual([403, 'text/html; charset=utf-8']);
    expect(await curl(`${base}/t/lab/`)).toEqual([
      403,
      'text/plain; charset=utf-8',
      'tenant lab needs its key: /t/lab/{key}/dns-query\n',
    ]);
  });
});

/** `wrangler dev` with a worker that serves only the page routes for the sample tenants. */
async function startPagesWorker(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  for (const info of [SAMPLE_DEFAULT, EVIL]) {
    // Node's profiles, for the identifier comparison above
    writeFileSync(
      join(work, `node-${info.tenantId ?? 'default'}.mobileconfig`),
      await appleProfile(info),
    );
  }
  const port = await freePort();
  const config = join(work, 'wrangler.toml');
  writeFileSync(
    config,
    [
      'name = "setup-pages-test"',
      `main = ${JSON.stringify(resolve('test/integration/fixtures/pages-worker.ts'))}`,
      'compatibility_date = "2025-09-01"',
      '',
    ].join('\n'),
  );
  const args = ['wrangler', 'dev', '-c', config, '--port', String(port), '--ip', '127.0.0.1'];
  args.push('--inspector-port', String(await freePort()), '--persist-to', dir);
  const child: ChildProcess = spawn('npx', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGTERM'); // the group: wrangler starts workerd as a child
    } catch {
      child.kill('SIGTERM');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  };
  try {
    await waitFor('wrangler dev', async () => log.includes('Ready on'), 90_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}
