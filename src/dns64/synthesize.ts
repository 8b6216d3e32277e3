import { formatAddress, parseAddress } from '../acl/address';
import { FLAG, QTYPE, RCODE } from '../dns/constants';
import { type Answer, type Packet } from '../dns/message';
import type { CopiedRecord, WireAnswer } from '../dns/response';
import {
  type MessageLayout,
  type RecordPosition,
  Section,
  readU32,
  scanMessage,
} from '../dns/scan';
import { negativeTtl } from '../dns/ttl';
import type { UpstreamAnswer, UpstreamResult } from '../upstream/doh-client';
import { type Dns64Policy, inDomain, type PrefixRule } from './policy';
import { embedIpv4, isGlobalIpv4, isWellKnownPrefix } from './prefix';

/** RFC 6147 §5.1.7: without an SOA, a synthesized record lives at most 600 seconds. */
export const DEFAULT_SYNTH_TTL = 600;

/** What the DNS64 decided for one AAAA question (RFC 6147 §5.1). */
export type Dns64Outcome =
  /** The AAAA response as it came (real records, NXDOMAIN, or NODATA). */
  | { kind: 'upstream'; bytes: Uint8Array }
  /** A response built here from decoded upstream data: synthesized, filtered, or based on A. */
  | { kind: 'built'; packet: Packet; synthesized: boolean }
  /** The same built from a plain A answer read off the wire (src/dns/plain.ts), to write. */
  | { kind: 'wire'; answer: WireAnswer; synthesized: boolean }
  /** Neither query gave usable data. */
  | { kind: 'failed'; detail: string; timeout: boolean };

/**
 * RFC 6147 §5.1: decides the answer to an AAAA question from the AAAA and the A responses,
 * which were asked in parallel. Plain responses are read off the wire, others decoded; the
 * rules are the same either way.
 */
export function synthesizeAaaa(
  policy: Dns64Policy,
  qname: string,
  aaaa: UpstreamResult,
  a: UpstreamResult,
): Dns64Outcome {
  let aaaaNoData = false;
  if (aaaa.ok) {
    const rcode = rcodeOfWire(aaaa.bytes);
    // §5.1.2: NXDOMAIN means the name does not exist; there is nothing to synthesize from.
    if (rcode === RCODE.NXDOMAIN) return { kind: 'upstream', bytes: aaaa.bytes };
    if (rcode === RCODE.NOERROR) {
      const real = aaaaAddresses(aaaa);
      const ignored = policy.synthAll || policy.ignoreAaaa.some((d) => inDomain(qname, d));
      const usable = ignored ? 0 : real.filter((addr) => !isExcluded(policy, addr)).length;
      if (usable > 0) {
        if (usable === real.length) return { kind: 'upstream', bytes: aaaa.bytes };
        // §5.1.4: excluded records are dropped one by one; the rest go back as they are.
        const kept = (aaaa.packet.answers ?? []).filter(
          (r) => !isAaaa(r) || !isExcluded(policy, parseAddress(r.data, false)),
        );
        return { kind: 'built', packet: { ...aaaa.packet, answers: kept }, synthesized: false };
      }
      aaaaNoData = real.length === 0;
    }
    // §5.1.2: any other RCODE is treated like NODATA.
  }

  // §5.1.2: an error of the A query is the basis of the answer (a SERVFAIL the client may
  // retry, rather than a NODATA it would cache for a name that may well have an address).
  if (!a.ok) {
    const timeout = a.kind === 'timeout' || (!aaaa.ok && aaaa.kind === 'timeout');
    const detail = aaaa.ok ? `A: ${a.detail}` : `AAAA: ${aaaa.detail}; A: ${a.detail}`;
    return { kind: 'failed', detail, timeout };
  }

  const aNoError = rcodeOfWire(a.bytes) === RCODE.NOERROR;
  // §5.1.2: an empty or failed A answer is the basis of the response. Both empty: the AAAA
  // NODATA goes back as it came (with its own SOA).
  const noData = aaaa.ok && aaaaNoData && aNoError ? aaaa.bytes : null;
  const synthesize = <R>(records: readonly ARecord<R>[]) =>
    records.length > 0 && aNoError ? synthesizeRecords(policy, aaaa, records) : [];
  if (a.plain) {
    const records = synthesize(wireARecords(a.bytes, a.plain));
    if (records.length === 0 && noData) return { kind: 'upstream', bytes: noData };
    const answer = wireBasedOnA(a.bytes, a.plain, records);
    return { kind: 'wire', answer, synthesized: records.length > 0 };
  }
  const records = synthesize(decodedARecords(a.packet));
  if (records.length === 0 && noData) return { kind: 'upstream', bytes: noData };
  return { kind: 'built', packet: basedOnA(a.packet, records), synthesized: records.length > 0 };
}

function rcodeOfWire(bytes: Uint8Array): number {
  return bytes[3]! & 0xf;
}

function isAaaa(r: Answer): r is Answer & { type: 'AAAA'; data: string } {
  return r.type === 'AAAA' && typeof r.data === 'string';
}

function isA(r: Answer): r is Answer & { type: 'A'; data: string } {
  return r.type === 'A' && typeof r.data === 'string';
}

/** The addresses of the AAAA records in the answer section (null: not an address). */
function aaaaAddresses(res: UpstreamAnswer): (Uint8Array | null)[] {
  if (res.plain) {
    return answersOfType(res.plain, QTYPE.AAAA).map((r) =>
      res.bytes.subarray(r.rdataOffset, r.rdataOffset + 16),
    );
  }
  return (res.packet.answers ?? []).filter(isAaaa).map((r) => parseAddress(r.data, false));
}

