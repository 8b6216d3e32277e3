import { describe, expect, it } from 'vitest';
import { IPV4_SPECIAL_PURPOSE_REGISTRY, isGlobalIpv4, specialPurposeBlock } from '../src/index.js';
import { ip4 } from './addr.js';

// The IANA IPv4 Special-Purpose Address Registry: Address Block and "Globally Reachable", row by
// row as IANA publishes them (null: the registry gives no value for the deprecated block).
const REGISTRY: [string, boolean | null][] = [
  ['0.0.0.0/8', false],
  ['0.0.0.0/32', false],
  ['10.0.0.0/8', false],
  ['100.64.0.0/10', false],
  ['127.0.0.0/8', false],
  ['169.254.0.0/16', false],
  ['172.16.0.0/12', false],
  ['192.0.0.0/24', false],
  ['192.0.0.0/29', false],
  ['192.0.0.8/32', false],
  ['192.0.0.9/32', true],
  ['192.0.0.10/32', true],
  ['192.0.0.170/32', false],
  ['192.0.0.171/32', false],
  ['192.0.2.0/24', false],
  ['192.31.196.0/24', true],
  ['192.52.193.0/24', true],
  ['192.88.99.0/24', null],
  ['192.168.0.0/16', false],
  ['192.175.48.0/24', true],
  ['198.18.0.0/15', false],
  ['198.51.100.0/24', false],
  ['203.0.113.0/24', false],
  ['240.0.0.0/4', false],
  ['255.255.255.255/32', false],
];

// Whether RFC 6052 §3.1 counts the first and the last address of each block as global. They
// follow the most specific block: 192.0.0.0 lies in 192.0.0.0/29, 0.0.0.0 in 0.0.0.0/32.
const EDGES: [string, string, boolean, string, boolean][] = [
  ['0.0.0.0/8', '0.0.0.0', false, '0.255.255.255', false],
  ['0.0.0.0/32', '0.0.0.0', false, '0.0.0.0', false],
  ['10.0.0.0/8', '10.0.0.0', false, '10.255.255.255', false],
  ['100.64.0.0/10', '100.64.0.0', false, '100.127.255.255', false],
  ['127.0.0.0/8', '127.0.0.0', false, '127.255.255.255', false],
  ['169.254.0.0/16', '169.254.0.0', false, '169.254.255.255', false],
  ['172.16.0.0/12', '172.16.0.0', false, '172.31.255.255', false],
  ['192.0.0.0/24', '192.0.0.0', false, '192.0.0.255', false],
  ['192.0.0.0/29', '192.0.0.0', false, '192.0.0.7', false],
  ['192.0.0.8/32', '192.0.0.8', false, '192.0.0.8', false],
  ['192.0.0.9/32', '192.0.0.9', true, '192.0.0.9', true],
  ['192.0.0.10/32', '192.0.0.10', true, '192.0.0.10', true],
  ['192.0.0.170/32', '192.0.0.170', false, '192.0.0.170', false],
  ['192.0.0.171/32', '192.0.0.171', false, '192.0.0.171', false],
  ['192.0.2.0/24', '192.0.2.0', false, '192.0.2.255', false],
  ['192.31.196.0/24', '192.31.196.0', true, '192.31.196.255', true],
  ['192.52.193.0/24', '192.52.193.0', true, '192.52.193.255', true],
  ['192.88.99.0/24', '192.88.99.0', false, '192.88.99.255', false],
  ['192.168.0.0/16', '192.168.0.0', false, '192.168.255.255', false],
  ['192.175.48.0/24', '192.175.48.0', true, '192.175.48.255', true],
  ['198.18.0.0/15', '198.18.0.0', false, '198.19.255.255', false],
  ['198.51.100.0/24', '198.51.100.0', false, '198.51.100.255', false],
  ['203.0.113.0/24', '203.0.113.0', false, '203.0.113.255', false],
  ['240.0.0.0/4', '240.0.0.0', false, '255.255.255.255', false],
  ['255.255.255.255/32', '255.255.255.255', false, '255.255.255.255', false],
];

