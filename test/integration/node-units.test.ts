import * as dnsPacket from 'dns-packet';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StreamDns, answerMessage, tcpServer } from '../../src/node/classic';
import { ConfigError, loadConfig } from '../../src/node/config';
import { ddrConfig } from '../../src/node/server';
import { FrameReader, formErr, frame, truncateForUdp } from '../../src/node/framing';
import { RateLimitedLog } from '../../src/obs/log';
import { shortClient } from '../../src/obs/query-event';

/** The self-hosted server's pieces in-process: settings, classic-DNS wire helpers, TCP streams. */
const dir = mkdtempSync(join(tmpdir(), 'node-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({
      host: null,
      httpPort: 8787,
      dnsPort: 5353,
      dotPort: 853,
      tls: null,
      tenants: {},
      dnsTenant: null,
      trustProxy: false,
      workers: 1,
    });
    expect(cfg.settings.upstreams).toEqual([
      'https://cloudflare-dns.com/dns-query',
      'https://dns.google/dns-query',
    ]);
  });

  it('reads the observability settings: LOG_LEVEL, QUERY_LOG, QUERY_LOG_FULL_IP, METRICS_ADDR', () => {
    expect(loadConfig({}).obs).toEqual({
      logLevel: 'info',
      queryLog: false,
      queryLogFullIp: false,
      metrics: { host: '127.0.0.1', port: 9153 },
    });
    const set = { LOG_LEVEL: 'DEBUG', QUERY_LOG: 'yes', QUERY_LOG_FULL_IP: 'true' };
    expect(loadConfig({ ...set, METRICS_ADDR: '[::1]:9100' }).obs).toEqual({
      logLevel: 'debug',
      queryLog: true,
      queryLogFullIp: true,
      metrics: { host: '::1', port: 9100 },
    });
    expect(loadConfig({ METRICS_ADDR: 'OFF' }).obs.metrics).toBeNull();
    expect(loadConfig({ METRICS_ADDR: '0.0.0.0:9153' }).obs.metrics).toEqual({
      host: '0.0.0.0',
      port: 9153,
    });
    const addr = (text: string) => refusal({ METRICS_ADDR: text });
    const form = 'is not address:port (127.0.0.1:9153, [::1]:9153) or off';
    expect(addr('localhost:9153')).toBe(`METRICS_ADDR: localhost:9153 ${form}`);
    expect(addr('127.0.0.1:0')).toBe(`METRICS_ADDR: 127.0.0.1:0 ${form}`);
    expect(addr('127.0.0.1')).toBe(`METRICS_ADDR: 127.0.0.1 ${form}`);
    expect(addr('[::1]:65536')).toBe(`METRICS_ADDR: [::1]:65536 ${form}`);
    expect(refusal({ LOG_LEVEL: 'verbose', QUERY_LOG_FULL_IP: '2' })).toBe(
      'LOG_LEVEL: verbose is not one of trace, debug, info, warn, error, fatal\n' +
        'QUERY_LOG_FULL_IP: 2 is not true/false (1/0, yes/no, on/off)',
    );
  });

  it('shortens client addresses to /24 and /56 for the query log', () => {
    const v4 = Uint8Array.of(192, 0, 2, 200);
    expect(shortClient(v4, false)).toBe('192.0.2.0/24');
    expect(shortClient(v4, true)).toBe('192.0.2.200');
    // 2001:db8:aaaa:bbcc:dd::1: the /56 keeps 0xbb of the fourth group and drops 0xcc.
    const v6 = Uint8Array.from([
      0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, 0xbb, 0xcc, 0, 0xdd, 0, 0, 0, 0, 0, 1,
    ]);
    expect(shortClient(v6, false)).toBe('2001:db8:aaaa:bb00::/56');
    expect(shortClient(v6, true)).toBe('2001:db8:aaaa:bbcc:dd::1');
    expect(shortClient(null, false)).toBeNull();
  });

  it('rate-limits log lines per key and counts what it left out', () => {
    let now = 0;
    const limited = new RateLimitedLog(1000, () => now, 2);
    const written: string[] = [];
    const line = (key: string) => limited.maybe(key, (n) => written.push(`${key}:${n}`));
    line('a');
    line('a');
    line('b');
    line('a');
    now = 1000;
    line('a');
    line('b');
    // A third key with two remembered: the table starts over rather than grow.
    line('c');
    line('a');
    expect(written).toEqual(['a:0', 'b:0', 'a:2', 'b:0', 'c:0', 'a:0']);
  });

  it('refuses bad settings with VARIABLE: reason', () => {
    const cert = join(dir, 'cert.pem');
    writeFileSync(cert, 'not a certificate');
    expect(refusal({ PORT: '70000' })).toBe('PORT: 70000 is not a port number from 1 to 65535');
    expect(refusal({ DNS_PORT: '-1' })).toBe('DNS_PORT: -1 is not a port number from 1 to 65535');
    expect(refusal({ PORT: '53', DNS_PORT: '53' })).toBe('DNS_PORT: 53 is already used by PORT');
    expect(refusal({ HOST: 'example.com' })).toBe(
      'HOST: example.com is not an IPv4 or IPv6 address',
    );
    expect(refusal({ DNS64_PREFIX: '2001:db8::/33' })).toMatch(/^DNS64_PREFIX: /);
    expect(refusal({ UPSTREAMS: 'ftp://x' })).toBe(
      'UPSTREAMS: ftp://x must be an https:// or http:// DoH URL, or udp://, tcp:// or tls:// host[:port]',
    );
    expect(refusal({ UPSTREAMS: 'udp://user@192.0.2.53' })).toBe(
      "UPSTREAMS: udp://user@192.0.2.53: only tls:// takes a name@ (the certificate's name)",
    );
    expect(refusal({ UPSTREAM_CA_FILE: cert })).toMatch(
      /^UPSTREAM_CA_FILE: .*cert\.pem is not PEM certificates: /,
    );
    expect(refusal({ SERVER_ID: 'two words' })).toBe(
      'SERVER_ID: must be 1 to 200 printable ASCII characters without spaces',
    );
    expect(refusal({ UPSTREAM_TIMEOUT_MS: '10' })).toBe(
      'UPSTREAM_TIMEOUT_MS: 10 is not a whole number from 50 to 30000',
    );
    expect(refusal({ TLS_CERT: cert })).toBe(
      'TLS_KEY: needed with TLS_CERT (a PEM private key file)',
    );
    expect(refusal({ TLS_CERT: cert, TLS_KEY: join(dir, 'none.pem') })).toMatch(
      /^TLS_KEY: cannot read .*none\.pem: ENOENT/,
    );
    expect(refusal({ TLS_CERT: cert, TLS_KEY: cert })).toMatch(
      /^TLS_CERT: .*cert\.pem is not a PEM certificate: /,
    );
    expect(refusal({ DOT_PORT: '0' })).toBe('DOT_PORT: 0 is not a port number from 1 to 65535');
    expect(loadConfig({ DOT_PORT: '853' }).tls).toBeNull(); // DoT waits for TLS_CERT/TLS_KEY
    expect(refusal({ WORKERS: '0' })).toBe('WORKERS: 0 is not a whole number from 1 to 64 or auto');
    expect(refusal({ TRUST_PROXY: 'maybe' })).toBe(
      'TRUST_PROXY: maybe is not true/false (1/0, yes/no, on/off)',
    );
    expect(refusal({ DNS_TENANT: 'acme' })).toBe(
      'DNS_TENANT: acme needs a TENANTS_FILE that defines it',
    );
    expect(refusal({ TENANTS_FILE: join(dir, 'none.json') })).toMatch(
      /^TENANTS_FILE: cannot read .*none\.json: ENOENT/,
    );
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{');
    expect(refusal({ TENANTS_FILE: notJson })).toMatch(/^TENANTS_FILE: .*bad\.json is not JSON: /);
    writeFileSync(notJson, '[]');
    expect(refusal({ TENANTS_FILE: notJson })).toBe(
      `TENANTS_FILE: ${notJson} must be a JSON object of tenant id -> record`,
    );
  });

  it('loads TENANTS_FILE and names every bad record as file: tenant id: field: reason', () => {
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ acme: { prefixes: ['2001:db8:ac::/96'] } }));
    const cfg = loadConfig({ TENANTS_FILE: file, DNS_TENANT: 'acme', WORKERS: '2' });
    expect(cfg.tenants).toEqual({ acme: { prefixes: ['2001:db8:ac::/96'] } });
    expect(cfg.dnsTenant).toBe('acme');
    expect(cfg.workers).toBe(2);
    expect(refusal({ TENANTS_FILE: file, DNS_TENANT: 'other' })).toBe(
      `DNS_TENANT: no tenant other in ${file}`,
    );
    writeFileSync(
      file,
      JSON.stringify({ Acme: { prefixes: ['64:ff9b::/96'] }, b: { prefixes: [], nope: 1 } }),
    );
    expect(refusal({ TENANTS_FILE: file }).split('\n')).toEqual([
      `${file}: Acme: id: must be 1 to 63 of a-z 0-9 - (not starting or ending with -)`,
      `${file}: b: prefixes: Too small: expected array to have >=1 items`,
      `${file}: b: (record): Unrecognized key: "nope"`,
    ]);
  });
});

