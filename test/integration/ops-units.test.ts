import * as dnsPacket from 'dns-packet';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/acl/address';
import { ServerAcl, localnets } from '../../src/node/acl';
import { slipResponse } from '../../src/node/classic';
import { ConfigError, loadConfig } from '../../src/node/config';
import { ResponseRateLimiter } from '../../src/node/rrl';

/** Operations pieces in-process: every bad setting at once, ALLOW_QUERY, RRL, the CLI. */
const dir = mkdtempSync(join(tmpdir(), 'ops-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = join(__dirname, '..', '..');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.split('\n');
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

const addr = (text: string) => parseAddress(text)!;

describe('every bad setting at once', () => {
  it('lists each problem as VARIABLE: reason, in one error', () => {
    const tenants = join(dir, 'bad-tenants.json');
    writeFileSync(
      tenants,
      JSON.stringify({ a: { prefixes: [] }, B: { prefixes: ['64:ff9b::/96'] } }),
    );
    expect(
      problems({
        DNS64_PREFIX: 'bad',
        UPSTREAMS: 'ftp://x',
        PORT: '70000',
        HOST: 'example.com',
        TENANTS_FILE: tenants,
        DNS_TENANT: 'a',
        WORKERS: '0',
        TRUST_PROXY: 'maybe',
        ALLOW_QUERY: '10.0.0.0/33,foo',
        RRL_RESPONSES_PER_SECOND: '-1',
        RRL_WINDOW: '0',
        RRL_SLIP: 'x',
      }),
    ).toEqual([
      'UPSTREAMS: ftp://x must be an https:// or http:// DoH URL, or udp://, tcp:// or tls:// host[:port]',
      'DNS64_PREFIX: bad: a prefix needs a length (e.g. /96)',
      'HOST: example.com is not an IPv4 or IPv6 address',
      'PORT: 70000 is not a port number from 1 to 65535',
      `${tenants}: a: prefixes: Too small: expected array to have >=1 items`,
      `${tenants}: B: id: must be 1 to 63 of a-z 0-9 - (not starting or ending with -)`,
      'TRUST_PROXY: maybe is not true/false (1/0, yes/no, on/off)',
      'WORKERS: 0 is not a whole number from 1 to 64 or auto',
      'ALLOW_QUERY: 10.0.0.0/33: prefix length must be 0 to 32; foo: not an IP address or range (give CIDR ranges, any, or localnets)',
      'RRL_RESPONSES_PER_SECOND: -1 is not a whole number from 0 to 100000',
      'RRL_WINDOW: 0 is not a whole number from 1 to 3600',
      'RRL_SLIP: x is not a whole number from 0 to 10',
    ]);
  });

  it('reads ALLOW_QUERY and the RRL settings', () => {
    const cfg = loadConfig({
      ALLOW_QUERY: '198.51.100.0/24, 2001:db8::/32',
      RRL_RESPONSES_PER_SECOND: '0',
    });
    expect(cfg.allowQuery).not.toBe('localnets');
    expect(cfg.rrl).toEqual({ responsesPerSecond: 0, window: 15, slip: 2 });
    expect(loadConfig({}).allowQuery).toBe('localnets');
    expect(loadConfig({ ALLOW_QUERY: 'any' }).allowQuery).toBe('any');
    expect(loadConfig({}).rrl).toEqual({ responsesPerSecond: 100, window: 15, slip: 2 });
  });
});

describe('ALLOW_QUERY', () => {
  const eth0 = {
    address: '192.0.2.10',
    netmask: '255.255.255.0',
    family: 'IPv4' as const,
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: '192.0.2.10/24',
  };
  const eth0v6 = {
    address: '2001:db8:1:64::1',
    netmask: 'ffff:ffff:ffff:ffff::',
    family: 'IPv6' as const,
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: '2001:db8:1:64::1/64',
    scopeid: 0,
  };

  it('localnets is loopback plus each interface address with its netmask, as networks', () => {
    const set = localnets(() => ({ eth0: [eth0, eth0v6] }));
    expect(set.ranges.map((r) => r.text)).toEqual([
      '127.0.0.0/8',
      '::1/128',
      '192.0.2.0/24',
      '2001:db8:1:64::/64',
    ]);
  });

  it('localnets answers loopback and the local networks, and sees addresses that arrive later', () => {
    let interfaces: Record<string, (typeof eth0)[]> = {};
    let now = 0;
    const acl = new ServerAcl(
      'localnets',
      () => interfaces,
      () => now,
    );
    expect(acl.allows(addr('127.0.0.2'))).toBe(true);
    expect(acl.allows(addr('::1'))).toBe(true);
    expect(acl.allows(addr('::ffff:127.0.0.1'))).toBe(true);
    expect(acl.allows(addr('192.0.2.77'))).toBe(false);
    interfaces = { eth0: [eth0] }; // DHCP gave an address after start
    now = 4999;
    expect(acl.allows(addr('192.0.2.77'))).toBe(false); // looked at most every 5 s
    now = 5000;
    expect(acl.allows(addr('192.0.2.77'))).toBe(true);
    expect(acl.allows(addr('198.51.100.1'))).toBe(false);
    expect(acl.allows(null)).toBe(false);
  });

  it('any answers everyone; a list answers exactly its ranges', () => {
    expect(new ServerAcl('any').allows(addr('203.0.113.9'))).toBe(true);
    expect(new ServerAcl('any').allows(null)).toBe(true);
    const list = loadConfig({ ALLOW_QUERY: '!198.51.100.7,198.51.100.0/24' }).allowQuery;
    const acl = new ServerAcl(list);
    expect(acl.allows(addr('198.51.100.8'))).toBe(true);
    expect(acl.allows(addr('198.51.100.7'))).toBe(false);
    expect(acl.allows(addr('127.0.0.1'))).toBe(false); // a list replaces localnets
  });
});

describe('UDP response rate limiting', () => {
  it('counts per /24 and /56: 5 a second, a window of 2 s, every 2nd limited response slips', () => {
    let now = 0;
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, window: 2, slip: 2 }, () => now);
    const flood = addr('198.51.100.1');
    const sameNet = addr('198.51.100.200');
    const first = Array.from({ length: 10 }, (_, i) => rrl.decide(i % 2 ? flood : sameNet));
    expect(first).toEqual([
      ...Array<string>(5).fill('send'),
      'drop',
      'slip',
      'drop',
      'slip',
      'drop',
    ]);
    // Another network, and IPv6 /56s, have their own credit.
    expect(rrl.decide(addr('198.51.101.1'))).toBe('send');
    for (let i = 0; i < 5; i++) expect(rrl.decide(addr(`2001:db8:0:ff::${i + 1}`))).toBe('send');
    expect(rrl.decide(addr('2001:db8:0:1::1'))).toBe('drop'); // same /56 (2001:db8:0:0)
    expect(rrl.decide(addr('2001:db8:0:100::1'))).toBe('send'); // the next /56
    expect(rrl.counts).toEqual({ limited: 6, dropped: 4, slipped: 2 });
    // The debt is capped at window x rate (10); 20 more queries leave it at -10: after 1 s
    // (+5) still limited, after 2 s more (+10) answered again.
    for (let i = 0; i < 20; i++) rrl.decide(flood);
    now = 1000;
    expect(rrl.decide(flood)).not.toBe('send');
    now = 3200;
    expect(rrl.decide(flood)).toBe('send');
  });

  it('exempts loopback, which cannot be spoofed from outside', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 1, window: 1, slip: 2 }, () => 0);
    for (const c of ['127.0.0.1', '127.9.9.9', '::1']) {
      expect(Array.from({ length: 50 }, () => rrl.decide(addr(c)))).toEqual(
        Array<string>(50).fill('send'),
      );
    }
    expect([rrl.decide(addr('::2')), rrl.decide(addr('::2'))]).toEqual(['send', 'drop']);
  });

  it('slip 0 drops every limited response; rate 0 is off', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 1, window: 1, slip: 0 }, () => 0);
    const c = addr('203.0.113.5');
    expect([rrl.decide(c), rrl.decide(c), rrl.decide(c)]).toEqual(['send', 'drop', 'drop']);
    const off = new ResponseRateLimiter({ responsesPerSecond: 0, window: 1, slip: 2 });
    expect(off.enabled).toBe(false);
    expect(Array.from({ length: 1000 }, () => off.decide(c)).every((a) => a === 'send')).toBe(true);
  });

  it('a slipped response is the question with TC=1 and no records (OPT kept for EDNS)', () => {
    const q = dnsPacket.encode({
      type: 'query',
      id: 777,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'AAAA', name: 'example.net' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.OptAnswer],
    });
    const r = dnsPacket.decode(Buffer.from(slipResponse(q)!));
    expect(r.id).toBe(777);
    expect(r.flag_tc).toBe(true);
    expect(r.flag_qr).toBe(true);
    expect(r.flags! & 0xf).toBe(0); // NOERROR
    expect(r.questions).toEqual([{ type: 'AAAA', name: 'example.net', class: 'IN' }]);
    expect(r.answers).toEqual([]);
    expect(r.authorities).toEqual([]);
    expect(r.additionals?.map((a) => a.type)).toEqual(['OPT']);
    expect(slipResponse(Uint8Array.from([1, 2, 3]))).toBeNull();
  });
});