describe('IANA IPv4 Special-Purpose Address Registry', () => {
  it('holds every row with its Globally Reachable value', () => {
    expect(IPV4_SPECIAL_PURPOSE_REGISTRY.map((b) => [b.block, b.globallyReachable])).toEqual(
      REGISTRY,
    );
  });

  it('has network and length consistent with the block text', () => {
    for (const b of IPV4_SPECIAL_PURPOSE_REGISTRY) {
      const [addr = '', len = ''] = b.block.split('/');
      expect([b.network, b.length]).toEqual([ip4(addr), Number(len)]);
    }
  });

  it('names the rows as the registry does', () => {
    const names = Object.fromEntries(IPV4_SPECIAL_PURPOSE_REGISTRY.map((b) => [b.block, b.name]));
    expect(names['192.0.0.9/32']).toBe('Port Control Protocol Anycast');
    expect(names['192.0.0.10/32']).toBe('Traversal Using Relays around NAT Anycast');
    expect(names['192.88.99.0/24']).toBe('Deprecated (6to4 Relay Anycast)');
    expect(names['192.0.0.170/32']).toBe('NAT64/DNS64 Discovery');
  });

  for (const [block, first, firstGlobal, last, lastGlobal] of EDGES) {
    it(`${block}: ${first} is ${firstGlobal ? '' : 'not '}global, ${last} is ${lastGlobal ? '' : 'not '}global`, () => {
      expect(isGlobalIpv4(ip4(first))).toBe(firstGlobal);
      expect(isGlobalIpv4(ip4(last))).toBe(lastGlobal);
    });
  }

  it('looks up the most specific block', () => {
    expect(specialPurposeBlock(ip4('192.0.0.9'))?.block).toBe('192.0.0.9/32');
    expect(specialPurposeBlock(ip4('192.0.0.11'))?.block).toBe('192.0.0.0/24');
    expect(specialPurposeBlock(ip4('192.0.0.3'))?.block).toBe('192.0.0.0/29');
    expect(specialPurposeBlock(ip4('0.0.0.0'))?.block).toBe('0.0.0.0/32');
    expect(specialPurposeBlock(ip4('0.0.0.1'))?.block).toBe('0.0.0.0/8');
    expect(specialPurposeBlock(ip4('255.255.255.255'))?.block).toBe('255.255.255.255/32');
    expect(specialPurposeBlock(ip4('255.255.255.254'))?.block).toBe('240.0.0.0/4');
    expect(specialPurposeBlock(ip4('8.8.8.8'))).toBe(null);
    expect(specialPurposeBlock(ip4('224.0.0.1'))).toBe(null);
  });
});

describe('RFC 6052 §3.1 non-global IPv4', () => {
  it('counts multicast (RFC 5735 §3; not in the registry) as non-global', () => {
    expect(['224.0.0.0', '224.0.0.1', '239.255.255.255'].map((a) => isGlobalIpv4(ip4(a)))).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('counts addresses next to the blocks, and ordinary ones, as global', () => {
    const global = [
      '1.0.0.0',
      '8.8.8.8',
      '9.255.255.255',
      '11.0.0.0',
      '100.63.255.255',
      '100.128.0.0',
      '126.255.255.255',
      '128.0.0.0',
      '169.253.255.255',
      '169.255.0.0',
      '172.15.255.255',
      '172.32.0.0',
      '192.0.1.0',
      '192.0.3.0',
      '192.88.98.255',
      '192.88.100.0',
      '192.167.255.255',
      '192.169.0.0',
      '198.17.255.255',
      '198.20.0.0',
      '198.51.99.255',
      '198.51.101.0',
      '203.0.112.255',
      '203.0.114.0',
      '223.255.255.255',
    ];
    expect(global.filter((a) => !isGlobalIpv4(ip4(a)))).toEqual([]);
  });

  it('counts the rest of 192.0.0.0/24 as non-global', () => {
    expect(['192.0.0.11', '192.0.0.169', '192.0.0.172'].map((a) => isGlobalIpv4(ip4(a)))).toEqual([
      false,
      false,
      false,
    ]);
  });
});
