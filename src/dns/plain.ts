import { EDNS_OPTION, QCLASS_IN, QTYPE } from './constants';
import { type MessageLayout, type RecordPosition, Section, readU16, scanMessage } from './scan';

/**
 * Reads a message off the wire when it is "plain": every name made of printable ASCII labels
 * without '.' or '\', every record of class IN and of a type whose RDATA is checked here
 * (A, AAAA, CNAME, DNAME, SOA; OPT in the additional section), each RDATA exactly filling its
 * RDLENGTH. For such a message dns-packet's decode succeeds and its re-encode gives back the same
 * records with names expanded, so the data path can read and copy it without dns-packet. Null
 * means "not plain" (DNSSEC records, other types, unusual names or options): decode it instead.
 */
export function readPlainMessage(buf: Uint8Array): MessageLayout | null {
  const layout = scanMessage(buf);
  if (!layout) return null;
  let at = 12;
  for (let i = 0; i < layout.qdcount; i++) {
    at = plainNameEnd(buf, at);
    if (at < 0) return null;
    at += 4;
  }
  for (const rec of layout.records) {
    if (!plainRecord(buf, rec)) return null;
  }
  return layout;
}

function plainRecord(buf: Uint8Array, rec: RecordPosition): boolean {
  if (plainNameEnd(buf, rec.nameOffset) < 0) return false;
  const end = rec.rdataOffset + rec.rdlength;
  if (rec.type === QTYPE.OPT) return rec.section === Section.Additional && plainOptions(buf, rec);
  if (rec.klass !== QCLASS_IN) return false;
  switch (rec.type) {
    case QTYPE.A:
      return rec.rdlength === 4;
    case QTYPE.AAAA:
      return rec.rdlength === 16;
    case QTYPE.CNAME:
    case QTYPE.DNAME:
      return plainNameEnd(buf, rec.rdataOffset) === end;
    case QTYPE.SOA: {
      const rname = plainNameEnd(buf, rec.rdataOffset);
      return rname >= 0 && plainNameEnd(buf, rname) + 20 === end;
    }
    default:
      return false;
  }
}

/**
 * EDNS options that exactly fill the OPT RDATA, none of the few (ECS, edns-tcp-keepalive, key
 * tag) whose data dns-packet parses further.
 */
function plainOptions(buf: Uint8Array, rec: RecordPosition): boolean {
  const end = rec.rdataOffset + rec.rdlength;
  let at = rec.rdataOffset;
  while (at < end) {
    if (at + 4 > end) return false;
    const code = readU16(buf, at);
    if (code === EDNS_OPTION.ECS || code === EDNS_OPTION.TCP_KEEPALIVE) return false;
    if (code === EDNS_OPTION.KEY_TAG) return false;
    at += 4 + readU16(buf, at + 2);
  }
  return at === end;
}

/**
 * Offset just past a plain name at `offset`, or -1. The rules are dns-packet's decoder's
 * (RFC 1035 §4.1.4 pointers only to prior data, at most 254 octets of labels), so a name read
 * here is one it decodes; labels are printable ASCII without '.' or '\', so its text encodes
 * back to the same labels (also for an SOA RNAME, which it reads as a mailbox).
 */
export function plainNameEnd(buf: Uint8Array, offset: number): number {
  let at = offset;
  let segment = offset;
  let end = -1;
  let total = 0;
  for (;;) {
    if (at >= buf.length) return -1;
    const len = buf[at]!;
    if (len === 0) return end < 0 ? at + 1 : end;
    if ((len & 0xc0) === 0xc0) {
      if (at + 2 > buf.length) return -1;
      const target = ((len & 0x3f) << 8) | buf[at + 1]!;
      if (target >= segment) return -1;
      if (end < 0) end = at + 2;
      at = segment = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || at + 1 + len > buf.length) return -1;
    total += len + 1;
    if (total > 254) return -1;
    for (let i = at + 1; i <= at + len; i++) {
      const c = buf[i]!;
      if (c < 0x20 || c > 0x7e || c === 0x2e || c === 0x5c) return -1;
    }
    at += 1 + len;
  }
}

/**
 * Whether the question of a plain response is `question` (wire bytes: an uncompressed name,
 * type, class): the same labels ignoring ASCII case (RFC 4343) and the same type; the class is
 * not compared.
 */
export function answersQuestion(buf: Uint8Array, question: Uint8Array): boolean {
  let at = 12;
  let q = 0;
  for (;;) {
    const len = buf[at]!;
    if ((len & 0xc0) === 0xc0) {
      at = ((len & 0x3f) << 8) | buf[at + 1]!;
      continue;
    }
    if (len !== question[q]) return false;
    if (len === 0) break;
    for (let i = 1; i <= len; i++) {
      if (lower(buf[at + i]!) !== lower(question[q + i]!)) return false;
    }
    at += 1 + len;
    q += 1 + len;
  }
  const end = plainNameEnd(buf, 12);
  return readU16(buf, end) === readU16(question, q + 1);
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}
