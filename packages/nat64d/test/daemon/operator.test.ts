/**
 * Telling the operator, and no surprises (issue 14): the command line's one-shot answers,
 * the stats summary, the -d drop log, the Tayga refusal and saved mappings kept aside.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { parseTaygaConf } from '../../src/config/index.js';
import { createCounters } from '../../src/core/counters.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { DropLog } from '../../src/daemon/drop-log.js';
import { renderPrometheus } from '../../src/daemon/metrics.js';
import { runningTaygas, taygaConfigOf, taygaConflict } from '../../src/daemon/preflight.js';
import { TaygaAddressMapper, parseMappings, saveRejected } from '../../src/mapping/index.js';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nat64d-op-'));
}

describe('one-shot commands', () => {
  it('--version and -V', async () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const t = io();
      expect(await main([flag], t.io)).toBe(0);
      expect(t.out.join('')).toBe(`nat64d ${pkg.version}\n`);
    }
  });

  it('--check validates --metrics too', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(file, 'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\n');
      let t = io();
      expect(await main(['-c', file, '--check', '--metrics', 'bad'], t.io)).toBe(1);
      expect(t.err.join('')).toBe(
        'nat64d: --metrics bad: expected host:port, [ipv6]:port or off\n',
      );
      expect(t.out).toEqual([]);
      // The daemon itself, and stats, refuse it before anything starts.
      for (const args of [['-c', file], ['stats']]) {
        t = io();
        expect(await main([...args, '--metrics', 'localhost:9164'], t.io)).toBe(1);
        expect(t.err.join('')).toBe(
          'nat64d: --metrics localhost:9164: expected host:port, [ipv6]:port or off\n',
        );
      }
      t = io();
      expect(await main(['-c', file, '--check', '--metrics', '999.1.1.1:80'], t.io)).toBe(1);
      expect(t.err.join('')).toBe('nat64d: --metrics 999.1.1.1:80: bad address\n');
      t = io();
      expect(await main(['-c', file, '--check', '--metrics', '[::1]:9164'], t.io)).toBe(0);
      expect(t.out.join('')).toBe(`${file}: OK (tun-device nat64, 0 map line(s))\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--check names what the Well-Known Prefix drops', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8::1\nprefix 64:ff9b::/96\n',
      );
      const t = io();
      expect(await main(['-c', file, '--check'], t.io)).toBe(0);
      expect(t.out.join('')).toBe(
        'note: prefix 64:ff9b::/96 is the Well-Known Prefix: packets to or from non-global IPv4 ' +
          'addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 and every other ' +
          'range the IANA special-purpose registry does not mark globally reachable) will be ' +
          'dropped (RFC 6052 section 3.1), and IPv6 senders get ICMPv6 Destination Unreachable ' +
          '(administratively prohibited). To reach such addresses, use a network-specific prefix ' +
          'of your own instead of 64:ff9b::/96\n' +
          `${file}: OK (tun-device nat64, 0 map line(s))\n`,
      );
      // wkpf-strict no: nothing is dropped, no note.
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8::1\nprefix 64:ff9b::/96\nwkpf-strict no\n',
      );
      const u = io();
      expect(await main(['-c', file, '--check'], u.io)).toBe(0);
      expect(u.out.join('')).toBe(`${file}: OK (tun-device nat64, 0 map line(s))\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('did you mean: the nearest known option', async () => {
    for (const [wrong, right] of [
      ['--metric', '--metrics'],
      ['--verison', '--version'],
      ['--chek', '--check'],
    ]) {
      const t = io();
      expect(await main([wrong!], t.io)).toBe(2);
      expect(t.err.join('').split('\n')[0]).toBe(
        `nat64d: unknown option ${wrong} (did you mean ${right}?)`,
      );
    }
    const t = io();
    expect(await main(['--colour'], t.io)).toBe(2);
    expect(t.err.join('').split('\n')[0]).toBe('nat64d: unknown option --colour');
  });

  it('did you mean: the nearest known key', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\ndynamic-pol 198.18.0.0/24\ndata_dir /var/lib/nat64d\n',
      );
      const t = io();
      expect(await main(['-c', file, '--check'], t.io)).toBe(1);
      expect(t.err.join('')).toBe(
        `${file}:4: unknown key "dynamic-pol" (did you mean "dynamic-pool"?)\n` +
          `${file}:5: unknown key "data_dir" (did you mean "data-dir"?)\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a running Tayga is not taken over (no -c)', () => {
  it('reads the config file from a Tayga command line', () => {
    expect(taygaConfigOf(['tayga', '--nodetach'])).toBe('/etc/tayga.conf');
    expect(taygaConfigOf(['/usr/sbin/tayga', '-c', '/etc/tayga-b.conf'])).toBe('/etc/tayga-b.conf');
    expect(taygaConfigOf(['tayga', '--config', '/srv/t.conf', '-d'])).toBe('/srv/t.conf');
    expect(taygaConfigOf(['tayga', '--config=/srv/t.conf'])).toBe('/srv/t.conf');
  });

  it('finds a process named tayga in /proc and refuses to start, naming it', async () => {
    // A stand-in whose argv[0] is "tayga", with Tayga's default configuration.
    const child = spawn('bash', ['-c', 'exec -a tayga sleep 60'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      let found: ReturnType<typeof runningTaygas> = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        found = runningTaygas().filter((p) => p.pid === pid);
        if (found.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(found).toEqual([{ pid, argv: ['tayga', '60'] }]);
      const t = io();
      expect(await main([], t.io, { taygas: () => found })).toBe(1);
      expect(t.err.join('')).toBe(
        `nat64d: a running Tayga (pid ${pid}: tayga 60) uses /etc/tayga.conf and its data-dir; ` +
          'nat64d will not take them over. Stop Tayga first, or give nat64d its own file with -c FILE\n',
      );
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a Tayga on another file is no conflict, unless it shares the data-dir', () => {
    const files: Record<string, string> = {
      '/etc/tayga.conf': 'tun-device nat64\ndata-dir /var/lib/tayga/\n',
      '/etc/other.conf': 'tun-device nat64b\ndata-dir /var/lib/other\n',
      '/etc/same.conf': 'tun-device nat64c\n# data-dir /x\nDATA-DIR /var/lib/tayga\n',
    };
    const read = (f: string) => files[f] ?? null;
    const other = { pid: 7, argv: ['tayga', '-c', '/etc/other.conf'] };
    expect(taygaConflict('/etc/tayga.conf', [other], read)).toBeNull();
    const same = { pid: 8, argv: ['tayga', '--config=/etc/same.conf'] };
    expect(taygaConflict('/etc/tayga.conf', [other, same], read)).toBe(
      'a running Tayga (pid 8: tayga --config=/etc/same.conf) uses the data-dir /var/lib/tayga of ' +
        '/etc/tayga.conf (through /etc/same.conf); nat64d will not take it over. Stop Tayga ' +
        'first, or give nat64d its own file with -c FILE',
    );
  });

  it('stats with the endpoint turned off says so', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\nmetrics off\n',
      );
      const t = io();
      expect(await main(['stats', '-c', file], t.io)).toBe(1);
      expect(t.err.join('')).toBe(
        `nat64d stats: the metrics endpoint is off (the metrics key of ${file}); nothing to ask\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nat64d stats', () => {
  let server: Server;
  let listen = '';
  let body: Record<string, number> = {};
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    listen = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('a summary of the non-zero counters with rates since the previous call; --all; --json', async () => {
    const dir = tempDir();
    const start = Date.UTC(2026, 0, 20, 10, 0, 0) / 1000;
    let now = (start + 3 * 3600 + 25 * 60 + 7) * 1000;
    try {
      body = {
        nat64d_translated4to6_total: 12000,
        nat64d_translated6to4_total: 13000,
        nat64d_drop_no_mapping_total: 0,
        'nat64d_stateful_sessions{proto="tcp"}': 5,
        'nat64d_stateful_drops_total{proto="udp",reason="no_bib"}': 0,
        nat64d_start_time_seconds: start,
      };
      const run = async (...args: string[]) => {
        const t = io();
        expect(
          await main(['stats', '--metrics', listen, ...args], t.io, {
            statsDir: dir,
            now: () => now,
          }),
        ).toBe(0);
        return t.out.join('');
      };
      // First call: rates over the uptime (12307 s).
      expect(await run()).toBe(
        `nat64d at ${listen}: up 3h 25m 7s (started 2026-01-20T10:00:00Z)\n` +
          '                                       value  per s\n' +
          'nat64d_translated4to6_total            12000    1.0\n' +
          'nat64d_translated6to4_total            13000    1.1\n' +
          'nat64d_stateful_sessions{proto="tcp"}      5\n' +
          "per s: over the daemon's uptime (no previous nat64d stats of this run)\n" +
          '2 at zero not shown (--all shows every one, --json for scripts)\n',
      );
      // 10 s later: rates since the previous call.
      now += 10_000;
      body = { ...body, nat64d_translated4to6_total: 12500, nat64d_drop_no_mapping_total: 3 };
      expect(await run('--all')).toBe(
        `nat64d at ${listen}: up 3h 25m 17s (started 2026-01-20T10:00:00Z)\n` +
          '                                                          value  per s\n' +
          'nat64d_translated4to6_total                               12500   50.0\n' +
          'nat64d_translated6to4_total                               13000    0.0\n' +
          'nat64d_drop_no_mapping_total                                  3    0.3\n' +
          'nat64d_stateful_sessions{proto="tcp"}                         5\n' +
          'nat64d_stateful_drops_total{proto="udp",reason="no_bib"}      0    0.0\n' +
          'per s: over the 10s since the previous nat64d stats\n',
      );
      // --json: every metric as it is, for scripts.
      expect(JSON.parse(await run('--json'))).toEqual(body);
      // A restarted daemon (another start time): rates over its uptime again.
      now += 5_000;
      body = { nat64d_translated6to4_total: 40, nat64d_start_time_seconds: now / 1000 - 20 };
      expect(await run()).toBe(
        `nat64d at ${listen}: up 20s (started ${new Date(now - 20_000).toISOString().replace(/\.\d+Z$/, 'Z')})\n` +
          '                             value  per s\n' +
          'nat64d_translated6to4_total     40    2.0\n' +
          "per s: over the daemon's uptime (no previous nat64d stats of this run)\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no daemon at the address: says so, and which address it tried', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\nmetrics 127.0.0.1:1\n',
      );
      const t = io();
      expect(await main(['stats', '-c', file], t.io, { statsDir: dir })).toBe(1);
      expect(t.err.join('')).toBe(
        `nat64d stats: no nat64d answers at 127.0.0.1:1 (connection refused); 127.0.0.1:1 is ` +
          `the metrics key of ${file}. Is nat64d running? Name its endpoint with -c FILE or --metrics ADDR\n`,
      );
      expect(t.out).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('-d drop log', () => {
  it('the first drop of a reason at once, then one line per reason per 10 s with the count', () => {
    const counters = createCounters();
    const lines: string[] = [];
    let now = 0;
    const log = new DropLog(
      counters,
      (l) => lines.push(l),
      10_000,
      () => now,
    );
    log.poll();
    expect(lines).toEqual([]);
    counters.dropWkpfNonGlobal = 1;
    counters.translated6to4 = 50; // not a drop
    now = 1000;
    log.poll();
    counters.dropWkpfNonGlobal = 40;
    counters.dropHopLimit = 2;
    for (now = 2000; now <= 11_000; now += 1000) log.poll();
    counters.dropWkpfNonGlobal = 41;
    now = 12_000;
    log.poll();
    expect(lines).toEqual([
      'drop_wkpf_non_global: 1 packet dropped (first of this reason): a non-global IPv4 address ' +
        'under the Well-Known Prefix 64:ff9b::/96 (wkpf-strict, RFC 6052 3.1); an IPv6 sender ' +
        'gets Destination Unreachable, administratively prohibited',
      'drop_hop_limit: 2 packets dropped (first of this reason): TTL or Hop Limit expired',
      'drop_wkpf_non_global: 39 packets dropped in the last 10 s',
    ]);
  });
});

describe('saved mappings that no longer fit are kept aside', () => {
  it('with the reason, in data-dir/dynamic.map.rejected-<time>', () => {
    const dir = tempDir();
    try {
      const config = parseTaygaConf(
        [
          'tun-device nat64',
          'ipv4-addr 192.0.2.1',
          'prefix 2001:db8:64::/96',
          'dynamic-pool 198.18.0.0/24',
          'map 198.18.0.7 2001:db8:2::7',
          `data-dir ${dir}`,
        ].join('\n'),
        '/t.conf',
      );
      const saved = parseMappings(
        [
          '198.18.0.5 2001:db8:1::5 1700000000',
          '198.19.0.5 2001:db8:1::6 1700000001', // outside the pool now
          '198.18.0.7 2001:db8:1::7 1700000002', // now a map line
          '198.18.0.8 2001:db8:1::5 1700000003', // the host saved twice
          'not a mapping',
        ].join('\n'),
      );
      const mapper = new TaygaAddressMapper(config);
      const rejected = mapper.restoreAll(saved.mappings);
      expect(mapper.dynamic!.size).toBe(1);
      const path = saveRejected(
        dir,
        rejected,
        saved.invalid ?? [],
        new Date(Date.UTC(2026, 0, 20, 10, 15, 2, 113)),
      );
      expect(path).toBe(join(dir, 'dynamic.map.rejected-20260120T101502Z'));
      expect(readdirSync(dir)).toEqual(['dynamic.map.rejected-20260120T101502Z']);
      expect(readFileSync(path, 'utf8')).toBe(
        '# nat64d: saved dynamic-pool mappings that no longer fit the configuration, 2026-01-20T10:15:02.113Z\n' +
          '# ipv4 ipv6 last-use-unix-seconds  # why\n' +
          '198.19.0.5 2001:db8:1::6 1700000001  # outside the dynamic-pool\n' +
          '198.18.0.7 2001:db8:1::7 1700000002  # the IPv4 address is in a map line\n' +
          '198.18.0.8 2001:db8:1::5 1700000003  # the IPv6 host is saved twice\n' +
          '# unreadable: not a mapping\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metric help texts', () => {
  it('say what each metric counts', () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\ndynamic-pool 198.18.0.0/24\n',
      );
      const log = { info: () => undefined, error: () => undefined, debug: () => undefined };
      const text = renderPrometheus(new Daemon({ configFile: file, log }).metrics());
      const help = text.split('\n').filter((l) => l.startsWith('# HELP '));
      expect(help).toContain(
        '# HELP nat64d_unmapped_ipv4_total Packets to a dynamic-pool address that no IPv6 host is mapped to (dropped).',
      );
      expect(help).toContain(
        '# HELP nat64d_icmp_rfc6791_source_total ICMPv6 errors from IPv6 routers without an IPv4 address, translated with ipv4-addr as source (RFC 6791).',
      );
      // Stateful mode adds its own metrics.
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\npool4 198.51.100.8 61000-65535\n',
      );
      const stateful = renderPrometheus(new Daemon({ configFile: file, log }).metrics())
        .split('\n')
        .filter((l) => l.startsWith('# HELP '));
      expect(stateful).toContain(
        '# HELP nat64d_stateful_sessions Sessions (one per binding and remote IPv4 transport address).',
      );
      // One sentence each, and no two metrics share one.
      for (const list of [help, stateful]) {
        for (const h of list) expect(h).toMatch(/^# HELP nat64d_\w+ [A-Z].{10,}\.$/);
        const sentences = list.map((h) => h.replace(/^# HELP \S+ /, ''));
        expect(new Set(sentences).size).toBe(sentences.length);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
