/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical: ordering the
 * symbols by code length, then by value, and counting up gives Appendix B's codes exactly, so
 * the lengths alone define it.
 */

/** Code length in bits of each symbol 0..255 and of EOS (256), from RFC 7541 Appendix B. */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5,
  6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6,
  7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23,
  23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22,
  22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22,
  23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27,
  27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25,
  24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS = 256;
const MAX_LENGTH = 30;

/** Canonical decoding tables: per length, the first code and where its symbols start. */
const firstCode = new Int32Array(MAX_LENGTH + 2);
const countOf = new Int32Array(MAX_LENGTH + 2);
const offsetOf = new Int32Array(MAX_LENGTH + 2);
const symbols = new Uint16Array(257);
{
  for (const len of CODE_LENGTHS) countOf[len]!++;
  let code = 0;
  let offset = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    firstCode[len] = code;
    offsetOf[len] = offset;
    code = (code + countOf[len]!) << 1;
    offset += countOf[len]!;
  }
  const next = Int32Array.from(offsetOf);
  for (let sym = 0; sym < 257; sym++) symbols[next[CODE_LENGTHS[sym]!]!++] = sym;
}

/** The code of one symbol (for tests and the encoder): [code, length]. */
export function huffmanCode(symbol: number): [number, number] {
  const len = CODE_LENGTHS[symbol]!;
  const rank = symbols.subarray(offsetOf[len]!, offsetOf[len]! + countOf[len]!).indexOf(symbol);
  return [firstCode[len]! + rank, len];
}

/**
 * The decoder's state machine, four bits at a time (as nghttp2 decodes): a state is an inner
 * node of the code tree (256 of them, the root is 0), and each (state, nibble) entry says where
 * the four bits lead and which symbol they complete, if any (every code is at least 5 bits long,
 * so at most one). Entry bits: 0-7 the next state, 8 a symbol ends, 9-16 the symbol, 17 EOS
 * was coded (an error, §5.2). A state may end the input when its path from the root is at most
 * 7 bits, all ones: the padding (§5.2).
 */
const NIBBLE_TABLE = new Int32Array(256 * 16);
const MAY_END = new Uint8Array(256);
const EMITS = 1 << 8;
const EOS_CODED = 1 << 17;
{
  // The tree: inner nodes 0..255 with two children each; a child >= 0 is an inner node, a
  // child < 0 is the leaf of symbol -child - 1.
  const children = new Int32Array(256 * 2).fill(0x7fffffff);
  const depth = new Uint8Array(256);
  const ones = new Uint8Array(256);
  ones[0] = 1;
  let inner = 1;
  for (let sym = 0; sym < 257; sym++) {
    const [code, len] = huffmanCode(sym);
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >> i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        children[slot] = -sym - 1;
        break;
      }
      if (children[slot] === 0x7fffffff) {
        children[slot] = inner;
        depth[inner] = depth[node]! + 1;
        ones[inner] = ones[node]! & bit;
        inner++;
      }
      node = children[slot]!;
    }
  }
  for (let state = 0; state < 256; state++) {
    MAY_END[state] = state === 0 || (ones[state] === 1 && depth[state]! <= 7) ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const child = children[node * 2 + ((nibble >> i) & 1)]!;
        if (child >= 0) {
          node = child;
          continue;
        }
        const sym = -child - 1;
        if (sym === EOS) entry |= EOS_CODED;
        else entry |= EMITS | (sym << 9);
        node = 0;
      }
      NIBBLE_TABLE[state * 16 + nibble] = entry | node;
    }
  }
}

/**
 * Decodes a Huffman-coded string literal into bytes; null when it is not valid: the EOS
 * symbol inside, or padding longer than 7 bits or not the most significant bits of EOS
 * (§5.2, a decoding error).
 */
export function huffmanDecode(input: Uint8Array, start: number, end: number): Uint8Array | null {
  const out = new Uint8Array(Math.ceil(((end - start) * 8) / 5));
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = input[i]!;
    let entry = NIBBLE_TABLE[state * 16 + (byte >> 4)]!;
    if (entry & EOS_CODED) return null;
    if (entry & EMITS) out[n++] = (entry >> 9) & 0xff;
    entry = NIBBLE_TABLE[(entry & 0xff) * 16 + (byte & 0xf)]!;
    if (entry & EOS_CODED) return null;
    if (entry & EMITS) out[n++] = (entry >> 9) & 0xff;
    state = entry & 0xff;
  }
  return MAY_END[state] ? out.subarray(0, n) : null;
}
