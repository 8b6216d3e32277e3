import { type Dns64Policy } from './policy';
import { extractIpv4 } from './prefix';
import { inAddrArpaName, ip6ArpaToAddress } from './reverse';

/**
 * RFC 6147 §5.3.1: a PTR question for an address inside a prefix in use is answered by a CNAME
 * to the in-addr.arpa name of the embedded IPv4 address, and that name's PTR. Returns the
 * in-addr.arpa name to follow, or null when the question is not under a prefix in use.
 */
export function synthesizedPtrTarget(policy: Dns64Policy, qname: Uint8Array): Uint8Array | null {
  const addr = ip6ArpaToAddress(qname);
  if (!addr) return null;
  for (const rule of policy.prefixes) {
    const v4 = extractIpv4(rule.prefix, addr);
    if (v4) return inAddrArpaName(v4);
  }
  return null;
}