describe('DDR settings (ddrConfig)', () => {
  it("publishes DNS_TENANT's DoH path, so DoH answers as classic DNS does; none for a keyed tenant", () => {
    const cert = join(dir, 'ddr-cert.pem');
    const key = join(dir, 'ddr-key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=dns.example',
        '-addext',
        'subjectAltName=DNS:dns.example',
      ],
      { stdio: 'ignore' },
    );
    const file = join(dir, 'ddr-tenants.json');
    writeFileSync(
      file,
      JSON.stringify({
        acme: { prefixes: ['2001:db8:ac::/96'] },
        keyed: { prefixes: ['2001:db8:ad::/96'], key: 'tenant-key-0123456789' },
      }),
    );
    const tls = { TLS_CERT: cert, TLS_KEY: key, TENANTS_FILE: file };
    expect(ddrConfig(loadConfig(tls))?.dohPath).toBeUndefined(); // /dns-query{?dns}
    expect(ddrConfig(loadConfig({ ...tls, DNS_TENANT: 'acme' }))?.dohPath).toBe(
      '/t/acme/dns-query{?dns}',
    );
    expect(ddrConfig(loadConfig({ ...tls, DNS_TENANT: 'keyed' }))?.dohPath).toBeNull();
    expect(ddrConfig(loadConfig({ TENANTS_FILE: file, DNS_TENANT: 'acme' }))).toBeNull();
  });
});