describe('serve --help, --version, --check open no socket', () => {
  const serve = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/serve.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
      encoding: 'utf8',
      timeout: 20000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('--version prints the package version; --help the usage; a wrong option exits 2', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(serve(['--version'])).toEqual({
      code: 0,
      stdout: `dns64-edge ${pkg.version}\n`,
      stderr: '',
    });
    const help = serve(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run serve \[-- --check \| --help \| --version\]\n/);
    expect(help.stdout).toContain('ALLOW_QUERY, RRL_RESPONSES_PER_SECOND, RRL_WINDOW, RRL_SLIP');
    const wrong = serve(['--listen']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^Unknown option '--listen'/);
  });

  it('--check on ports another process holds: a summary and exit 0, or every problem and exit 1', async () => {
    // Our own listeners hold PORT (TCP) and DNS_PORT (UDP): a server that tried to listen
    // would fail; --check must not try.
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    try {
      const tenants = join(dir, 'tenants.json');
      writeFileSync(tenants, JSON.stringify({ lan: { prefixes: ['2001:db8:64::/96'] } }));
      const env = {
        HOST: '127.0.0.1',
        PORT: String((tcp.address() as AddressInfo).port),
        DNS_PORT: String(udp.address().port),
        TENANTS_FILE: tenants,
        DNS_TENANT: 'lan',
        UPSTREAMS: 'gopher://x',
        ALLOW_QUERY: '192.0.2.0/24',
      };
      const good = serve(['--check'], { ...env, UPSTREAMS: 'https://dns.example/dns-query' });
      expect(good.stderr).toBe('');
      expect(good.code).toBe(0);
      expect(good.stdout.split('\n')).toEqual([
        `DoH: http://127.0.0.1:${env.PORT}/dns-query`,
        `DNS: udp+tcp 127.0.0.1:${env.DNS_PORT}`,
        'DoT: off (no TLS_CERT/TLS_KEY)',
        'UPSTREAMS: https://dns.example/dns-query',
        'DNS64_PREFIX: 64:ff9b::/96',
        'UPSTREAM_TIMEOUT_MS: 2000',
        `TENANTS_FILE: ${tenants}: 1 tenant(s) (lan)`,
        'DNS_TENANT: lan',
        'ALLOW_QUERY: 192.0.2.0/24',
        'RRL: 100 responses/s per /24 or /56, window 15 s, slip 2',
        'ADMIN_TOKEN: unset (admin API off)',
        'TRUST_PROXY: false',
        'WORKERS: 1',
        'configuration OK',
        '',
      ]);
      const bad = serve(['--check'], { ...env, DNS64_PREFIX: '2001:db8::/33', WORKERS: 'x' });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe('');
      expect(bad.stderr.split('\n')).toEqual([
        expect.stringMatching(/^UPSTREAMS: gopher:\/\/x /),
        expect.stringMatching(/^DNS64_PREFIX: /),
        'WORKERS: x is not a whole number from 1 to 64 or auto',
        'configuration has errors',
        '',
      ]);
      // And without --check the same bad settings stop the server the same way, exit 1.
      const run = serve([], { ...env, DNS64_PREFIX: '2001:db8::/33', WORKERS: 'x' });
      expect(run.code).toBe(1);
      expect(run.stderr.split('\n').slice(0, 3)).toEqual(bad.stderr.split('\n').slice(0, 3));
    } finally {
      tcp.close();
      udp.close();
    }
  });
});
