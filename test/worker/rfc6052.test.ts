import { IPV4_SPECIAL_PURPOSE_REGISTRY } from 'nat64-addr';
import { describe, expect, it } from 'vitest';
import {
  ADDR_NON_GLOBAL,
  ADDR_OK,
  TranslatorContext,
} from '../../packages/nat64d/src/core/context';
import type { AddressMapper, TranslatorConfig } from '../../packages/nat64d/src/core/types';
import { CidrSet } from '../../src/acl/cidr';
import { formatAddress, parseAddress } from '../../src/acl/address';
import { embedIpv4, prefixOf } from '../../src/dns64/prefix';
import { synthesizesUnder } from '../../src/dns64/synthesize';
import { rcode, rows } from '../helpers/dns';
import { harness } from './setup';

/** The ip6.arpa name of an IPv6 address (RFC 3596 §2.5). */
function ip6Arpa(text: string): string {
  const bytes = parseAddress(text, false)!;
  const nibbles = Array.from(bytes, (b) => b.toString(16).padStart(2, '0'))
    .join('')
    .split('');
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

describe('PTR and bits 64-71 (RFC 6052 §2.2, RFC 6147 §5.3.1)', () => {
  // Under 2001:db8:122:344::/64 this address reads 198.51.0.5 in bytes 9-12, but its u-octet
  // is 0xff: it embeds no IPv4 address, so the question goes upstream as asked.
  const bad = ip6Arpa('2001:db8:122:344:ffc6:3300:500:0');
  const good = ip6Arpa('2001:db8:122:344:c6:3300:500:0');
  const zone = {
    [bad]: { PTR: 'native.test', ttl: 120 },
    '5.0.51.198.in-addr.arpa': { PTR: 'v4.test', ttl: 240 },
  };
  const base = '/p/2001:db8:122:344::/64/dns-query';

  it('passes 2001:db8:122:344:ffc6:3300:500:0 upstream unchanged, not as 198.51.0.5', async () => {
    expect(bad).toBe('0.0.0.0.0.0.5.0.0.0.3.3.6.c.f.f.4.4.3.0.2.2.1.0.8.b.d.0.1.0.0.2.ip6.arpa');
    const { ask, upstream } = harness({}, zone);
    const res = await ask(bad, 'PTR', {}, base);
    expect(rcode(res)).toBe(0);
    expect(rows(res.answers)).toEqual([[bad, 'PTR', 120, 'native.test']]);
    expect(upstream.log.map((l) => [l.name, l.type])).toEqual([[bad, 'PTR']]);
  });

  it('still synthesizes the same address with a zero u-octet (198.51.0.5)', async () => {
    const { ask, upstream } = harness({}, zone);
    const res = await ask(good, 'PTR', {}, base);
    expect(rows(res.answers)).toEqual([
      [good, 'CNAME', 240, '5.0.51.198.in-addr.arpa'],
      ['5.0.51.198.in-addr.arpa', 'PTR', 240, 'v4.test'],
    ]);
    expect(upstream.log.map((l) => [l.name, l.type])).toEqual([['5.0.51.198.in-addr.arpa', 'PTR']]);
  });

  // 192.0.2.33 (RFC 6052 §2.4) with byte 8 set, for every prefix length that leaves byte 8 to
  // the address (a /96 holds it in the prefix: such a name is simply outside the prefix).
  const cases: [string, string][] = [
    ['2001:db8::/32', '2001:db8:c000:221:100::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:8021::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:102:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:100:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:1c0:2:2100:0'],
    ['2001:db8:122:344::/96', '2001:db8:122:344:100::c000:221'],
  ];
  for (const [prefix, addr] of cases) {
    it(`${prefix}: forwards the PTR question for ${addr}`, async () => {
      expect(parseAddress(addr, false)![8]).not.toBe(0);
      const name = ip6Arpa(addr);
      const { ask, upstream } = harness({}, {});
      const res = await ask(name, 'PTR', {}, `/p/${prefix}/dns-query`);
      expect(rcode(res)).toBe(3);
      expect(upstream.log.map((l) => [l.name, l.type])).toEqual([[name, 'PTR']]);
    });
  }
});

describe('the Well-Known Prefix rule follows the IANA registry (RFC 6052 §3.1)', () => {
  const zone = {
    'pcp.test': { A: ['192.0.0.9'], ttl: 60 },
    'turn.test': { A: ['192.0.0.10'], ttl: 60 },
    'dummy.test': { A: ['192.0.0.8'], ttl: 60 },
    'relay.test': { A: ['192.88.99.1'], ttl: 60 },
    'as112.test': { A: ['192.31.196.1'], ttl: 60 },
  };
  const wkp = '/p/64:ff9b::/96/dns-query';
  const expected: [string, string[]][] = [
    ['pcp.test', ['64:ff9b::c000:9']],
    ['turn.test', ['64:ff9b::c000:a']],
    ['dummy.test', []],
    ['relay.test', []],
    ['as112.test', ['64:ff9b::c01f:c401']],
  ];
  for (const [name, aaaa] of expected) {
    it(`${name}: ${aaaa.length ? `synthesizes ${aaaa[0]}` : 'synthesizes nothing'}`, async () => {
      const { ask } = harness({}, zone);
      const res = await ask(name, 'AAAA', {}, wkp);
      expect(rows(res.answers).map((r) => r[3])).toEqual(aaaa);
    });
  }
});

describe('the resolver and nat64d agree on the Well-Known Prefix', () => {
  // Addresses: first and last of every registry block, their outside neighbours, and a sample
  // of ordinary global ones. ipv4only.arpa's 192.0.0.170/171 are the one deliberate exception
  // (src/dns64/ipv4only.ts: they exist to reveal the prefix and are answered locally).
  const u32 = (text: string): number => {
    const b = parseAddress(text)!;
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  };
  const text = (v: number): string =>
    formatAddress(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  const samples = new Set<number>();
  for (const b of IPV4_SPECIAL_PURPOSE_REGISTRY) {
    const last = b.network + 2 ** (32 - b.length) - 1;
    for (const v of [b.network - 1, b.network, last, last + 1]) {
      if (v >= 0 && v <= 0xffffffff) samples.add(v);
    }
  }
  for (const t of ['1.1.1.1', '8.8.8.8', '9.9.9.9', '93.184.216.34', '223.255.255.255']) {
    samples.add(u32(t));
  }

  const rule = { prefix: prefixOf('64:ff9b::/96'), mapped: CidrSet.EMPTY };
  const config: TranslatorConfig = {
    prefix: rule.prefix,
    ipv4Addr: u32('198.51.100.1'),
    ipv6Addr: parseAddress('2001:db8::1')!,
    wkpfStrict: true,
    udpChecksumMode: 'drop',
    strictFragHdr: false,
    ipv6Mtu: 1280,
    tunMtu: 1500,
  };
  const noMaps: AddressMapper = { map6to4: () => -1, map4to6: () => false };
  const nat64d = new TranslatorContext(config, noMaps);

  it('never synthesizes an address that nat64d with wkpf-strict drops', () => {
    const synthesized: string[] = [];
    const out = new Uint8Array(16);
    for (const v of [...samples].sort((a, b) => a - b)) {
      const bytes = parseAddress(text(v))!;
      const resolver = synthesizesUnder(rule, bytes);
      // A packet to the AAAA the resolver would give, and the reply from the IPv4 host.
      const toV4 = nat64d.map6to4(embedIpv4(rule.prefix, bytes), 0);
      const fromV4 = nat64d.map4to6(v, out, 0);
      expect([text(v), toV4 === v, fromV4 === ADDR_OK]).toEqual([text(v), resolver, resolver]);
      if (!resolver) expect([toV4, fromV4]).toEqual([ADDR_NON_GLOBAL, ADDR_NON_GLOBAL]);
      if (resolver) synthesized.push(text(v));
    }
    // Pinned: the global ones among the samples (registry Globally Reachable = True inside
    // blocks, and the addresses just outside non-global blocks); every other sample is dropped.
    expect(synthesized).toEqual([
      '1.0.0.0',
      '1.1.1.1',
      '8.8.8.8',
      '9.9.9.9',
      '9.255.255.255',
      '11.0.0.0',
      '93.184.216.34',
      '100.63.255.255',
      '100.128.0.0',
      '126.255.255.255',
      '128.0.0.0',
      '169.253.255.255',
      '169.255.0.0',
      '172.15.255.255',
      '172.32.0.0',
      '191.255.255.255',
      '192.0.0.9',
      '192.0.0.10',
      '192.0.1.0',
      '192.0.1.255',
      '192.0.3.0',
      '192.31.195.255',
      '192.31.196.0',
      '192.31.196.255',
      '192.31.197.0',
      '192.52.192.255',
      '192.52.193.0',
      '192.52.193.255',
      '192.52.194.0',
      '192.88.98.255',
      '192.88.100.0',
      '192.167.255.255',
      '192.169.0.0',
      '192.175.47.255',
      '192.175.48.0',
      '192.175.48.255',
      '192.175.49.0',
      '198.17.255.255',
      '198.20.0.0',
      '198.51.99.255',
      '198.51.101.0',
      '203.0.112.255',
      '203.0.114.0',
      '223.255.255.255',
    ]);
  });
});
