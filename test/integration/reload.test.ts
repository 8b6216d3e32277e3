import * as dnsPacket from 'dns-packet';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameReader, frame } from '../../src/node/framing';
import { type NodeServer, requireCommand, startNodeServer, waitFor } from './servers';

/**
 * SIGHUP (systemctl reload): TENANTS_FILE and the TLS certificate and key read again under a
 * query load over UDP, DoT and DoH, with WORKERS=2 (the primary reads, every worker takes it).
 * ipv4only.arpa (RFC 7050) is answered locally, in each tenant's prefix: no upstream needed.
 */
const dir = mkdtempSync(join(tmpdir(), 'reload-'));
const wka = (prefix: string) => [`${prefix}c000:aa`, `${prefix}c000:ab`];

function makeCert(name: string): { cert: string; key: string; fingerprint: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

let certA: ReturnType<typeof makeCert>;
let certB: ReturnType<typeof makeCert>;

beforeAll(() => {
  requireCommand('openssl', 'openssl');
  certA = makeCert('first');
  certB = makeCert('second');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const query = (id: number) =>
  dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'AAAA', name: 'ipv4only.arpa' }],
  });

const aaaa = (bytes: Uint8Array) =>
  dnsPacket
    .decode(Buffer.from(bytes))
    .answers!.map((a) => String((a as { data: unknown }).data))
    .sort();

/** One UDP query; rejects after 5 s without an answer. */
function udpAsk(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => (sock.close(), reject(new Error('udp: no answer'))), 5000);
    sock.once('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(aaaa(msg));
    });
    sock.send(query(7), port, '127.0.0.1');
  });
}

/** A DoT connection kept open; `ask` sends one query over it. */
class DotClient {
  readonly socket: TLSSocket;
  private readonly reader = new FrameReader();
  private readonly waiting = new Map<number, (bytes: Uint8Array) => void>();
  private next = 1;

  constructor(port: number) {
    this.socket = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ALPNProtocols: ['dot'],
    });
    this.socket.on('data', (chunk: Buffer) => {
      for (const msg of this.reader.push(new Uint8Array(chunk))) {
        const id = (msg[0]! << 8) | msg[1]!;
        this.waiting.get(id)?.(msg);
        this.waiting.delete(id);
      }
    });
  }

  ask(): Promise<string[]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('dot: no answer')), 5000);
      this.waiting.set(id, (bytes) => (clearTimeout(timer), resolve(aaaa(bytes))));
      this.socket.write(frame(query(id)));
    });
  }
}

