import { CidrSet } from '../acl/cidr';

/**
 * IPv4 ranges that are not globally reachable, from the IANA IPv4 Special-Purpose Address
 * Registry (RFC 6890 and successors). RFC 6052 §3.1: the Well-Known Prefix MUST NOT be used
 * to represent these. 192.0.0.9/32 and 192.0.0.10/32 are global and listed first.
 */
export const NON_GLOBAL_IPV4 = CidrSet.parse([
  '!192.0.0.9/32',
  '!192.0.0.10/32',
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
]);

export function isGlobalIpv4(addr: Uint8Array): boolean {
  return !NON_GLOBAL_IPV4.contains(addr);
}
