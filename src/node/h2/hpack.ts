/**
 * HPACK (RFC 7541) for the HTTP/2 server: a decoder with the dynamic table for request
 * header blocks, and an encoder for responses that never adds to the peer's dynamic table
 * (static-table references and literals without indexing, §6.2.2), so it keeps no state.
 */
import { Buffer } from 'node:buffer';
import { huffmanDecode } from './huffman';

export type HeaderField = readonly [name: string, value: string];

/** RFC 7541 Appendix A. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** §4.1: an entry's size is its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;

export class HpackError extends Error {}

/** §5.1: an integer with an N-bit prefix; returns [value, next offset]. */
export function decodeInteger(
  buf: Uint8Array,
  at: number,
  end: number,
  prefixBits: number,
): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = buf[at]! & max;
  at++;
  if (value < max) return [value, at];
  let shift = 0;
  for (;;) {
    if (at >= end) throw new HpackError('truncated integer');
    const b = buf[at++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, at];
    // Nothing in a header block needs more than 2^28; longer encodings are an attack.
    if (shift > 28) throw new HpackError('integer too large');
  }
}

/** Bytes (Latin-1, as HTTP/2 field values are octets) to a string. */
function latin1(bytes: Uint8Array): string {
  // ISO-8859-1 octet for octet (TextDecoder's "latin1" is windows-1252), without an array copy.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * The request-side decoder of one connection. Its dynamic table lives as long as the
 * connection: every header block must be decoded, in order, even for refused streams.
 */
export class HpackDecoder {
  /**
   * Newest entry last; index 62 is the newest (§2.3.3). Evicted entries stay before `oldest`
   * until they are many (a request that adds an entry usually evicts one).
   */
  private entries: HeaderField[] = [];
  private oldest = 0;
  private size = 0;
  private maxSize: number;

  /** `limit` is SETTINGS_HEADER_TABLE_SIZE as we announced it (default 4096). */
  constructor(private readonly limit = 4096) {
    this.maxSize = limit;
  }

  /** Decodes a whole header block; throws HpackError on a compression error (§4.3, §6). */
  decode(block: Uint8Array, maxListSize: number): HeaderField[] {
    const out: HeaderField[] = [];
    let listSize = 0;
    let at = 0;
    const end = block.length;
    let fieldsSeen = false;
    while (at < end) {
      const b = block[at]!;
      let field: HeaderField;
      if (b & 0x80) {
        // §6.1 indexed header field
        const [index, next] = decodeInteger(block, at, end, 7);
        at = next;
        field = this.lookup(index);
      } else if ((b & 0xe0) === 0x20) {
        // §6.3 dynamic table size update: only at the start of a block (§4.2)
        if (fieldsSeen) throw new HpackError('table size update after a header field');
        const [size, next] = decodeInteger(block, at, end, 5);
        at = next;
        if (size > this.limit) throw new HpackError(`table size ${size} over ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        // §6.2.1 with incremental indexing (01xxxxxx, 6-bit index), §6.2.2 without and
        // §6.2.3 never indexed (0000xxxx / 0001xxxx, 4-bit index)
        const indexing = (b & 0xc0) === 0x40;
        const [index, next] = decodeInteger(block, at, end, indexing ? 6 : 4);
        at = next;
        let name: string;
        if (index === 0) {
          const [text, after] = this.literal(block, at, end);
          name = text;
          at = after;
        } else {
          name = this.lookup(index)[0];
        }
        const [value, after] = this.literal(block, at, end);
        at = after;
        field = [name, value];
        if (indexing) this.insert(field);
      }
      fieldsSeen = true;
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize > maxListSize) throw new HpackError('header list too large');
      out.push(field);
    }
    return out;
  }

  private lookup(index: number): HeaderField {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const at = this.entries.length - (index - STATIC_TABLE.length);
    const field = at >= this.oldest ? this.entries[at] : undefined;
    if (!field) throw new HpackError(`index ${index} beyond the dynamic table`);
    return field;
  }

  /** §5.2 string literal. */
  private literal(buf: Uint8Array, at: number, end: number): [string, number] {
    if (at >= end) throw new HpackError('truncated string');
    const huffman = (buf[at]! & 0x80) !== 0;
    const [length, start] = decodeInteger(buf, at, end, 7);
    const stop = start + length;
    if (stop > end) throw new HpackError('string beyond the block');
    if (!huffman) return [latin1(buf.subarray(start, stop)), stop];
    const bytes = huffmanDecode(buf, start, stop);
    if (!bytes) throw new HpackError('invalid Huffman string');
    return [latin1(bytes), stop];
  }

  /** §4.4: add, evicting the oldest until it fits; an entry larger than the table empties it. */
  private insert(field: HeaderField): void {
    const size = field[0].length + field[1].length + ENTRY_OVERHEAD;
    this.evict(size);
    if (size <= this.maxSize) {
      this.entries.push(field);
      this.size += size;
    }
  }

  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.oldest < this.entries.length) {
      const [n, v] = this.entries[this.oldest++]!;
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
    }
    if (this.oldest > 64 && this.oldest * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.oldest);
      this.oldest = 0;
    }
  }
}

/** Static-table index of each `:status` value and each name (first match). */
const STATUS_INDEX = new Map<string, number>();
const NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (name === ':status') STATUS_INDEX.set(value, i + 1);
  if (!NAME_INDEX.has(name)) NAME_INDEX.set(name, i + 1);
});

/** Where response header blocks are written before they are copied out (grows when needed). */
let scratch = new Uint8Array(1024);
let used = 0;

function room(n: number): void {
  if (used + n <= scratch.length) return;
  const bigger = new Uint8Array(Math.max(scratch.length * 2, used + n));
  bigger.set(scratch.subarray(0, used));
  scratch = bigger;
}

/** §5.1 integer, the first byte's high bits given. */
function pushInteger(value: number, prefixBits: number, high: number): void {
  room(6);
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    scratch[used++] = high | value;
    return;
  }
  scratch[used++] = high | max;
  value -= max;
  while (value >= 128) {
    scratch[used++] = (value % 128) + 128;
    value = Math.floor(value / 128);
  }
  scratch[used++] = value;
}

function pushString(text: string): void {
  pushInteger(text.length, 7, 0);
  room(text.length);
  for (let i = 0; i < text.length; i++) scratch[used++] = text.charCodeAt(i) & 0xff;
}

/**
 * A response header block: `:status` (indexed when the static table has it) and the fields as
 * literals without indexing (§6.2.2), names by static index where there is one. Names must be
 * lowercase (RFC 9113 §8.2.1); values are Latin-1.
 */
export function encodeResponseHeaders(status: number, fields: readonly HeaderField[]): Uint8Array {
  used = 0;
  const code = String(status);
  const indexed = STATUS_INDEX.get(code);
  if (indexed) pushInteger(indexed, 7, 0x80);
  else {
    pushInteger(NAME_INDEX.get(':status')!, 4, 0);
    pushString(code);
  }
  for (const [name, value] of fields) {
    const index = NAME_INDEX.get(name);
    if (index) pushInteger(index, 4, 0);
    else {
      pushInteger(0, 4, 0);
      pushString(name);
    }
    pushString(value);
  }
  return scratch.slice(0, used);
}
