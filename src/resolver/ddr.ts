import { FLAG, QCLASS_IN, QTYPE, RCODE } from '../dns/constants';
import { isInDomain, literalName, sameName } from '../dns/name';
import type { Rr } from '../dns/records';
import type { ResponseParts } from '../dns/response';

/**
 * Discovery of Designated Resolvers (RFC 9462): a client that was handed this server's address
 * asks `_dns.resolver.arpa` SVCB (RFC 9460) and learns its encrypted endpoints, DoH and DoT,
 * to switch to. `resolver.arpa` is answered here and never asked upstream (RFC 9462 §8); a
 * client that knows the server's name asks `_dns.<name>` SVCB (RFC 9462 §5), answered the same.
 */
export interface DdrConfig {
  /** The designated resolver's name (its certificate's), the SVCB TargetName. */
  readonly target: Uint8Array;
  /** SERVER_NAME, whose `_dns.` name is answered too; null when none is set. */
  readonly serverName: Uint8Array | null;
  /** DoH over HTTPS on this port (HTTP/2 by ALPN). */
  readonly dohPort: number;
  /** DoT on this port (RFC 7858). */
  readonly dotPort: number;
  /**
   * DoH's URI template (RFC 9461 §5): `/dns-query{?dns}` when absent; a tenant's path when
   * classic DNS answers as that tenant, so the encrypted endpoint gives the same answers;
   * null: no DoH endpoint (a tenant with a key, which must not be published).
   */
  readonly dohPath?: string | null;
}

export const SVCB = 64;
const TTL = 300;
const RESOLVER_ARPA = literalName('resolver.arpa');
const DNS_RESOLVER_ARPA = literalName('_dns.resolver.arpa');
const UNDERSCORE_DNS = literalName('_dns');
/** RFC 9461 §5: the URI template of DoH's path. */
const DOH_PATH = '/dns-query{?dns}';

/** SvcParamKeys (RFC 9460 §14.3.2), in the ascending order they must be written in. */
const KEY = { alpn: 1, port: 3, dohpath: 7 } as const;

const SOA: Rr = {
  owner: RESOLVER_ARPA,
  type: QTYPE.SOA,
  klass: QCLASS_IN,
  ttl: TTL,
  rdata: soa(RESOLVER_ARPA, literalName('nobody.invalid')),
};

function soa(mname: Uint8Array, rname: Uint8Array): Uint8Array {
  const out = new Uint8Array(mname.length + rname.length + 20);
  out.set(mname, 0);
  out.set(rname, mname.length);
  const view = new DataView(out.buffer);
  [1, 3600, 600, 86400, TTL].forEach((n, i) =>
    view.setUint32(mname.length + rname.length + 4 * i, n),
  );
  return out;
}

/** `_dns.` + name. */
export function underscoreDns(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(UNDERSCORE_DNS.length - 1 + name.length);
  out.set(UNDERSCORE_DNS.subarray(0, UNDERSCORE_DNS.length - 1), 0);
  out.set(name, UNDERSCORE_DNS.length - 1);
  return out;
}

/**
 * The local answer for a name in resolver.arpa, or `_dns.<SERVER_NAME>` SVCB; null for any
 * other question. Without DDR (no TLS), `_dns.resolver.arpa` has no data and every other
 * name in resolver.arpa does not exist.
 */
export function answerDdr(
  ddr: DdrConfig | null,
  name: Uint8Array,
  type: number,
): ResponseParts | null {
  const own = ddr?.serverName ? sameName(name, underscoreDns(ddr.serverName)) : false;
  if (own) return type === SVCB ? { rcode: RCODE.NOERROR, answers: endpoints(ddr!, name) } : null;
  if (!isInDomain(name, RESOLVER_ARPA)) return null;
  const flags = FLAG.AA;
  if (!sameName(name, DNS_RESOLVER_ARPA)) {
    return {
      rcode: sameName(name, RESOLVER_ARPA) ? RCODE.NOERROR : RCODE.NXDOMAIN,
      flags,
      authorities: [SOA],
    };
  }
  if (!ddr || type !== SVCB) return { rcode: RCODE.NOERROR, flags, authorities: [SOA] };
  return { rcode: RCODE.NOERROR, flags, answers: endpoints(ddr, name) };
}

/** ServiceMode SVCB records (RFC 9460 §2.4.3): DoH first, then DoT. */
function endpoints(ddr: DdrConfig, owner: Uint8Array): Rr[] {
  const record = (priority: number, params: Uint8Array): Rr => {
    const rdata = new Uint8Array(2 + ddr.target.length + params.length);
    rdata[0] = priority >> 8;
    rdata[1] = priority & 0xff;
    rdata.set(ddr.target, 2);
    rdata.set(params, 2 + ddr.target.length);
    return { owner, type: SVCB, klass: QCLASS_IN, ttl: TTL, rdata };
  };
  const ascii = new TextEncoder();
  const dohPath = ddr.dohPath === undefined ? DOH_PATH : ddr.dohPath;
  const dot = record(
    2,
    svcParams([
      [KEY.alpn, alpn('dot')],
      [KEY.port, u16(ddr.dotPort)],
    ]),
  );
  if (dohPath === null) return [dot];
  return [
    record(
      1,
      svcParams([
        [KEY.alpn, alpn('h2')],
        [KEY.port, u16(ddr.dohPort)],
        [KEY.dohpath, ascii.encode(dohPath)],
      ]),
    ),
    dot,
  ];
}

/** RFC 9460 §7.1.1: alpn-ids, each a length-prefixed string. */
function alpn(...ids: string[]): Uint8Array {
  const bytes: number[] = [];
  for (const id of ids) bytes.push(id.length, ...new TextEncoder().encode(id));
  return Uint8Array.from(bytes);
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

/** SvcParams: key, length, value, keys in ascending order (RFC 9460 §2.2). */
function svcParams(params: readonly [number, Uint8Array][]): Uint8Array {
  const bytes: number[] = [];
  for (const [key, value] of params)
    bytes.push(key >> 8, key & 0xff, value.length >> 8, value.length & 0xff, ...value);
  return Uint8Array.from(bytes);
}