function isExcluded(policy: Dns64Policy, address: Uint8Array | null): boolean {
  return address !== null && address.length === 16 && policy.exclude.contains(address);
}

/** An A record of the answer section: where its owner name is, its TTL, its address. */
interface ARecord<R> {
  readonly owner: R;
  readonly ttl: number;
  readonly address: Uint8Array | null;
}

/** A synthesized AAAA record at the owner name of an A record. */
interface Synthesized<R> {
  readonly owner: R;
  readonly ttl: number;
  readonly address: Uint8Array;
}

function wireARecords(bytes: Uint8Array, layout: MessageLayout): ARecord<RecordPosition>[] {
  return answersOfType(layout, QTYPE.A).map((r) => ({
    owner: r,
    ttl: readU32(bytes, r.ttlOffset),
    address: bytes.subarray(r.rdataOffset, r.rdataOffset + 4),
  }));
}

function decodedARecords(a: Packet): ARecord<Answer>[] {
  return (a.answers ?? []).filter(isA).map((r) => ({
    owner: r,
    ttl: ('ttl' in r ? r.ttl : undefined) ?? 0,
    address: parseAddress(r.data),
  }));
}

function answersOfType(layout: MessageLayout, type: number): RecordPosition[] {
  return layout.records.filter((r) => r.section === Section.Answer && r.type === type);
}

/**
 * §5.1.7 TTL: min(A TTL, negative TTL of the AAAA answer's SOA), or min(A TTL, 600) without
 * an SOA. One AAAA per prefix whose `mapped` set holds the address (§5.2), none for
 * non-global IPv4 under the Well-Known Prefix (RFC 6052 §3.1).
 */
function synthesizeRecords<R>(
  policy: Dns64Policy,
  aaaa: UpstreamResult,
  aRecords: readonly ARecord<R>[],
): Synthesized<R>[] {
  let ceiling = DEFAULT_SYNTH_TTL;
  if (aaaa.ok) {
    const layout = aaaa.plain ?? scanMessage(aaaa.bytes);
    const negative = layout ? negativeTtl(aaaa.bytes, layout) : null;
    if (negative !== null) ceiling = negative;
  }
  const out: Synthesized<R>[] = [];
  for (const rule of policy.prefixes) {
    for (const rec of aRecords) {
      const v4 = rec.address;
      if (!v4 || v4.length !== 4) continue;
      if (!synthesizesUnder(rule, v4)) continue;
      const address = embedIpv4(rule.prefix, v4, policy.suffix ?? undefined);
      out.push({ owner: rec.owner, ttl: Math.min(rec.ttl, ceiling), address });
    }
  }
  return out;
}

/**
 * Whether an A record's address is synthesized under one prefix in use: it is in the rule's
 * `mapped` set (§5.2), and under the Well-Known Prefix it is global (RFC 6052 §3.1, by the
 * IANA special-purpose registry that nat64d's `wkpf-strict` also applies).
 */
export function synthesizesUnder(rule: PrefixRule, ipv4: Uint8Array): boolean {
  if (!rule.mapped.isEmpty && !rule.mapped.contains(ipv4)) return false;
  return !isWellKnownPrefix(rule.prefix) || isGlobalIpv4(ipv4);
}

/**
 * A response built on the A answer: its CNAME/DNAME chain (§5.1.3), the synthesized records in
 * place of the A records, its additional section unchanged. AD is never set (§5.5), nor AA.
 */
function basedOnA(a: Packet, synthesized: readonly Synthesized<Answer>[]): Packet {
  const chain = (a.answers ?? []).filter((r) => r.type === 'CNAME' || r.type === 'DNAME');
  const records = synthesized.map((r): Answer => ({
    type: 'AAAA',
    name: r.owner.name,
    class: 'IN',
    ttl: r.ttl,
    data: formatAddress(r.address),
  }));
  return {
    type: 'response',
    flags: basedOnAFlags(a.flags ?? 0, records.length > 0),
    answers: [...chain, ...records],
    authorities: records.length > 0 ? [] : (a.authorities ?? []).filter(notSig),
    additionals: (a.additionals ?? []).filter((r) => r.type !== 'OPT'),
  };
}

/** basedOnA() for a plain A answer: the same records, as positions in its wire bytes. */
function wireBasedOnA(
  bytes: Uint8Array,
  layout: MessageLayout,
  synthesized: readonly Synthesized<RecordPosition>[],
): WireAnswer {
  const answers: CopiedRecord[] = [];
  const authorities: CopiedRecord[] = [];
  const additionals: CopiedRecord[] = [];
  for (const r of layout.records) {
    if (r.section === Section.Answer) {
      if (r.type === QTYPE.CNAME || r.type === QTYPE.DNAME) answers.push({ from: r });
    } else if (r.section === Section.Authority) {
      // A plain message has no RRSIG to drop.
      if (synthesized.length === 0) authorities.push({ from: r });
    } else if (r.type !== QTYPE.OPT) {
      additionals.push({ from: r });
    }
  }
  for (const s of synthesized) {
    answers.push({ from: s.owner, replace: { type: QTYPE.AAAA, ttl: s.ttl, rdata: s.address } });
  }
  return {
    flags: basedOnAFlags(layout.flags, synthesized.length > 0),
    source: bytes,
    answers,
    authorities,
    additionals,
  };
}

/** Synthesized data is neither authoritative nor validated (§5.5); it is NOERROR. */
function basedOnAFlags(flags: number, synthesized: boolean): number {
  const f = flags & ~FLAG.AD & ~FLAG.AA;
  return synthesized ? (f & ~0xf) | RCODE.NOERROR : f;
}

function notSig(r: Answer): boolean {
  return r.type !== 'RRSIG';
}
