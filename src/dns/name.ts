/**
 * Domain names as octet strings (RFC 1035 §3.1, RFC 2181 §11): the one name codec of the data
 * path. A name is its uncompressed wire form, a sequence of length-prefixed labels ending in the
 * root's zero octet. Any octet may sit in a label (a dot, a backslash, a space, 0x00-0xFF); names
 * compare case-insensitively on the ASCII letters A-Z only (RFC 4343 §3), and are never turned
 * into dotted text and back on the way through, which could not represent every name.
 */

/** The longest name on the wire, root included (RFC 1035 §2.3.4). */
export const MAX_NAME_OCTETS = 255;
export const MAX_LABEL_OCTETS = 63;

/** The root name. */
export const ROOT: Uint8Array = Uint8Array.of(0);

/** A name read from a message: its uncompressed form and the offset just past it there. */
export interface ReadName {
  readonly name: Uint8Array;
  readonly end: number;
}

/**
 * Reads the name at `offset` of the message `msg`, following compression pointers (RFC 1035
 * §4.1.4) only backwards, so no loop is possible. Null when the name is malformed: it runs off
 * the message, uses a reserved label type, points forward, or passes 255 octets.
 */
export function readName(msg: Uint8Array, offset: number): ReadName | null {
  const end = nameEnd(msg, offset);
  if (end < 0) return null;
  return { name: expandName(msg, offset), end };
}

/**
 * The offset just past the name at `offset` (2 past its first pointer), or -1 when it is
 * malformed (see readName). Checks as readName does, without building the name.
 */
export function nameEnd(msg: Uint8Array, offset: number): number {
  let at = offset;
  let segment = offset;
  let end = -1;
  let total = 1;
  for (;;) {
    if (at >= msg.length) return -1;
    const len = msg[at]!;
    if (len === 0) return end < 0 ? at + 1 : end;
    if ((len & 0xc0) === 0xc0) {
      if (at + 2 > msg.length) return -1;
      const target = ((len & 0x3f) << 8) | msg[at + 1]!;
      // Only to prior data (RFC 1035 §4.1.4), and never into the 12-octet header.
      if (target >= segment || target < 12) return -1;
      if (end < 0) end = at + 2;
      at = segment = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || at + 1 + len > msg.length) return -1;
    total += len + 1;
    if (total > MAX_NAME_OCTETS) return -1;
    at += 1 + len;
  }
}

/** The uncompressed form of a name already checked by nameEnd(). */
function expandName(msg: Uint8Array, offset: number): Uint8Array {
  let at = offset;
  let length = 0;
  let jumped = false;
  for (;;) {
    const len = msg[at]!;
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      at = ((len & 0x3f) << 8) | msg[at + 1]!;
      jumped = true;
      continue;
    }
    length += len + 1;
    at += len + 1;
  }
  // The common case, a name without pointers, is one slice.
  if (!jumped) return msg.slice(offset, offset + length + 1);
  const out = new Uint8Array(length + 1);
  let w = 0;
  at = offset;
  for (;;) {
    const len = msg[at]!;
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      at = ((len & 0x3f) << 8) | msg[at + 1]!;
      continue;
    }
    out.set(msg.subarray(at, at + 1 + len), w);
    w += len + 1;
    at += len + 1;
  }
  return out;
}

/** An ASCII letter's lower case (RFC 4343 §3: only A-Z fold); any other octet as it is. */
export function foldOctet(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** Whether two uncompressed names are the same name (RFC 4343: A-Z and a-z are equal). */
export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (foldOctet(a[i]!) !== foldOctet(b[i]!)) return false;
  return true;
}

/**
 * A string that is equal for equal names and different for different ones: the folded octets
 * as UTF-16 code units (latin1), for maps and cache keys; `suffix` octets follow the name (a
 * wire name ends at its root label, so nothing after it can make two keys equal).
 */
export function nameKey(name: Uint8Array, suffix: readonly number[] = NO_SUFFIX): string {
  const n = name.length;
  if (n + suffix.length > keyScratch.length) {
    let key = '';
    for (let i = 0; i < n; i++) key += String.fromCharCode(foldOctet(name[i]!));
    for (const octet of suffix) key += String.fromCharCode(octet & 0xff);
    return key;
  }
  // One flat string from a scratch array: built char by char it is a rope of small strings,
  // flattened again when a Map hashes it.
  for (let i = 0; i < n; i++) keyScratch[i] = foldOctet(name[i]!);
  for (let i = 0; i < suffix.length; i++) keyScratch[n + i] = suffix[i]! & 0xff;
  const chars = keyScratch.subarray(0, n + suffix.length) as unknown as number[];
  return String.fromCharCode.apply(null, chars);
}

