import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTaygaConf } from '../../src/config/index.js';
import { main, USAGE } from '../../src/cli.js';
import {
  PacketLoop,
  interfaceCommands,
  mapRouteChanges,
  renderJson,
  renderPrometheus,
  snakeCase,
  type PacketTranslator,
} from '../../src/daemon/index.js';
import type { TunDevice } from '../../src/tun/index.js';
import { WriteBatch } from '../../src/tun/index.js';

const conf = (...extra: string[]) =>
  parseTaygaConf(
    ['tun-device nat64', 'ipv4-addr 198.51.100.1', 'prefix 2001:db8:64::/96', ...extra].join('\n'),
    '/t.conf',
  );

describe('interface setup commands', () => {
  it('link up with the MTU, routes for prefix, ipv4-addr, pool and maps', () => {
    const c = conf(
      'dynamic-pool 198.18.0.0/24',
      'map 203.0.113.5 2001:db8:2::5',
      'map 198.18.0.9 2001:db8:2::9', // inside the pool: covered by the pool route
      'ipv6-addr 2001:db8:1::1',
      'tun-mtu 1480',
    );
    expect(interfaceCommands(c)).toEqual([
      ['link', 'set', 'dev', 'nat64', 'mtu', '1480', 'up'],
      ['-6', 'route', 'replace', '2001:db8:64::/96', 'dev', 'nat64'],
      ['-6', 'route', 'replace', '2001:db8:1::1/128', 'dev', 'nat64'],
      ['-4', 'route', 'replace', '198.51.100.1/32', 'dev', 'nat64'],
      ['-4', 'route', 'replace', '198.18.0.0/24', 'dev', 'nat64'],
      ['-4', 'route', 'replace', '203.0.113.5/32', 'dev', 'nat64'],
    ]);
  });

  it("Tayga's tun-ip and tun-route lines are applied as given", () => {
    const c = conf(
      'tun-ip 192.0.0.1/29',
      'tun-ip 2001:db8:2::1',
      'tun-route 203.0.113.0/24',
      'tun-route 2001:db8:46::/96',
    );
    expect(interfaceCommands(c).slice(-4)).toEqual([
      ['addr', 'replace', '192.0.0.1/29', 'dev', 'nat64'],
      ['addr', 'replace', '2001:db8:2::1/128', 'dev', 'nat64'],
      ['-4', 'route', 'replace', '203.0.113.0/24', 'dev', 'nat64'],
      ['-6', 'route', 'replace', '2001:db8:46::/96', 'dev', 'nat64'],
    ]);
  });

  it('no ipv6-addr route when it is derived inside the prefix', () => {
    expect(interfaceCommands(conf()).filter((c) => c[0] === '-6')).toHaveLength(1);
  });

  it('SIGHUP route changes: removed maps deleted, new ones added', () => {
    const before = conf('map 203.0.113.5 2001:db8:2::5', 'map 203.0.113.6 2001:db8:2::6');
    const after = conf('map 203.0.113.6 2001:db8:2::6', 'map 203.0.113.16/29 2001:db8:3::/125');
    expect(mapRouteChanges('nat64', before.maps, after.maps, before)).toEqual([
      ['-4', 'route', 'del', '203.0.113.5/32', 'dev', 'nat64'],
      ['-4', 'route', 'replace', '203.0.113.16/29', 'dev', 'nat64'],
    ]);
  });
});

describe('metrics', () => {
  it('snake_case names', () => {
    expect(snakeCase('translated4to6')).toBe('translated4to6');
    expect(snakeCase('icmp4ErrorsSent')).toBe('icmp4_errors_sent');
    expect(snakeCase('dropUdpZeroChecksum')).toBe('drop_udp_zero_checksum');
  });

  it('Prometheus text format and JSON', () => {
    const m = [
      { name: 'nat64d_a_total', help: 'A.', type: 'counter' as const, value: 3 },
      { name: 'nat64d_b', help: 'B.', type: 'gauge' as const, value: 1, labels: { dev: 'x"y' } },
    ];
    expect(renderPrometheus(m)).toBe(
      '# HELP nat64d_a_total A.\n# TYPE nat64d_a_total counter\nnat64d_a_total 3\n' +
        '# HELP nat64d_b B.\n# TYPE nat64d_b gauge\nnat64d_b{dev="x\\"y"} 1\n',
    );
    expect(renderJson(m)).toEqual({ nat64d_a_total: 3, 'nat64d_b{dev="x"y"}': 1 });
  });
});

