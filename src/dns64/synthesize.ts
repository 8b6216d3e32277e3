import { FLAG, QCLASS_IN, QTYPE, RCODE } from '../dns/constants';
import { isInDomain } from '../dns/name';
import { type Rr, rrAt } from '../dns/records';
import type { ResponseParts } from '../dns/response';
import { type MessageLayout, type RecordPosition, Section } from '../dns/scan';
import { negativeTtl } from '../dns/ttl';
import type { UpstreamAnswer, UpstreamResult } from '../upstream/doh-client';
import type { Dns64Policy, PrefixRule } from './policy';
import { embedIpv4, isGlobalIpv4, isWellKnownPrefix } from './prefix';

/** RFC 6147 §5.1.7: without an SOA, a synthesized record lives at most 600 seconds. */
export const DEFAULT_SYNTH_TTL = 600;

/** What the DNS64 decided for one AAAA question (RFC 6147 §5.1). */
export type Dns64Outcome =
  /** An upstream response as it came (real records, NXDOMAIN, or NODATA). */
  | { kind: 'relay'; bytes: Uint8Array }
  /** A response to write from upstream records: synthesized, filtered, or based on A. */
  | { kind: 'written'; parts: ResponseParts; synthesized: boolean }
  /** Neither query gave usable data. */
  | { kind: 'failed'; detail: string; timeout: boolean };

/**
 * RFC 6147 §5.1: decides the answer to an AAAA question from the AAAA and the A responses,
 * which were asked in parallel. Records are read off the wire with their names octet for octet.
 */
export function synthesizeAaaa(
  policy: Dns64Policy,
  qname: Uint8Array,
  aaaa: UpstreamResult,
  a: UpstreamResult,
): Dns64Outcome {
  let aaaaNoData = false;
  if (aaaa.ok) {
    const rcode = aaaa.layout.flags & 0xf;
    // §5.1.2: NXDOMAIN means the name does not exist; there is nothing to synthesize from.
    if (rcode === RCODE.NXDOMAIN) return { kind: 'relay', bytes: aaaa.bytes };
    if (rcode === RCODE.NOERROR) {
      const real = answersOfType(aaaa.layout, QTYPE.AAAA);
      const ignored = policy.synthAll || policy.ignoreAaaa.some((d) => isInDomain(qname, d));
      const excluded = real.filter((r) => isExcluded(policy, aaaa.bytes, r));
      const usable = ignored ? 0 : real.length - excluded.length;
      if (usable > 0) {
        if (excluded.length === 0) return { kind: 'relay', bytes: aaaa.bytes };
        // §5.1.4: excluded records are dropped one by one; the rest go back as they are.
        return { kind: 'written', parts: withoutRecords(aaaa, excluded), synthesized: false };
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

  const aNoError = (a.layout.flags & 0xf) === RCODE.NOERROR;
  const records = aNoError ? synthesizeRecords(policy, aaaa, a) : [];
  // §5.1.2: an empty or failed A answer is the basis of the response. Both empty: the AAAA
  // NODATA goes back as it came (with its own SOA).
  if (records.length === 0 && aaaa.ok && aaaaNoData && aNoError) {
    return { kind: 'relay', bytes: aaaa.bytes };
  }
  return { kind: 'written', parts: basedOnA(a, records), synthesized: records.length > 0 };
}

function answersOfType(layout: MessageLayout, type: number): RecordPosition[] {
  return layout.records.filter(
    (r) => r.section === Section.Answer && r.type === type && r.klass === QCLASS_IN,
  );
}

function isExcluded(policy: Dns64Policy, bytes: Uint8Array, r: RecordPosition): boolean {
  if (r.rdlength !== 16) return false;
  return policy.exclude.contains(bytes.subarray(r.rdataOffset, r.rdataOffset + 16));
}

/** An upstream response's records but `left` (OPT aside; the response gets its own). */
function withoutRecords(res: UpstreamAnswer, left: readonly RecordPosition[]): ResponseParts {
  const sections: Rr[][] = [[], [], []];
  for (const r of res.layout.records) {
    if (left.includes(r) || r.type === QTYPE.OPT) continue;
    sections[r.section]!.push(rrAt(res.bytes, r));
  }
  return {
    rcode: res.layout.flags & 0xf,
    flags: res.layout.flags & ~FLAG.AA,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
  };
}

/**
 * §5.1.7 TTL: min(A TTL, negative TTL of the AAAA answer's SOA), or min(A TTL, 600) without an
 * SOA. One AAAA per prefix whose `mapped` set holds the address (§5.2), none for non-global
 * IPv4 under the Well-Known Prefix (RFC 6052 §3.1). Owner names are the A records' own.
 */
function synthesizeRecords(policy: Dns64Policy, aaaa: UpstreamResult, a: UpstreamAnswer): Rr[] {
  let ceiling = DEFAULT_SYNTH_TTL;
  if (aaaa.ok) {
    const negative = negativeTtl(aaaa.bytes, aaaa.layout);
    if (negative !== null) ceiling = negative;
  }
  // While gateways report health, an answer must not outlive the gateway behind it (issue 15).
  ceiling = Math.min(ceiling, policy.maxSynthTtl ?? ceiling);
  const aRecords = answersOfType(a.layout, QTYPE.A)
    .filter((r) => r.rdlength === 4)
    .map((r) => rrAt(a.bytes, r));
  const out: Rr[] = [];
  for (const rule of policy.prefixes) {
    for (const rec of aRecords) {
      const v4 = rec.rdata;
      if (!synthesizesUnder(rule, v4)) continue;
      out.push({
        owner: rec.owner,
        type: QTYPE.AAAA,
        klass: QCLASS_IN,
        ttl: Math.min(rec.ttl, ceiling),
        rdata: embedIpv4(rule.prefix, v4, policy.suffix ?? undefined),
      });
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
 * place of the A records, its authority section (without signatures) when nothing was
 * synthesized, its additional section unchanged. AD is never set (§5.5), nor AA.
 */
function basedOnA(a: UpstreamAnswer, synthesized: readonly Rr[]): ResponseParts {
  const answers: Rr[] = [];
  const authorities: Rr[] = [];
  const additionals: Rr[] = [];
  for (const r of a.layout.records) {
    if (r.section === Section.Answer) {
      if (r.type === QTYPE.CNAME || r.type === QTYPE.DNAME) answers.push(rrAt(a.bytes, r));
    } else if (r.section === Section.Authority) {
      if (synthesized.length === 0 && r.type !== QTYPE.RRSIG) authorities.push(rrAt(a.bytes, r));
    } else if (r.type !== QTYPE.OPT) {
      additionals.push(rrAt(a.bytes, r));
    }
  }
  answers.push(...synthesized);
  return {
    rcode: synthesized.length > 0 ? RCODE.NOERROR : a.layout.flags & 0xf,
    flags: 0,
    answers,
    authorities,
    additionals,
  };
}