const query = (name: string, type: dnsPacket.RecordType, edns = false): Uint8Array =>
  dnsPacket.encode({
    type: 'query',
    id: 4321,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    additionals: edns
      ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.OptAnswer]
      : [],
  });

describe('classic DNS wire helpers', () => {
  const answers = Array.from({ length: 40 }, (_, i) => ({
    type: 'A' as const,
    name: 'many.dns64.test',
    ttl: 300,
    data: `198.51.100.${i + 1}`,
  }));
  const big = (opt: boolean) =>
    dnsPacket.encode({
      type: 'response',
      id: 4321,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'many.dns64.test' }],
      answers,
      additionals: opt
        ? [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: 1232,
              options: [
                { code: 15, data: Buffer.from([0, 29]) },
                { code: 12, length: 100 },
              ],
            } as dnsPacket.Answer,
          ]
        : [],
    });

  it('truncates to header + question (+ OPT without padding) with TC=1', () => {
    const plain = big(false);
    expect(plain.length).toBeGreaterThan(512);
    expect(truncateForUdp(plain, 4096)).toBe(plain);
    const cut = dnsPacket.decode(Buffer.from(truncateForUdp(plain, 512)));
    expect(cut.id).toBe(4321);
    expect(cut.flag_tc).toBe(true);
    expect(cut.flag_rd).toBe(true);
    expect(cut.questions).toEqual([{ name: 'many.dns64.test', type: 'A', class: 'IN' }]);
    expect(cut.answers).toEqual([]);
    expect(cut.additionals).toEqual([]);

    const withOpt = truncateForUdp(big(true), 512);
    const decoded = dnsPacket.decode(Buffer.from(withOpt));
    expect(decoded.flag_tc).toBe(true);
    expect(decoded.answers).toEqual([]);
    const opt = decoded.additionals![0] as dnsPacket.OptAnswer;
    expect(opt.type).toBe('OPT');
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.options.map((o) => o.code)).toEqual([15]); // EDE kept, padding dropped
  });

  it('drops the OPT options when a long EDE alone would pass the limit (issue 12)', () => {
    const text = Buffer.from(
      `upstream failed: ${'udp://192.0.2.53: recvmsg ECONNREFUSED; '.repeat(20)}`,
    );
    const servfail = dnsPacket.encode({
      type: 'response',
      id: 4321,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | 2,
      questions: [{ type: 'A', name: 'many.dns64.test' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 1232,
          options: [{ code: 15, data: Buffer.concat([Buffer.from([0, 23]), text]) }],
        } as unknown as dnsPacket.Answer,
      ],
    });
    expect(servfail.length).toBeGreaterThan(512);
    const cut = truncateForUdp(servfail, 512);
    expect(cut.length).toBe(12 + 17 + 4 + 11); // header, question, bare OPT
    const decoded = dnsPacket.decode(Buffer.from(cut));
    expect([decoded.flag_tc, (decoded.flags ?? 0) & 0xf]).toEqual([true, 2]);
    const opt = decoded.additionals![0] as dnsPacket.OptAnswer;
    expect([opt.type, opt.udpPayloadSize, opt.options]).toEqual(['OPT', 1232, []]);
  });

  it('builds FORMERR from a readable header and question, drops the rest', () => {
    const good = query('a.dns64.test', 'A');
    const broken = Uint8Array.from([...good]);
    broken[7] = 1; // ANCOUNT 1 with no record
    const res = formErr(broken)!;
    expect(Buffer.from(res).toString('hex')).toBe(
      Buffer.from([0x10, 0xe1, 0x81, 0x81, 0, 1, 0, 0, 0, 0, 0, 0, ...good.subarray(12)]).toString(
        'hex',
      ),
    );
    expect(formErr(Uint8Array.from([1, 2, 3]))).toBeNull();
    const response = Uint8Array.from([...good]);
    response[2] = response[2]! | 0x80; // QR: never answer a response
    expect(formErr(response)).toBeNull();
    const noQuestion = Uint8Array.from([...good.subarray(0, 12)]);
    noQuestion[5] = 0;
    expect(formErr(noQuestion)).toBeNull();
    expect(formErr(good.subarray(0, good.length - 2))).toBeNull(); // question cut short
  });

  it('answerMessage: SERVFAIL when the engine throws, truncation only on UDP', async () => {
    const boom = async (): Promise<Uint8Array> => {
      throw new Error('boom');
    };
    const res = await answerMessage(query('x.test', 'A', true), '127.0.0.1', 'tcp', boom);
    const decoded = dnsPacket.decode(Buffer.from(res!));
    expect((decoded.flags ?? 0) & 0xf).toBe(2); // SERVFAIL
    const bigAnswer = async () => big(false);
    const udp = await answerMessage(query('many.dns64.test', 'A'), '::1', 'udp', bigAnswer);
    expect(dnsPacket.decode(Buffer.from(udp!)).flag_tc).toBe(true);
    const tcp = await answerMessage(query('many.dns64.test', 'A'), '::1', 'tcp', bigAnswer);
    expect(Buffer.from(tcp!).equals(big(false))).toBe(true);
    const malformed = async () => ({ kind: 'malformed' as const, reason: 'not a DNS message' });
    expect(await answerMessage(Uint8Array.from([9]), '::1', 'udp', malformed)).toBeNull();
  });

  it('frames and splits TCP messages however the bytes arrive', () => {
    const a = query('a.test', 'A');
    const b = query('b.test', 'AAAA');
    const stream = Uint8Array.from([...frame(a), ...frame(b)]);
    const reader = new FrameReader();
    const got: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += 5) got.push(...reader.push(stream.subarray(i, i + 5)));
    const hex = (list: Uint8Array[]) => list.map((m) => Buffer.from(m).toString('hex'));
    expect(hex(got)).toEqual(hex([a, b]));
    expect(reader.pending).toBe(0);
    expect(hex(new FrameReader().push(stream))).toEqual(hex([a, b]));
  });
});