describe('packet loop', () => {
  it('translates each packet of a batch and writes all emitted packets in one batch', () => {
    const writes: Array<{ count: number; packets: number[][] }> = [];
    const tun = {
      writeBatch(buf: Uint8Array, meta: Uint32Array, count: number) {
        const packets: number[][] = [];
        for (let i = 0; i < count; i++) {
          const off = meta[i * 2] ?? 0;
          packets.push([...buf.subarray(off, off + (meta[i * 2 + 1] ?? 0))]);
        }
        writes.push({ count, packets });
        return count;
      },
    } as unknown as TunDevice;
    const translator: PacketTranslator = {
      translate(packet, emit) {
        if (packet[0] === 0xee) throw new Error('bug');
        // emit twice, reusing one buffer like the core does
        const out = new Uint8Array([packet[0] ?? 0, 1]);
        emit(out);
        out[1] = 2;
        emit(out);
      },
    };
    const loop = new PacketLoop(tun, translator, 16);
    const buf = new Uint8Array(16 * 3);
    buf[0] = 0x45;
    buf[16] = 0xee;
    buf[32] = 0x60;
    loop.onBatch(buf, Uint32Array.from([20, 20, 40]), 3, 16);
    expect(writes).toEqual([
      {
        count: 4,
        packets: [
          [0x45, 1],
          [0x45, 2],
          [0x60, 1],
          [0x60, 2],
        ],
      },
    ]);
    expect(loop.counters).toEqual({
      batches: 1,
      packetsIn: 3,
      packetsOut: 4,
      errors: 1,
      gsoIn: 0,
    });
  });

  it('tags what a GSO super-packet emits with its gso entry, and nothing else', () => {
    const writes: Array<{ lengths: number[]; gso: number[] }> = [];
    const tun = {
      startReading: () => undefined,
      stopReading: () => undefined,
      writeBatch: (_buf: Uint8Array, meta: Uint32Array, count: number, gso?: Uint32Array) => {
        const lengths: number[] = [];
        for (let i = 0; i < count; i++) lengths.push(meta[i * 2 + 1] ?? 0);
        writes.push({ lengths, gso: [...(gso ?? []).subarray(0, count)] });
        return count;
      },
    } as unknown as TunDevice;
    // Emits each packet once, shortened by 20 bytes (like IPv6 -> IPv4).
    const translator: PacketTranslator = {
      translate(packet, emit) {
        emit(packet.subarray(0, packet.length - 20));
      },
    };
    const slot = 2000;
    const loop = new PacketLoop(tun, translator, slot);
    const buf = new Uint8Array(slot * 3);
    loop.onBatch(buf, Uint32Array.from([100, 1500, 60]), 3, slot, Uint32Array.from([0, 1440, 0]));
    loop.onBatch(buf, Uint32Array.from([80]), 1, slot, Uint32Array.from([0]));
    expect(writes).toEqual([
      { lengths: [80, 1480, 40], gso: [0, 1440, 0] },
      { lengths: [60], gso: [0] },
    ]);
    expect(loop.counters.gsoIn).toBe(1);
  });

  it('tells the translator which packet is a GSO super-packet (its checksum is partial), and only that one', () => {
    const tun = {
      writeBatch: (_b: Uint8Array, _m: Uint32Array, count: number) => count,
    } as unknown as TunDevice;
    const seen: number[] = [];
    const translator: PacketTranslator = {
      gso: 0,
      translate() {
        seen.push(this.gso ?? -1);
      },
    };
    const slot = 2000;
    const loop = new PacketLoop(tun, translator, slot);
    const buf = new Uint8Array(slot * 3);
    const ecn = 0x10000;
    loop.onBatch(
      buf,
      Uint32Array.from([100, 1500, 60]),
      3,
      slot,
      Uint32Array.from([0, 1440 | ecn, 0]),
    );
    expect(seen).toEqual([0, 1440 | ecn, 0]);
    loop.onBatch(buf, Uint32Array.from([1500]), 1, slot, Uint32Array.from([1200]));
    expect(seen).toEqual([0, 1440 | ecn, 0, 1200]);
    expect(translator.gso).toBe(0); // reset after the batch
  });

  it('UDP GSO: a run translated whole is written with its gso entry; one segmented in software, as plain packets', () => {
    const writes: number[][] = [];
    const tun = {
      writeBatch: (_b: Uint8Array, _m: Uint32Array, count: number, gso?: Uint32Array) => {
        writes.push(Array.from(gso!.subarray(0, count)));
        return count;
      },
    } as unknown as TunDevice;
    const UDP = 0x20000;
    const seen: string[] = [];
    const translator: PacketTranslator = {
      gso: 0,
      udpGsoWhole: (p) => p.length === 300,
      translate(p, emit) {
        seen.push(`whole ${p.length} gso ${this.gso ?? -1}`);
        emit(p.subarray(0, 10));
      },
      translateUdpSegments(p, g, emit) {
        seen.push(`segments ${p.length} gso ${this.gso ?? -1} entry ${g}`);
        emit(p.subarray(0, 5));
        emit(p.subarray(0, 5));
      },
    };
    const slot = 2000;
    const loop = new PacketLoop(tun, translator, slot);
    loop.onBatch(
      new Uint8Array(slot * 2),
      Uint32Array.from([300, 200]),
      2,
      slot,
      Uint32Array.from([64 | UDP, 64 | UDP]),
    );
    expect(seen).toEqual([`whole 300 gso ${64 | UDP}`, `segments 200 gso 0 entry ${64 | UDP}`]);
    expect(writes).toEqual([[64 | UDP, 0, 0]]);
    expect(translator.gso).toBe(0);
  });

  it('WriteBatch flushes when full and drops oversize packets', () => {
    const flushed: number[] = [];
    const w = new WriteBatch((_b, _m, count) => flushed.push(count), 10, 4);
    for (let i = 0; i < 6; i++) w.push(new Uint8Array(3));
    w.push(new Uint8Array(11));
    w.flush();
    expect(flushed).toEqual([3, 3]);
    expect(w.oversize).toBe(1);
  });
});

