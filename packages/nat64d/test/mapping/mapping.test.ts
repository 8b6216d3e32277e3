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
import { afterEach, describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6, parseIpv6, parseTaygaConf } from '../../src/config/index.js';
import {
  DynamicPool,
  Ipv4Table,
  Ipv6Table,
  TaygaAddressMapper,
  dynamicMapPath,
  loadMappings,
  parseMappings,
  saveMappings,
} from '../../src/mapping/index.js';

const v6 = (text: string): Uint8Array => {
  const r = parseIpv6(text);
  if (!r.ok) throw new Error(text);
  return r.value;
};
const v4 = (text: string): number =>
  text.split('.').reduce((a, o) => (a * 256 + Number(o)) >>> 0, 0);

function config(...extra: string[]) {
  return parseTaygaConf(
    ['tun-device nat64', 'ipv4-addr 192.0.2.1', 'prefix 2001:db8:64::/96', ...extra].join('\n'),
    '/t.conf',
  );
}

/** map4to6 into a fresh buffer at an offset, returning the text or null. */
function to6(m: TaygaAddressMapper, addr: string): string | null {
  const out = new Uint8Array(40);
  return m.map4to6(v4(addr), out, 8) ? formatIpv6(out, 8) : null;
}
/** map6to4 with the address embedded at an offset of a larger packet. */
function to4(m: TaygaAddressMapper, addr: string, isSource = true): string | null {
  const pkt = new Uint8Array(40);
  pkt.set(v6(addr), 24);
  const r = m.map6to4(pkt, 24, isSource);
  return r < 0 ? null : formatIpv4(r);
}

describe('hash tables', () => {
  it('Ipv6Table: set/get/delete with growth and backward-shift deletion', () => {
    const t = new Ipv6Table();
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) {
      const k = new Uint8Array(16);
      k[0] = 0x20;
      k[1] = 0x01;
      k[12] = i >> 24;
      k[13] = (i >> 16) & 0xff;
      k[14] = (i >> 8) & 0xff;
      k[15] = i & 0xff;
      keys.push(k);
      t.set(k, 0, i);
    }
    expect(t.size).toBe(5000);
    keys.forEach((k, i) => expect(t.get(k, 0)).toBe(i));
    for (let i = 0; i < 5000; i += 2) expect(t.delete(keys[i] as Uint8Array, 0)).toBe(true);
    expect(t.size).toBe(2500);
    keys.forEach((k, i) => expect(t.get(k, 0)).toBe(i % 2 ? i : -1));
    expect(t.delete(keys[0] as Uint8Array, 0)).toBe(false);
  });

  it('Ipv4Table: full 32-bit keys', () => {
    const t = new Ipv4Table();
    const keys = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xc0000201];
    keys.forEach((k, i) => t.set(k, i));
    keys.forEach((k, i) => expect(t.get(k)).toBe(i));
    expect(t.get(0xc0000202)).toBe(-1);
  });
});

