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
 * Decodes a Huffman-coded string literal into bytes; null when it is not valid: the EOS
 * symbol inside, or padding longer than 7 bits or not the most significant bits of EOS
 * (§5.2, a decoding error).
 */
export function huffmanDecode(input: Uint8Array, start: number, end: number): Uint8Array | null {
  const out = new Uint8Array(Math.ceil(((end - start) * 8) / 5));
  let n = 0;
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const byte = input[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const rank = code - firstCode[len]!;
      if (rank < countOf[len]!) {
        const sym = symbols[offsetOf[len]! + rank]!;
        if (sym === EOS) return null;
        out[n++] = sym;
        code = 0;
        len = 0;
      } else if (len >= MAX_LENGTH) {
        return null;
      }
    }
  }
  // What is left must be padding: fewer than 8 bits, all ones.
  if (len > 7 || code !== (1 << len) - 1) return null;
  return out.subarray(0, n);
}