const NO_SUFFIX: readonly number[] = [];
/** A name's octets (at most 255) and a few octets after it, for nameKey. */
const keyScratch = new Uint8Array(MAX_NAME_OCTETS + 16);

/** Whether `name` is `domain` or below it (whole labels; RFC 4343 case folding). */
export function isInDomain(name: Uint8Array, domain: Uint8Array): boolean {
  if (domain.length > name.length) return false;
  const start = name.length - domain.length;
  // The tail must start at a label boundary of `name`.
  let at = 0;
  while (at < start) at += name[at]! + 1;
  if (at !== start) return false;
  for (let i = 0; i < domain.length; i++) {
    if (foldOctet(name[start + i]!) !== foldOctet(domain[i]!)) return false;
  }
  return true;
}

/** A name from its labels (each 1 to 63 octets; the caller keeps the total within 255). */
export function nameFromLabels(labels: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(labels.reduce((n, l) => n + l.length + 1, 1));
  let w = 0;
  for (const label of labels) {
    out[w++] = label.length;
    out.set(label, w);
    w += label.length;
  }
  return out;
}

/**
 * Octets written as `\c` in master-file text besides the dot separator: RFC 1035 §5.1's special
 * characters, as BIND and Unbound print them.
 */
const ESCAPED = new Set([0x2e, 0x5c, 0x22, 0x28, 0x29, 0x3b, 0x40, 0x24]); // . \ " ( ) ; @ $

/**
 * The master-file form of a name (RFC 1035 §5.1), fully qualified with its final dot: `\.` and
 * `\\` and the other special characters escaped, octets outside printable ASCII as `\DDD`.
 */
export function nameToText(name: Uint8Array): string {
  if (name.length <= 1) return '.';
  let out = '';
  for (let at = 0; at < name.length && name[at] !== 0; at += name[at]! + 1) {
    const len = name[at]!;
    for (let i = at + 1; i <= at + len; i++) {
      const c = name[i]!;
      if (c <= 0x20 || c >= 0x7f) out += `\\${String(c).padStart(3, '0')}`;
      else if (ESCAPED.has(c)) out += `\\${String.fromCharCode(c)}`;
      else out += String.fromCharCode(c);
    }
    out += '.';
  }
  return out;
}

export type ParsedName = { ok: true; name: Uint8Array } | { ok: false; reason: string };

/**
 * A name in master-file form (RFC 1035 §5.1): labels separated by `.`, `\c` for the character
 * c itself, `\DDD` for the octet DDD (decimal); a final dot is optional (the name is taken as
 * fully qualified either way). Characters above U+007F are written as their UTF-8 octets.
 */
export function textToName(text: string): ParsedName {
  if (text === '.' || text === '') return { ok: true, name: ROOT };
  const bytes = new TextEncoder().encode(text);
  const labels: Uint8Array[] = [];
  let label: number[] = [];
  let total = 1;
  const close = (): string | null => {
    if (label.length === 0) return `name ${text} has an empty label`;
    if (label.length > MAX_LABEL_OCTETS) return `name ${text} has a label longer than 63 octets`;
    total += label.length + 1;
    labels.push(Uint8Array.from(label));
    label = [];
    return null;
  };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x2e) {
      const err = close();
      if (err) return { ok: false, reason: err };
      continue;
    }
    if (c !== 0x5c) {
      label.push(c);
      continue;
    }
    const next = bytes[i + 1];
    if (next === undefined) return { ok: false, reason: `name ${text} ends in a lone backslash` };
    if (isDigit(next)) {
      const d2 = bytes[i + 2];
      const d3 = bytes[i + 3];
      if (d2 === undefined || d3 === undefined || !isDigit(d2) || !isDigit(d3)) {
        return { ok: false, reason: `name ${text} has an escape \\DDD without three digits` };
      }
      const value = (next - 0x30) * 100 + (d2 - 0x30) * 10 + (d3 - 0x30);
      if (value > 255) return { ok: false, reason: `name ${text} has an escape above \\255` };
      label.push(value);
      i += 3;
    } else {
      label.push(next);
      i += 1;
    }
  }
  if (label.length > 0) {
    const err = close();
    if (err) return { ok: false, reason: err };
  }
  if (total > MAX_NAME_OCTETS) {
    return { ok: false, reason: `name ${text} is longer than 255 octets on the wire` };
  }
  return { ok: true, name: nameFromLabels(labels) };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A name from dotted text that needs no escapes (names this code spells out, e.g. `ipv4only.arpa`). */
export function literalName(text: string): Uint8Array {
  const parsed = textToName(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.name;
}
