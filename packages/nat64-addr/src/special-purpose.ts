/**
 * The IANA IPv4 Special-Purpose Address Registry (RFC 6890, updated by RFC 8190), and the
 * "non-global" test of RFC 6052 §3.1 built on its "Globally Reachable" column.
 *
 * https://www.iana.org/assignments/iana-ipv4-special-registry/
 */

export interface Ipv4SpecialPurposeBlock {
  /** "Address Block", one per entry (the registry's row "192.0.0.170/32, 192.0.0.171/32" is two). */
  readonly block: string;
  readonly name: string;
  readonly rfc: string;
  /**
   * "Globally Reachable" as the registry publishes it. null where it publishes no value:
   * 192.88.99.0/24, the 6to4 relay anycast block RFC 7526 deprecated (termination date 2015-03).
   */
  readonly globallyReachable: boolean | null;
  /** Network address, unsigned 32-bit. */
  readonly network: number;
  readonly length: number;
}

type Row = readonly [block: string, name: string, rfc: string, globallyReachable: boolean | null];

/** Every row of the registry, in its order. */
const ROWS: readonly Row[] = [
  ['0.0.0.0/8', '"This network"', 'RFC 791, Section 3.2', false],
  ['0.0.0.0/32', '"This host on this network"', 'RFC 1122, Section 3.2.1.3', false],
  ['10.0.0.0/8', 'Private-Use', 'RFC 1918', false],
  ['100.64.0.0/10', 'Shared Address Space', 'RFC 6598', false],
  ['127.0.0.0/8', 'Loopback', 'RFC 1122, Section 3.2.1.3', false],
  ['169.254.0.0/16', 'Link Local', 'RFC 3927', false],
  ['172.16.0.0/12', 'Private-Use', 'RFC 1918', false],
  ['192.0.0.0/24', 'IETF Protocol Assignments', 'RFC 6890, Section 2.1', false],
  ['192.0.0.0/29', 'IPv4 Service Continuity Prefix', 'RFC 7335', false],
  ['192.0.0.8/32', 'IPv4 dummy address', 'RFC 7600', false],
  ['192.0.0.9/32', 'Port Control Protocol Anycast', 'RFC 7723', true],
  ['192.0.0.10/32', 'Traversal Using Relays around NAT Anycast', 'RFC 8155', true],
  ['192.0.0.170/32', 'NAT64/DNS64 Discovery', 'RFC 8880, RFC 7050 Section 2.2', false],
  ['192.0.0.171/32', 'NAT64/DNS64 Discovery', 'RFC 8880, RFC 7050 Section 2.2', false],
  ['192.0.2.0/24', 'Documentation (TEST-NET-1)', 'RFC 5737', false],
  ['192.31.196.0/24', 'AS112-v4', 'RFC 7535', true],
  ['192.52.193.0/24', 'AMT', 'RFC 7450', true],
  ['192.88.99.0/24', 'Deprecated (6to4 Relay Anycast)', 'RFC 7526', null],
  ['192.168.0.0/16', 'Private-Use', 'RFC 1918', false],
  ['192.175.48.0/24', 'Direct Delegation AS112 Service', 'RFC 7534', true],
  ['198.18.0.0/15', 'Benchmarking', 'RFC 2544', false],
  ['198.51.100.0/24', 'Documentation (TEST-NET-2)', 'RFC 5737', false],
  ['203.0.113.0/24', 'Documentation (TEST-NET-3)', 'RFC 5737', false],
  ['240.0.0.0/4', 'Reserved', 'RFC 1112, Section 4', false],
  ['255.255.255.255/32', 'Limited Broadcast', 'RFC 8190, RFC 919 Section 7', false],
];

function parseBlock(block: string): { network: number; length: number } {
  const [addr = '', len = ''] = block.split('/');
  const octets = addr.split('.').map(Number);
  const network = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return { network, length: Number(len) };
}

export const IPV4_SPECIAL_PURPOSE_REGISTRY: readonly Ipv4SpecialPurposeBlock[] = ROWS.map(
  ([block, name, rfc, globallyReachable]) => ({
    block,
    name,
    rfc,
    globallyReachable,
    ...parseBlock(block),
  }),
);

/**
 * 224.0.0.0/4, multicast (RFC 5771). Not in the special-purpose registry (multicast has its own
 * registry), but RFC 5735 §3, which RFC 6052 §3.1 names as the list of non-global addresses,
 * has it: it is never embedded in the Well-Known Prefix.
 */
export const IPV4_MULTICAST = { block: '224.0.0.0/4', network: 0xe0000000, length: 4 } as const;

const mask = (length: number): number => (length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0);

// Lookup tables, most specific block first, so the first match is the registry's answer for an
// address (192.0.0.9/32 before 192.0.0.0/24). Multicast is the last rule.
const ORDER = [...IPV4_SPECIAL_PURPOSE_REGISTRY.keys()].sort(
  (a, b) =>
    IPV4_SPECIAL_PURPOSE_REGISTRY[b]!.length - IPV4_SPECIAL_PURPOSE_REGISTRY[a]!.length || a - b,
);
const RULES = ORDER.length + 1;
const NETWORK = new Uint32Array(RULES);
const MASK = new Uint32Array(RULES);
const GLOBAL = new Uint8Array(RULES);
/** First octets (/8s) that some rule touches: every other address is global at once. */
const TOUCHED = new Uint8Array(256);

function addRule(i: number, network: number, length: number, global: boolean): void {
  NETWORK[i] = network;
  MASK[i] = mask(length);
  GLOBAL[i] = global ? 1 : 0;
  const first = network >>> 24;
  const last = (network | ~mask(length)) >>> 24;
  for (let o = first; o <= last; o++) TOUCHED[o] = 1;
}
ORDER.forEach((row, i) => {
  const b = IPV4_SPECIAL_PURPOSE_REGISTRY[row]!;
  addRule(i, b.network, b.length, b.globallyReachable === true);
});
addRule(ORDER.length, IPV4_MULTICAST.network, IPV4_MULTICAST.length, false);

/** The most specific registry entry holding `ipv4` (unsigned 32-bit), or null. */
export function specialPurposeBlock(ipv4: number): Ipv4SpecialPurposeBlock | null {
  for (let i = 0; i < ORDER.length; i++) {
    if ((ipv4 & MASK[i]!) >>> 0 === NETWORK[i]) return IPV4_SPECIAL_PURPOSE_REGISTRY[ORDER[i]!]!;
  }
  return null;
}

/**
 * RFC 6052 §3.1: false for the "non-global" IPv4 addresses the Well-Known Prefix MUST NOT
 * represent, i.e. those the registry's most specific entry does not mark Globally Reachable
 * (192.0.0.9 and 192.0.0.10 are global inside the non-global 192.0.0.0/24; 192.88.99.0/24, with
 * no value, is not), and multicast. Every other address is global. Allocation-free: nat64d's
 * `wkpf-strict` asks it for every packet.
 */
export function isGlobalIpv4(ipv4: number): boolean {
  if (TOUCHED[ipv4 >>> 24] === 0) return true;
  for (let i = 0; i < RULES; i++) {
    if ((ipv4 & MASK[i]!) >>> 0 === NETWORK[i]) return GLOBAL[i] === 1;
  }
  return true;
}