describe('DNS over TCP streams', () => {
  it('answers pipelined queries as each completes and closes an idle connection', async () => {
    // Answers echo the query with QR set; "slow" takes longer, so "fast" is written first.
    const stream = new StreamDns({
      idleMs: 300,
      answerer: async (raw) => {
        const q = dnsPacket.decode(Buffer.from(raw));
        if (q.questions?.[0]?.name === 'slow.test') await new Promise((r) => setTimeout(r, 150));
        return new Uint8Array(
          dnsPacket.encode({ ...q, type: 'response', flags: dnsPacket.RECURSION_DESIRED }),
        );
      },
    });
    const server = tcpServer(stream);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const socket = connect(port, '127.0.0.1');
    const reader = new FrameReader();
    const names: string[] = [];
    socket.on('data', (d: Buffer) => {
      for (const m of reader.push(d))
        names.push(dnsPacket.decode(Buffer.from(m)).questions![0]!.name);
    });
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now())));
    socket.write(
      Uint8Array.from([...frame(query('slow.test', 'A')), ...frame(query('fast.test', 'A'))]),
    );
    const start = Date.now();
    const end = await closed;
    expect(names).toEqual(['fast.test', 'slow.test']);
    // Closed by the idle timer after the last answer (150 ms), not before.
    expect(end - start).toBeGreaterThanOrEqual(400);
    expect(end - start).toBeLessThan(2000);
    server.close();
  });

  it('answers queries sent before the client half-closes, then closes', async () => {
    const stream = new StreamDns({
      answerer: async (raw) => {
        await new Promise((r) => setTimeout(r, 100));
        const q = dnsPacket.decode(Buffer.from(raw));
        return new Uint8Array(
          dnsPacket.encode({ ...q, type: 'response', flags: dnsPacket.RECURSION_DESIRED }),
        );
      },
    });
    const server = tcpServer(stream);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const reader = new FrameReader();
    let count = 0;
    socket.on('data', (d: Buffer) => (count += reader.push(d).length));
    const closed = new Promise((r) => socket.on('close', r));
    socket.end(Uint8Array.from([...frame(query('a.test', 'A')), ...frame(query('b.test', 'A'))]));
    await closed;
    expect(count).toBe(2);
    server.close();
  });
});
