import { formatAddress } from '../acl/address';
import { QTYPE, RCODE } from '../dns/constants';
import { nameToText } from '../dns/name';
import { redactUrl } from './log';

/** How a query reached the engine. */
export type QueryTransport = 'doh' | 'udp' | 'tcp' | 'tls';

/**
 * One query the engine handled, as its observer sees it (the query log, metrics, Analytics
 * Engine). Emitted once per query, after the answer or verdict.
 */
export interface QueryEvent {
  readonly transport: QueryTransport;
  /** The tenant id; null for the deployment's own settings (`/dns-query`, `/p/...`). */
  readonly tenant: string | null;
  /** The client's address (4 or 16 bytes), null when unknown. */
  readonly client: Uint8Array | null;
  /** The question, when the query could be read. */
  readonly name: Uint8Array | null;
  readonly qtype: number | null;
  /** The response's RCODE (extended RCODEs included); null when the engine gave a verdict. */
  readonly rcode: number | null;
  /** Why there is no DNS answer from the engine (a Verdict's kind), or null. */
  readonly verdict: string | null;
  /** REFUSED by the tenant's allowQuery. */
  readonly refused: boolean;
  readonly synthesized: boolean;
  readonly cacheHit: boolean;
  /** The upstream(s) that answered, space-separated; null when none was asked. */
  readonly upstream: string | null;
  readonly ms: number;
  /** The tenant asks for a query log line (its `queryLog` field). */
  readonly queryLog: boolean;
}

const RCODE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k])),
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

const TYPE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(QTYPE).map(([k, v]) => [v, k])),
  33: 'SRV',
  35: 'NAPTR',
  43: 'DS',
  44: 'SSHFP',
  47: 'NSEC',
  48: 'DNSKEY',
  52: 'TLSA',
  64: 'SVCB',
  65: 'HTTPS',
  257: 'CAA',
};

/** RCODE mnemonic (RFC 6895 registry), or its number. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? String(rcode);
}

/** Type mnemonic, or `TYPEnnn` (RFC 3597 §5). */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/**
 * The client's network as the query log shows it: the /24 of an IPv4 address, the /56 of an
 * IPv6 address (a customer's usual delegated prefix), or the whole address when `full`.
 */
export function shortClient(addr: Uint8Array | null, full: boolean): string | null {
  if (!addr) return null;
  if (full) return formatAddress(addr);
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.0/24`;
  const net = new Uint8Array(16);
  net.set(addr.subarray(0, 7));
  return `${formatAddress(net)}/56`;
}

/** One query log line's fields (README: Query log). */
export interface QueryLogRecord {
  time: string;
  tenant: string | null;
  transport: QueryTransport;
  client: string | null;
  name: string | null;
  type: string | null;
  rcode: string | null;
  verdict?: string;
  synthesized: boolean;
  cacheHit: boolean;
  upstream: string | null;
  ms: number;
}

export function queryLogRecord(e: QueryEvent, fullIp: boolean, now = new Date()): QueryLogRecord {
  const rec: QueryLogRecord = {
    time: now.toISOString(),
    tenant: e.tenant,
    transport: e.transport,
    client: shortClient(e.client, fullIp),
    name: e.name ? nameToText(e.name) : null,
    type: e.qtype === null ? null : typeName(e.qtype),
    rcode: e.rcode === null ? null : rcodeName(e.rcode),
    synthesized: e.synthesized,
    cacheHit: e.cacheHit,
    upstream: e.upstream === null ? null : e.upstream.split(' ').map(redactUrl).join(' '),
    ms: Math.round(e.ms * 1000) / 1000,
  };
  if (e.verdict) rec.verdict = e.verdict;
  return rec;
}

/**
 * What the engine and the resolver learn about one query while answering it, filled in only
 * when the engine has an observer.
 */
export class QueryTrace {
  tenant: string | null = null;
  queryLog = false;
  name: Uint8Array | null = null;
  qtype: number | null = null;
  /** The query had EDNS version > 0 (the answer's RCODE is BADVERS, 16). */
  badVersion = false;
  refused = false;
  synthesized = false;
  cacheHit = false;
  upstream: string | null = null;
}
