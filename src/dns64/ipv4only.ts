import { formatAddress } from '../acl/address';
import { FLAG, RCODE } from '../dns/constants';
import type { Answer, Packet } from '../dns/message';
import { inDomain, type Dns64Policy } from './policy';
import { embedIpv4 } from './prefix';

/**
 * RFC 7050 §2.2 and RFC 8880 §7: `ipv4only.arpa` is answered here, never sent upstream. Its
 * well-known addresses 192.0.0.170 and 192.0.0.171 are synthesized under every prefix in use
 * (without the Well-Known Prefix's global-only rule: they exist to reveal the prefix).
 */
export const IPV4ONLY_NAME = 'ipv4only.arpa';
export const IPV4ONLY_ADDRESSES = [Uint8Array.of(192, 0, 0, 170), Uint8Array.of(192, 0, 0, 171)];
const TTL = 86400;

const REVERSE_NAMES = ['170.0.0.192.in-addr.arpa', '171.0.0.192.in-addr.arpa'];

const SOA: Answer = {
  type: 'SOA',
  name: IPV4ONLY_NAME,
  class: 'IN',
  ttl: TTL,
  data: {
    mname: IPV4ONLY_NAME,
    rname: 'nobody.invalid',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 604800,
    minimum: TTL,
  },
};

/** True for ipv4only.arpa, names below it, and its two reverse names: all answered here. */
export function isIpv4OnlyName(name: string): boolean {
  const lower = name.replace(/\.$/, '').toLowerCase();
  return REVERSE_NAMES.includes(lower) || inDomain(lower, IPV4ONLY_NAME);
}

/** The local answer for a question about ipv4only.arpa or its reverse names, or null. */
export function answerIpv4Only(policy: Dns64Policy, name: string, type: string): Packet | null {
  if (!isIpv4OnlyName(name)) return null;
  const lower = name.replace(/\.$/, '').toLowerCase();
  const reverse = REVERSE_NAMES.includes(lower);
  const flags = FLAG.QR | FLAG.AA | FLAG.RA;
  if (lower !== IPV4ONLY_NAME && !reverse) {
    return { type: 'response', flags: flags | RCODE.NXDOMAIN, authorities: [SOA] };
  }
  const answers: Answer[] = [];
  if (reverse && type === 'PTR') {
    answers.push({ type: 'PTR', name, class: 'IN', ttl: TTL, data: IPV4ONLY_NAME });
  } else if (!reverse && type === 'A') {
    for (const v4 of IPV4ONLY_ADDRESSES) {
      answers.push({ type: 'A', name, class: 'IN', ttl: TTL, data: formatAddress(v4) });
    }
  } else if (!reverse && type === 'AAAA') {
    for (const rule of policy.prefixes) {
      for (const v4 of IPV4ONLY_ADDRESSES) {
        const data = formatAddress(embedIpv4(rule.prefix, v4));
        answers.push({ type: 'AAAA', name, class: 'IN', ttl: TTL, data });
      }
    }
  }
  return { type: 'response', flags, answers, authorities: answers.length ? [] : [SOA] };
}