describe('command line', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
  };

  it('--help', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).toBe(0);
    expect(t.out.join('')).toBe(USAGE);
  });

  it('bad option and bad argument exit 2', async () => {
    const t = io();
    expect(await main(['--bogus'], t.io)).toBe(2);
    expect(await main(['start'], t.io)).toBe(2);
    expect(t.err.join('')).toContain('unexpected argument "start"');
  });

  it('config errors exit 1 with file:line: reason', async () => {
    const t = io();
    expect(await main(['-c', '/nonexistent/tayga.conf', '--check'], t.io)).toBe(1);
    expect(t.err.join('')).toBe('/nonexistent/tayga.conf: cannot read: ENOENT\n');
  });

  it('--check accepts a Tayga 0.9.4 file and names the keys it only accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nat64d-cli-'));
    try {
      const file = join(dir, 'tayga.conf');
      writeFileSync(
        file,
        'tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\nlog drop reject icmp self\n',
      );
      const t = io();
      expect(await main(['-c', file, '--check'], t.io)).toBe(0);
      expect(t.out.join('')).toBe(
        `warning: ${file}:4: log drop reject icmp self: nat64d does not log packets; ` +
          '`nat64d stats` and /metrics count every drop, ICMP error and local packet by reason\n' +
          `${file}: OK (tun-device nat64, 0 map line(s))\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stats reports an unreachable daemon', async () => {
    const t = io();
    expect(await main(['stats', '--metrics', '127.0.0.1:1'], t.io)).toBe(1);
    expect(t.err.join('')).toBe(
      'nat64d stats: no nat64d answers at 127.0.0.1:1 (connection refused); 127.0.0.1:1 is ' +
        'given by --metrics. Is nat64d running? Name its endpoint with -c FILE or --metrics ADDR\n',
    );
  });
});
