import { FLAG, QCLASS_IN, QTYPE, RCODE } from '../dns/constants';
import { isInDomain, literalName, sameName } from '../dns/name';
import type { Rr } from '../dns/records';
import type { ResponseParts } from '../dns/response';
import type { Dns64Policy } from './policy';
import { embedIpv4 } from './prefix';

/**
 * RFC 7050 §2.2 and RFC 8880 §7: `ipv4only.arpa` is answered here, never sent upstream. Its
 * well-known addresses 192.0.0.170 and 192.0.0.171 are synthesized under every prefix in use
 * (without the Well-Known Prefix's global-only rule: they exist to reveal the prefix).
 */
export const IPV4ONLY_NAME = literalName('ipv4only.arpa');
export const IPV4ONLY_ADDRESSES = [Uint8Array.of(192, 0, 0, 170), Uint8Array.of(192, 0, 0, 171)];
const TTL = 86400;

const REVERSE_NAMES = [
  literalName('170.0.0.192.in-addr.arpa'),
  literalName('171.0.0.192.in-addr.arpa'),
];

const SOA: Rr = {
  owner: IPV4ONLY_NAME,
  type: QTYPE.SOA,
  klass: QCLASS_IN,
  ttl: TTL,
  rdata: soaRdata(IPV4ONLY_NAME, literalName('nobody.invalid'), [1, 3600, 600, 604800, TTL]),
};

function soaRdata(mname: Uint8Array, rname: Uint8Array, numbers: readonly number[]): Uint8Array {
  const out = new Uint8Array(mname.length + rname.length + 20);
  out.set(mname, 0);
  out.set(rname, mname.length);
  const view = new DataView(out.buffer);
  numbers.forEach((n, i) => view.setUint32(mname.length + rname.length + 4 * i, n));
  return out;
}

/** True for ipv4only.arpa, names below it, and its two reverse names: all answered here. */
function isIpv4OnlyName(name: Uint8Array): boolean {
  return isInDomain(name, IPV4ONLY_NAME) || REVERSE_NAMES.some((r) => sameName(name, r));
}

/**
 * The local answer (AA: this is the name's own data) for a question about ipv4only.arpa or its
 * reverse names, or null. Owner names are the question's, as the client spelled it.
 */
export function answerIpv4Only(
  policy: Dns64Policy,
  name: Uint8Array,
  type: number,
): ResponseParts | null {
  if (!isIpv4OnlyName(name)) return null;
  const reverse = !isInDomain(name, IPV4ONLY_NAME);
  const flags = FLAG.AA;
  if (!reverse && !sameName(name, IPV4ONLY_NAME)) {
    return { rcode: RCODE.NXDOMAIN, flags, authorities: [SOA] };
  }
  const record = (rtype: number, rdata: Uint8Array): Rr => ({
    owner: name,
    type: rtype,
    klass: QCLASS_IN,
    ttl: TTL,
    rdata,
  });
  const answers: Rr[] = [];
  if (reverse && type === QTYPE.PTR) {
    answers.push(record(QTYPE.PTR, IPV4ONLY_NAME));
  } else if (!reverse && type === QTYPE.A) {
    for (const v4 of IPV4ONLY_ADDRESSES) answers.push(record(QTYPE.A, v4));
  } else if (!reverse && type === QTYPE.AAAA) {
    // The prefixes in use now: while gateways report health, no longer than they may last.
    const ttl = Math.min(TTL, policy.maxSynthTtl ?? TTL);
    for (const rule of policy.prefixes) {
      for (const v4 of IPV4ONLY_ADDRESSES) {
        answers.push({ ...record(QTYPE.AAAA, embedIpv4(rule.prefix, v4)), ttl });
      }
    }
  }
  return { rcode: RCODE.NOERROR, flags, answers, authorities: answers.length ? [] : [SOA] };
}
