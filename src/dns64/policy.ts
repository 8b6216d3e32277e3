import { CidrSet } from '../acl/cidr';
import { type Nat64Prefix, prefixOf } from './prefix';

/** One prefix in use, with the IPv4 addresses it may carry (RFC 6147 §5.2; BIND's `mapped`). */
export interface PrefixRule {
  readonly prefix: Nat64Prefix;
  /** IPv4 ranges synthesized under this prefix; empty = every address. */
  readonly mapped: CidrSet;
  /** The NAT64 gateway that carries this prefix's traffic and reports its health; null: none. */
  readonly gateway?: string | null;
}

/** How a tenant synthesizes: RFC 6147 with BIND's dns64 options. */
export interface Dns64Policy {
  readonly prefixes: readonly PrefixRule[];
  /** IPv6 ranges ignored in real AAAA answers (RFC 6147 §5.1.4). */
  readonly exclude: CidrSet;
  /** Bits after the embedded IPv4 address (BIND `suffix`); null = zero. */
  readonly suffix: Uint8Array | null;
  /** Ignore every real AAAA and always synthesize (BIND `exclude { any; }`). */
  readonly synthAll: boolean;
  /** Domains (and their subdomains) whose real AAAA records are ignored (uncompressed names). */
  readonly ignoreAaaa: readonly Uint8Array[];
  /** Synthesize even when the client asked for DNSSEC data with CD=1 (BIND `break-dnssec`). */
  readonly breakDnssec: boolean;
  /** Synthesize only for queries with RD=1 (BIND `recursive-only`). */
  readonly recursiveOnly: boolean;
  /** Client addresses that get synthesis; empty = everyone (BIND `clients`). */
  readonly clients: CidrSet;
  /** The longest TTL a synthesized record may have (while gateways report health); none: 600. */
  readonly maxSynthTtl?: number;
}

export const DEFAULT_EXCLUDE = ['::ffff:0:0/96'];

export function defaultPolicy(prefixText: string): Dns64Policy {
  return {
    prefixes: [{ prefix: prefixOf(prefixText), mapped: CidrSet.EMPTY }],
    exclude: CidrSet.parse(DEFAULT_EXCLUDE),
    suffix: null,
    synthAll: false,
    ignoreAaaa: [],
    breakDnssec: false,
    recursiveOnly: false,
    clients: CidrSet.EMPTY,
  };
}