/** A DoH JSON query for a tenant over HTTPS (HTTP/1.1), on `agent`'s connections. */
function dohAsk(port: number, tenant: string, agent: Agent | false): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const path = `/t/${tenant}/dns-query?name=ipv4only.arpa&type=AAAA&ct=application/dns-json`;
    const req = get({ host: '127.0.0.1', port, path, agent, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${body}`));
        const json = JSON.parse(body) as { Answer?: { data: string }[] };
        resolve((json.Answer ?? []).map((a) => a.data).sort());
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('doh: no answer')));
    req.on('error', reject);
  });
}

/** The certificate a fresh TLS handshake on `port` presents. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.on('error', reject);
  });
}

/** Runs `ask` back to back until stopped; every answer is kept, every failure too. */
function load(ask: () => Promise<string[]>) {
  let stop = false;
  const answers: string[][] = [];
  const failures: string[] = [];
  const done = (async () => {
    while (!stop) {
      try {
        answers.push(await ask());
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();
  return {
    answers,
    failures,
    async end() {
      stop = true;
      await done;
    },
  };
}

describe.each(['2', '1'])('SIGHUP with WORKERS=%s', (workers) => {
  const certFile = join(dir, `cert-${workers}.pem`);
  const keyFile = join(dir, `key-${workers}.pem`);
  const tenantsFile = join(dir, `tenants-${workers}.json`);
  let server: NodeServer;

  beforeAll(async () => {
    copyFileSync(certA.cert, certFile);
    copyFileSync(certA.key, keyFile);
    writeFileSync(tenantsFile, JSON.stringify({ lan: { prefixes: ['2001:db8:1a::/96'] } }));
    server = await startNodeServer({
      HOST: '127.0.0.1',
      UPSTREAMS: 'http://127.0.0.1:9/dns-query',
      TENANTS_FILE: tenantsFile,
      DNS_TENANT: 'lan',
      TLS_CERT: certFile,
      TLS_KEY: keyFile,
      WORKERS: workers,
    });
  });

  afterAll(async () => server?.stop());

  it('reloads TENANTS_FILE and the certificate under load: no query lost, no connection dropped, the new tenant answers', async () => {
    const dot = new DotClient(server.dotPort);
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await dot.ask()).toEqual(wka('2001:db8:1a::'));
    expect(await presented(server.port)).toBe(certA.fingerprint);
    await expect(dohAsk(server.port, 'new', false)).rejects.toThrow('HTTP 404: unknown tenant new');

    const loads = [
      load(() => udpAsk(server.dnsPort)),
      load(() => udpAsk(server.dnsPort)),
      load(() => dot.ask()),
      load(() => dohAsk(server.port, 'lan', keepAlive)),
    ];
    await waitFor('some answers', async () => loads.every((l) => l.answers.length >= 5));

    writeFileSync(
      tenantsFile,
      JSON.stringify({
        lan: { prefixes: ['2001:db8:1b::/96'] },
        new: { prefixes: ['2001:db8:ee::/96'] },
      }),
    );
    copyFileSync(certB.cert, certFile);
    copyFileSync(certB.key, keyFile);
    const before = loads.map((l) => l.answers.length);
    process.kill(server.child.pid!, 'SIGHUP');
    await waitFor('the reload', async () => /^SIGHUP: reloaded /m.test(server.messages()));
    // Each worker applies it on the primary's message; fresh connections reach either worker.
    await waitFor('every worker', async () => {
      for (let i = 0; i < 6; i++) {
        const got = await dohAsk(server.port, 'new', false).catch(() => []);
        if (got.join() !== wka('2001:db8:ee::').join()) return false;
      }
      return true;
    });
    await waitFor('answers after the reload', async () =>
      loads.every((l, i) => l.answers.length >= before[i]! + 5),
    );
    for (const l of loads) await l.end();

    expect(server.messages()).toMatch(
      `SIGHUP: reloaded TENANTS_FILE ${tenantsFile}, TLS_CERT ${certFile}${workers === '1' ? '' : ' (2 workers)'}`,
    );
    // No query lost; each load saw the old prefix, then (after the reload) the new one.
    for (const l of loads) {
      expect(l.failures).toEqual([]);
      const seen = [...new Set(l.answers.map((a) => a.join()))];
      expect(seen).toEqual([wka('2001:db8:1a::').join(), wka('2001:db8:1b::').join()]);
    }
    // The DoT connection opened before the reload is still the same one and still answers.
    expect(dot.socket.destroyed).toBe(false);
    expect(await dot.ask()).toEqual(wka('2001:db8:1b::'));
    // New handshakes get the new certificate, on DoH and DoT.
    expect(await presented(server.port)).toBe(certB.fingerprint);
    expect(await presented(server.dotPort)).toBe(certB.fingerprint);
    dot.socket.destroy();
    keepAlive.destroy();
  });

  it('refuses a bad file with every problem listed and keeps the running configuration', async () => {
    writeFileSync(
      tenantsFile,
      JSON.stringify({ New: { prefixes: ['2001:db8:ee::/96'] }, other: { prefixes: [] } }),
    );
    writeFileSync(keyFile, 'not a key');
    const mark = server.log().length;
    process.kill(server.child.pid!, 'SIGHUP');
    await waitFor('the refusal', async () => server.log().slice(mark).includes('reload refused'));
    await new Promise((r) => setTimeout(r, 200)); // the rest of the lines
    expect(plainLines(server.log().slice(mark))).toEqual([
      'SIGHUP: reload refused, the running configuration is kept:',
      `  ${tenantsFile}: New: id: must be 1 to 63 of a-z 0-9 - (not starting or ending with -)`,
      `  ${tenantsFile}: other: prefixes: Too small: expected array to have >=1 items`,
      expect.stringMatching(/^ {2}TLS_KEY: .*\.pem is not the private key of TLS_CERT: /),
      '',
    ]);
    // A good file that no longer defines DNS_TENANT is refused too.
    writeFileSync(tenantsFile, JSON.stringify({ other: { prefixes: ['2001:db8:ef::/96'] } }));
    copyFileSync(certB.key, keyFile);
    const mark2 = server.log().length;
    process.kill(server.child.pid!, 'SIGHUP');
    await waitFor('the refusal', async () => server.log().slice(mark2).includes('reload refused'));
    await new Promise((r) => setTimeout(r, 200));
    expect(plainLines(server.log().slice(mark2))).toEqual([
      'SIGHUP: reload refused, the running configuration is kept:',
      `  DNS_TENANT: no tenant lan in ${tenantsFile}`,
      '',
    ]);
    // Still running, with the tenants and certificate it had.
    expect(await dohAsk(server.port, 'new', false)).toEqual(wka('2001:db8:ee::'));
    expect(await udpAsk(server.dnsPort)).toEqual(wka('2001:db8:1b::'));
    expect(await presented(server.dotPort)).toBe(certB.fingerprint);
    if (workers === '1') return;
    // A worker that dies now is restarted from the primary's configuration, not from the file
    // on disk that the reload refused (which lacks DNS_TENANT's tenant).
    const children = execFileSync('pgrep', ['-P', String(server.child.pid), '-f', 'serve.ts'], {
      encoding: 'utf8',
    });
    const victim = Number(children.trim().split('\n')[0]);
    process.kill(victim, 'SIGKILL');
    await waitFor('the restart', async () =>
      new RegExp(`worker ${victim} died \\(SIGKILL\\), starting another`).test(server.messages()),
    );
    await waitFor('the new worker', async () => / ready \(a restart\)$/m.test(server.messages()));
    expect(server.child.exitCode).toBeNull();
    for (let i = 0; i < 6; i++) {
      expect(await dohAsk(server.port, 'new', false)).toEqual(wka('2001:db8:ee::'));
    }
    expect(await presented(server.port)).toBe(certB.fingerprint);
  });
});

/** The lines that are not JSON log lines: what the server wrote to stderr as plain text. */
function plainLines(output: string): string[] {
  return output.split('\n').filter((line) => !line.startsWith('{'));
}