describe('static map lines', () => {
  it('maps hosts and Tayga network maps both ways', () => {
    const m = new TaygaAddressMapper(
      config('map 198.51.100.10 2001:db8:2::10', 'map 203.0.113.0/24 2001:db8:3::/120'),
    );
    expect(to4(m, '2001:db8:2::10')).toBe('198.51.100.10');
    expect(to6(m, '198.51.100.10')).toBe('2001:db8:2::10');
    expect(to4(m, '2001:db8:3::7f')).toBe('203.0.113.127');
    expect(to6(m, '203.0.113.200')).toBe('2001:db8:3::c8');
    expect(to4(m, '2001:db8:3::1:7f')).toBeNull();
    expect(to6(m, '198.51.100.11')).toBeNull();
    // unmapped4 counts only dynamic-pool addresses (there is no pool here): an IPv4 source
    // from the Internet is looked up here before the prefix embeds it, on every packet.
    expect(m.counters).toEqual({ unmapped6: 1, unmapped4: 0 });
  });

  it('counts unmapped IPv4 only for dynamic-pool addresses without a mapping', () => {
    const m = new TaygaAddressMapper(config('dynamic-pool 198.18.0.0/24'));
    expect(to6(m, '203.0.113.7')).toBeNull(); // an Internet source: the prefix embeds it
    expect(to6(m, '198.19.0.1')).toBeNull(); // next to the pool, not in it
    expect(m.counters.unmapped4).toBe(0);
    expect(to6(m, '198.18.0.77')).toBeNull(); // a pool address nobody holds
    expect(to6(m, '198.18.0.255')).toBeNull();
    expect(m.counters).toEqual({ unmapped6: 0, unmapped4: 2 });
  });

  it('maps ipv4-addr to an explicit ipv6-addr like a static line', () => {
    const m = new TaygaAddressMapper(config('ipv6-addr 2001:db8:1::1'));
    expect(to6(m, '192.0.2.1')).toBe('2001:db8:1::1');
    expect(to4(m, '2001:db8:1::1')).toBe('192.0.2.1');
  });

  it('reloads map lines (SIGHUP)', () => {
    const m = new TaygaAddressMapper(config('map 198.51.100.10 2001:db8:2::10'));
    m.reloadStaticMaps(config('map 198.51.100.11 2001:db8:2::11'));
    expect(to4(m, '2001:db8:2::10', false)).toBeNull();
    expect(to4(m, '2001:db8:2::11')).toBe('198.51.100.11');
  });

  it('does not allocate on the lookup path', () => {
    const m = new TaygaAddressMapper(
      config('map 198.51.100.10 2001:db8:2::10', 'dynamic-pool 198.18.0.0/24'),
    );
    const pkt = new Uint8Array(40);
    pkt.set(v6('2001:db8:2::10'), 8);
    pkt.set(v6('2001:db8:9::1'), 24);
    const out = new Uint8Array(16);
    m.map6to4(pkt, 24, true); // creation may allocate
    const lookups = (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += m.map6to4(pkt, 8, true) + m.map6to4(pkt, 24, true);
        sum += m.map4to6(0xc6120001, out, 0) ? 1 : 0;
      }
      return sum;
    };
    // Warm up first, so the JIT's own code and feedback are not counted, then collect.
    lookups(200_000);
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest.config.ts runs the tests with --expose-gc').toBeTypeOf('function');
    gc!();
    const before = process.memoryUsage().heapUsed;
    const sum = lookups(200_000);
    const transient = process.memoryUsage().heapUsed - before;
    gc!();
    const retained = process.memoryUsage().heapUsed - before;
    expect(sum).toBeGreaterThan(0);
    // 600k lookups keep nothing: no per-address keys, strings or objects are stored.
    expect(retained).toBeLessThan(256 * 1024);
    // What they leave behind is at most one boxed number per lookup (an IPv4 address above
    // 2^31, such as 198.18.0.1, is returned as a heap number when the call is not inlined);
    // a string key or an object per lookup would be several times this.
    expect(transient / 600_000).toBeLessThan(20);
  });
});

describe('dynamic pool', () => {
  it('allocates in order, skipping the reserved lowest address, ipv4-addr and map lines', () => {
    const m = new TaygaAddressMapper(
      config('dynamic-pool 192.0.2.0/29', 'map 192.0.2.3 2001:db8:2::3'),
      { now: 1000 },
    );
    // pool .1-.7, minus .1 (ipv4-addr) and .3 (map): .2 .4 .5 .6 .7
    expect(m.dynamic?.usable).toBe(5);
    const got = ['a', 'b', 'c', 'd', 'e'].map((h) => to4(m, `2001:db8:9::${h}`));
    expect(got).toEqual(['192.0.2.2', '192.0.2.4', '192.0.2.5', '192.0.2.6', '192.0.2.7']);
    expect(to4(m, '2001:db8:9::a')).toBe('192.0.2.2'); // stable
    expect(to6(m, '192.0.2.5')).toBe('2001:db8:9::c');
    expect(m.dynamic?.counters).toEqual({ allocated: 5, reused: 0, exhausted: 0 });
  });

  it('only a source address creates a mapping', () => {
    const m = new TaygaAddressMapper(config('dynamic-pool 198.18.0.0/24'));
    expect(to4(m, '2001:db8:9::1', false)).toBeNull();
    expect(m.dynamic?.size).toBe(0);
    expect(to4(m, '2001:db8:9::1', true)).toBe('198.18.0.1');
    expect(to4(m, '2001:db8:9::1', false)).toBe('198.18.0.1');
  });

  it('when full, reuses the least recently used mapping idle for the lease, else refuses', () => {
    const m = new TaygaAddressMapper(config('dynamic-pool 198.18.0.0/30'), {
      now: 10_000,
      leaseSeconds: 100,
    });
    expect(to4(m, '2001:db8:9::1')).toBe('198.18.0.1');
    m.tick(10_010);
    expect(to4(m, '2001:db8:9::2')).toBe('198.18.0.2');
    m.tick(10_020);
    expect(to4(m, '2001:db8:9::3')).toBe('198.18.0.3');
    // full, nothing idle for 100 s
    m.tick(10_050);
    expect(to4(m, '2001:db8:9::4')).toBeNull();
    expect(m.dynamic?.counters.exhausted).toBe(1);
    // ::1 is refreshed by traffic from the IPv4 side, so ::2 becomes the oldest
    m.tick(10_060);
    expect(to6(m, '198.18.0.1')).toBe('2001:db8:9::1');
    m.tick(10_115);
    expect(to4(m, '2001:db8:9::4')).toBe('198.18.0.2');
    expect(to6(m, '198.18.0.2')).toBe('2001:db8:9::4');
    expect(to4(m, '2001:db8:9::2', false)).toBeNull();
    expect(m.dynamic?.counters).toEqual({ allocated: 3, reused: 1, exhausted: 1 });
  });

  it('keeps idle mappings while addresses are free (a returning host keeps its address)', () => {
    const pool = new DynamicPool({ addr: v4('198.18.0.0'), length: 24 }, () => false, 10);
    const a = v6('2001:db8:9::1');
    expect(pool.allocate(a, 0, 0)).toBe(v4('198.18.0.1'));
    expect(pool.allocate(v6('2001:db8:9::2'), 0, 1_000_000)).toBe(v4('198.18.0.2'));
    expect(pool.lookup6(a, 0, 1_000_000)).toBe(v4('198.18.0.1'));
  });

  it('scales to a /16 pool', () => {
    const m = new TaygaAddressMapper(config('dynamic-pool 198.18.0.0/16'));
    const pkt = new Uint8Array(16);
    pkt.set(v6('2001:db8:9::'));
    let last = 0;
    for (let i = 0; i < 65535; i++) {
      pkt[13] = i >> 16;
      pkt[14] = (i >> 8) & 0xff;
      pkt[15] = i & 0xff;
      last = m.map6to4(pkt, 0, true);
      if (last < 0) break;
    }
    // every address but the reserved lowest one, 198.18.255.255 included (as Tayga)
    expect(formatIpv4(last)).toBe('198.18.255.255');
    expect(m.dynamic?.size).toBe(65535);
    pkt[13] = 1;
    expect(m.map6to4(pkt, 0, true)).toBe(-1);
  });
});

