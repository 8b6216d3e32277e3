/**
 * A zero-copy walker over DNS wire messages (RFC 1035 §4.1): finds where each record's TTL and
 * RDATA sit without decoding names, so TTLs can be read or rewritten in place.
 */

export const enum Section {
  Answer = 0,
  Authority = 1,
  Additional = 2,
}

export interface RecordPosition {
  section: Section;
  /** Offset of the owner name. */
  nameOffset: number;
  type: number;
  klass: number;
  /** Offset of the 32-bit TTL field. */
  ttlOffset: number;
  rdataOffset: number;
  rdlength: number;
}

export interface MessageLayout {
  id: number;
  flags: number;
  qdcount: number;
  /** Offset just past the question section. */
  questionEnd: number;
  records: RecordPosition[];
}

/** Offset just past the (possibly compressed) name at `offset`, or -1 when it runs off the end. */
export function skipName(buf: Uint8Array, offset: number): number {
  let at = offset;
  for (;;) {
    if (at >= buf.length) return -1;
    const len = buf[at]!;
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2 <= buf.length ? at + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    at += 1 + len;
  }
}

export function readU16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

export function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

/** Lays out a message, or returns null when it is malformed. */
export function scanMessage(buf: Uint8Array): MessageLayout | null {
  if (buf.length < 12) return null;
  const qdcount = readU16(buf, 4);
  const counts = [readU16(buf, 6), readU16(buf, 8), readU16(buf, 10)];
  let at = 12;
  for (let i = 0; i < qdcount; i++) {
    at = skipName(buf, at);
    if (at < 0 || at + 4 > buf.length) return null;
    at += 4;
  }
  const questionEnd = at;
  const records: RecordPosition[] = [];
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]!; i++) {
      const nameOffset = at;
      at = skipName(buf, at);
      if (at < 0 || at + 10 > buf.length) return null;
      const rdlength = readU16(buf, at + 8);
      if (at + 10 + rdlength > buf.length) return null;
      records.push({
        section: section as Section,
        nameOffset,
        type: readU16(buf, at),
        klass: readU16(buf, at + 2),
        ttlOffset: at + 4,
        rdataOffset: at + 10,
        rdlength,
      });
      at += 10 + rdlength;
    }
  }
  return { id: readU16(buf, 0), flags: readU16(buf, 2), qdcount, questionEnd, records };
}
