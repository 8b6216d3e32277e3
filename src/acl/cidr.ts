import { type AddressBytes, parseAddress, samePrefix } from './address';

export interface CidrRange {
  readonly bytes: AddressBytes;
  readonly length: number;
  /** BIND address-match-list negation: a matching `!` element refuses. */
  readonly negated: boolean;
  readonly text: string;
}

export type CidrParse = { ok: true; range: CidrRange } | { ok: false; reason: string };

/** Parses `192.0.2.0/24`, `2001:db8::/32`, a bare address, or any of them behind `!`. */
export function parseCidr(input: string): CidrParse {
  const text = input.trim();
  const negated = text.startsWith('!');
  const body = negated ? text.slice(1).trim() : text;
  const slash = body.indexOf('/');
  const addrText = slash < 0 ? body : body.slice(0, slash);
  const bytes = parseAddress(addrText, false);
  if (!bytes) {
    return { ok: false, reason: `${text}: not an IP address or range` };
  }
  const max = bytes.length * 8;
  const lenText = slash < 0 ? String(max) : body.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    return { ok: false, reason: `${text}: prefix length must be 0 to ${max}` };
  }
  return { ok: true, range: { bytes, length: Number(lenText), negated, text } };
}

/**
 * An ordered address match list: the first element that contains the address decides
 * (negated elements refuse), and no match means "not in the set" (BIND's semantics).
 */
export class CidrSet {
  private constructor(readonly ranges: readonly CidrRange[]) {}

  static readonly EMPTY = new CidrSet([]);

  /** Builds a set, or throws an Error naming every bad element (for config-time use). */
  static parse(elements: readonly string[]): CidrSet {
    const { set, errors } = CidrSet.tryParse(elements);
    if (errors.length) throw new Error(errors.join('; '));
    return set;
  }

  static tryParse(elements: readonly string[]): { set: CidrSet; errors: string[] } {
    const ranges: CidrRange[] = [];
    const errors: string[] = [];
    for (const el of elements) {
      const parsed = parseCidr(el);
      if (parsed.ok) ranges.push(parsed.range);
      else errors.push(parsed.reason);
    }
    return { set: new CidrSet(ranges), errors };
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  contains(addr: AddressBytes): boolean {
    for (const r of this.ranges) {
      if (r.bytes.length === addr.length && samePrefix(r.bytes, addr, r.length)) return !r.negated;
    }
    return false;
  }

  containsText(addr: string): boolean {
    const bytes = parseAddress(addr);
    return bytes !== null && this.contains(bytes);
  }
}