describe('persistence of the dynamic table', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'nat64d-map-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('round-trips every mapping through data-dir', () => {
    const dir = tempDir();
    const c = config('dynamic-pool 198.18.0.0/24', `data-dir ${dir}`);
    const a = new TaygaAddressMapper(c, { now: 1_700_000_000 });
    for (let i = 1; i <= 20; i++) to4(a, `2001:db8:9::${i.toString(16)}`);
    saveMappings(dir, a.dynamic?.mappings() ?? []);
    const text = readFileSync(dynamicMapPath(dir), 'utf8');
    expect(text.split('\n')[1]).toBe('198.18.0.1 2001:db8:9::1 1700000000');

    const b = new TaygaAddressMapper(c, { now: 1_700_000_500 });
    const loaded = loadMappings(dir);
    expect(loaded.invalidLines).toBe(0);
    expect(b.restore(loaded.mappings)).toBe(0);
    for (let i = 1; i <= 20; i++) {
      expect(to4(b, `2001:db8:9::${i.toString(16)}`, false)).toBe(`198.18.0.${i}`);
    }
    // a new host after restart does not steal a restored address
    expect(to4(b, '2001:db8:9::100')).toBe('198.18.0.21');
  });

  it('drops saved mappings that no longer fit the configuration', () => {
    const c = config('dynamic-pool 198.18.0.0/24', 'map 198.18.0.5 2001:db8:2::5');
    const m = new TaygaAddressMapper(c);
    const parsed = parseMappings(
      [
        '# comment',
        '198.18.0.4 2001:db8:9::4 100',
        '198.18.0.5 2001:db8:9::5 100', // now a static map line
        '198.19.0.1 2001:db8:9::6 100', // outside the pool
        '198.18.0.7 2001:db8:9::4 100', // duplicate IPv6 host
        'garbage',
        '198.18.0.8 2001:db8:9::8 notanumber',
      ].join('\n'),
    );
    expect(parsed.invalidLines).toBe(2);
    expect(m.restore(parsed.mappings)).toBe(3);
    expect(to4(m, '2001:db8:9::4', false)).toBe('198.18.0.4');
  });

  it('a missing file is an empty table', () => {
    expect(loadMappings(tempDir())).toEqual({ mappings: [], invalidLines: 0 });
  });

  it('writes atomically: temp file + rename, old table intact when the write fails', () => {
    const dir = tempDir();
    const one = [{ ipv4: v4('198.18.0.1'), ipv6: v6('2001:db8:9::1'), lastUse: 5 }];
    saveMappings(dir, one);
    const before = readFileSync(dynamicMapPath(dir), 'utf8');
    expect(readdirSync(dir)).toEqual(['dynamic.map']);
    // Make the temporary path unusable: the write fails and the old table stays whole.
    mkdirSync(`${dynamicMapPath(dir)}.tmp-${process.pid}`);
    writeFileSync(join(`${dynamicMapPath(dir)}.tmp-${process.pid}`, 'x'), '');
    expect(() => saveMappings(dir, [...one, { ...one[0]!, ipv4: v4('198.18.0.2') }])).toThrow();
    expect(readFileSync(dynamicMapPath(dir), 'utf8')).toBe(before);
    rmSync(`${dynamicMapPath(dir)}.tmp-${process.pid}`, { recursive: true });
    saveMappings(dir, []);
    expect(existsSync(`${dynamicMapPath(dir)}.tmp-${process.pid}`)).toBe(false);
    expect(loadMappings(dir).mappings).toEqual([]);
  });
});
