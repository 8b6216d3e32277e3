import { formatAddress, parseAddress } from '../acl/address';
import { FLAG, RCODE } from '../dns/constants';
import { type Answer, type Packet, rcodeOf } from '../dns/message';
import { negativeTtl } from '../dns/ttl';
import { scanMessage } from '../dns/scan';
import type { UpstreamResult } from '../upstream/doh-client';
import { type Dns64Policy, inDomain } from './policy';
import { embedIpv4, isWellKnownPrefix } from './prefix';
import { isGlobalIpv4 } from './special-purpose';

/** RFC 6147 §5.1.7: without an SOA, a synthesized record lives at most 600 seconds. */
export const DEFAULT_SYNTH_TTL = 600;

/** What the DNS64 decided for one AAAA question (RFC 6147 §5.1). */
export type Dns64Outcome =
  /** The AAAA response as it came (real records, NXDOMAIN, or NODATA). */
  | { kind: 'upstream'; bytes: Uint8Array }
  /** A response built here: synthesized, filtered, or based on the A response. */
  | { kind: 'built'; packet: Packet; synthesized: boolean }
  /** Neither query gave usable data. */
  | { kind: 'failed'; detail: string; timeout: boolean };

/**
 * RFC 6147 §5.1: decides the answer to an AAAA question from the AAAA and the A responses,
 * which were asked in parallel.
 */
export function synthesizeAaaa(
  policy: Dns64Policy,
  qname: string,
  aaaa: UpstreamResult,
  a: UpstreamResult,
): Dns64Outcome {
  let aaaaNoData = false;
  if (aaaa.ok) {
    const rcode = rcodeOf(aaaa.packet);
    // §5.1.2: NXDOMAIN means the name does not exist; there is nothing to synthesize from.
    if (rcode === RCODE.NXDOMAIN) return { kind: 'upstream', bytes: aaaa.bytes };
    if (rcode === RCODE.NOERROR) {
      const answers = aaaa.packet.answers ?? [];
      const real = answers.filter(isAaaa);
      const ignored = policy.synthAll || policy.ignoreAaaa.some((d) => inDomain(qname, d));
      const usable = ignored ? [] : real.filter((r) => !isExcluded(policy, r.data));
      if (usable.length > 0) {
        if (usable.length === real.length) return { kind: 'upstream', bytes: aaaa.bytes };
        // §5.1.4: excluded records are dropped one by one; the rest go back as they are.
        const keep = new Set<Answer>(usable);
        const kept = answers.filter((r) => !isAaaa(r) || keep.has(r));
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

  const aRecords = (a.packet.answers ?? []).filter(isA);
  const synthesized = aRecords.length > 0 && rcodeOf(a.packet) === RCODE.NOERROR;
  const records = synthesized ? synthesizeRecords(policy, aaaa, aRecords) : [];
  if (records.length === 0) {
    // §5.1.2: an empty or failed A answer is the basis of the response. Both empty: the AAAA
    // NODATA goes back as it came (with its own SOA).
    if (aaaaNoData && aaaa.ok && rcodeOf(a.packet) === RCODE.NOERROR) {
      return { kind: 'upstream', bytes: aaaa.bytes };
    }
    return { kind: 'built', packet: basedOnA(a.packet, []), synthesized: false };
  }
  return { kind: 'built', packet: basedOnA(a.packet, records), synthesized: true };
}

function isAaaa(r: Answer): r is Answer & { type: 'AAAA'; data: string } {
  return r.type === 'AAAA' && typeof r.data === 'string';
}

function isA(r: Answer): r is Answer & { type: 'A'; data: string } {
  return r.type === 'A' && typeof r.data === 'string';
}

function isExcluded(policy: Dns64Policy, address: string): boolean {
  const bytes = parseAddress(address, false);
  return bytes !== null && bytes.length === 16 && policy.exclude.contains(bytes);
}

/**
 * §5.1.7 TTL: min(A TTL, negative TTL of the AAAA answer's SOA), or min(A TTL, 600) without
 * an SOA. One AAAA per prefix whose `mapped` set holds the address (§5.2), none for
 * non-global IPv4 under the Well-Known Prefix (RFC 6052 §3.1).
 */
function synthesizeRecords(
  policy: Dns64Policy,
  aaaa: UpstreamResult,
  aRecords: readonly (Answer & { data: string })[],
): Answer[] {
  let ceiling = DEFAULT_SYNTH_TTL;
  if (aaaa.ok) {
    const layout = scanMessage(aaaa.bytes);
    const negative = layout ? negativeTtl(aaaa.bytes, layout) : null;
    if (negative !== null) ceiling = negative;
  }
  const out: Answer[] = [];
  for (const rule of policy.prefixes) {
    const wkp = isWellKnownPrefix(rule.prefix);
    for (const rec of aRecords) {
      const v4 = parseAddress(rec.data);
      if (!v4 || v4.length !== 4) continue;
      if (!rule.mapped.isEmpty && !rule.mapped.contains(v4)) continue;
      if (wkp && !isGlobalIpv4(v4)) continue;
      const addr = embedIpv4(rule.prefix, v4, policy.suffix ?? undefined);
      out.push({
        type: 'AAAA',
        name: rec.name,
        class: 'IN',
        ttl: Math.min(('ttl' in rec ? rec.ttl : undefined) ?? 0, ceiling),
        data: formatAddress(addr),
      });
    }
  }
  return out;
}

/**
 * A response built on the A answer: its CNAME/DNAME chain (§5.1.3), the synthesized records in
 * place of the A records, its additional section unchanged. AD is never set (§5.5), nor AA.
 */
function basedOnA(a: Packet, synthesized: Answer[]): Packet {
  const chain = (a.answers ?? []).filter((r) => r.type === 'CNAME' || r.type === 'DNAME');
  // Synthesized data is neither authoritative nor validated.
  const flags = (a.flags ?? 0) & ~FLAG.AD & ~FLAG.AA;
  return {
    type: 'response',
    flags: synthesized.length > 0 ? (flags & ~0xf) | RCODE.NOERROR : flags,
    answers: [...chain, ...synthesized],
    authorities: synthesized.length > 0 ? [] : (a.authorities ?? []).filter(notSig),
    additionals: (a.additionals ?? []).filter((r) => r.type !== 'OPT'),
  };
}

function notSig(r: Answer): boolean {
  return r.type !== 'RRSIG';
}
