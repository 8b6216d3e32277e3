import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackError, decodeInteger, encodeResponseHeaders } from './hpack';
import { huffmanCode, huffmanDecode } from './huffman';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const LIMIT = 65_536;

describe('HPACK integers (RFC 7541 5.1, C.1)', () => {
  it('decodes 10 in a 5-bit prefix, 1337 in a 5-bit prefix and 42 in a full octet', () => {
    expect(decodeInteger(hex('0a'), 0, 1, 5)).toEqual([10, 1]);
    expect(decodeInteger(hex('1f9a0a'), 0, 3, 5)).toEqual([1337, 3]);
    expect(decodeInteger(hex('2a'), 0, 1, 8)).toEqual([42, 1]);
  });

  it('refuses a truncated integer and one longer than any header block needs', () => {
    expect(() => decodeInteger(hex('1f9a'), 0, 2, 5)).toThrow(HpackError);
    expect(() => decodeInteger(hex('1fffffffffff01'), 0, 7, 5)).toThrow('integer too large');
  });
});

describe('HPACK Huffman code (RFC 7541 Appendix B)', () => {
  it('rebuilds Appendix B codes from the lengths', () => {
    expect(huffmanCode(0x30)).toEqual([0x0, 5]); // '0'
    expect(huffmanCode(0x61)).toEqual([0x3, 5]); // 'a'
    expect(huffmanCode(0x3a)).toEqual([0x5c, 7]); // ':'
    expect(huffmanCode(0xff)).toEqual([0x3ffffee, 26]);
    expect(huffmanCode(256)).toEqual([0x3fffffff, 30]); // EOS
  });

  it('decodes www.example.com and refuses bad padding or an EOS inside', () => {
    const www = hex('f1e3c2e5f23a6ba0ab90f4ff');
    expect(new TextDecoder().decode(huffmanDecode(www, 0, www.length)!)).toBe('www.example.com');
    // 'a' (00011) then 3 padding bits of zeros instead of ones.
    expect(huffmanDecode(hex('18'), 0, 1)).toBeNull();
    // 'a' then 11 bits of padding: more than 7.
    expect(huffmanDecode(hex('1fff'), 0, 2)).toBeNull();
    // EOS (30 ones) followed by two padding ones.
    expect(huffmanDecode(hex('ffffffff'), 0, 4)).toBeNull();
  });

  it('decodes every octet after every other, with every padding length (0 to 7 bits)', () => {
    // Encoded here bit by bit from the canonical codes: each octet 0..255 follows each
    // padding-length case, so every state of the decoder's table meets every nibble.
    for (let lead = 0; lead < 8; lead++) {
      const text = Uint8Array.from({ length: 256 + lead }, (_, i) => (i * 37 + lead) & 0xff);
      let bits = '';
      for (const octet of text) {
        const [code, len] = huffmanCode(octet);
        bits += code.toString(2).padStart(len, '0');
      }
      const pad = (8 - (bits.length % 8)) % 8;
      bits += '1'.repeat(pad);
      const bytes = Uint8Array.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
      expect(huffmanDecode(bytes, 0, bytes.length)).toEqual(text);
      // One more octet of ones is 8 bits of padding or more: refused (RFC 7541 5.2).
      const longer = Uint8Array.from([...bytes, 0xff]);
      expect(huffmanDecode(longer, 0, longer.length)).toBeNull();
    }
  });
});

describe('HPACK decoder', () => {
  const first = [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ];
  const second = [...first, ['cache-control', 'no-cache']];
  const third = [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', 'www.example.com'],
    ['custom-key', 'custom-value'],
  ];

  it('decodes RFC 7541 C.3, three requests without Huffman coding, sharing the table', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('828684410f7777772e6578616d706c652e636f6d'), LIMIT)).toEqual(first);
    expect(d.decode(hex('828684be58086e6f2d6361636865'), LIMIT)).toEqual(second);
    const c33 = '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565';
    expect(d.decode(hex(c33), LIMIT)).toEqual(third);
  });

  it('decodes RFC 7541 C.4, the same requests with Huffman coding', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'), LIMIT)).toEqual(first);
    expect(d.decode(hex('828684be5886a8eb10649cbf'), LIMIT)).toEqual(second);
    const c43 = '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf';
    expect(d.decode(hex(c43), LIMIT)).toEqual(third);
  });

  it('evicts the oldest entries when the table shrinks (RFC 7541 4.3, 6.3)', () => {
    const d = new HpackDecoder();
    // Two entries of 3 + 3 + 32 = 38 bytes each: x-a: one, x-b: two (incremental indexing).
    d.decode(hex('4003782d61036f6e65'), LIMIT);
    d.decode(hex('4003782d620374776f'), LIMIT);
    expect(d.decode(hex('bebf'), LIMIT)).toEqual([
      ['x-b', 'two'],
      ['x-a', 'one'],
    ]);
    // A size update to 50 keeps only the newest; index 63 is gone.
    expect(d.decode(hex('3f13be'), LIMIT)).toEqual([['x-b', 'two']]);
    expect(() => d.decode(hex('bf'), LIMIT)).toThrow('beyond the dynamic table');
  });

  it('keeps indices right while a long connection evicts hundreds of entries (RFC 7541 2.3.3)', () => {
    const d = new HpackDecoder();
    const enc = (text: string) => [text.length, ...new TextEncoder().encode(text)];
    for (let i = 0; i < 500; i++) {
      const name = `x-${i}`;
      const value = `v${i}`.padEnd(40, '.');
      d.decode(Uint8Array.from([0x40, ...enc(name), ...enc(value)]), LIMIT);
      // 62 is the newest entry, 63 the one before it.
      expect(d.decode(hex('be'), LIMIT)).toEqual([[name, value]]);
      if (i > 0) expect(d.decode(hex('bf'), LIMIT)[0]![0]).toBe(`x-${i - 1}`);
    }
    // Each entry takes 5 + 40 + 32 = 77 octets: 53 fit in 4096. Index 61 + 53 = 114 is the
    // oldest kept (x-447), 115 is beyond the table.
    expect(d.decode(Uint8Array.from([0x80 | 114]), LIMIT)[0]![0]).toBe('x-447');
    expect(() => d.decode(Uint8Array.from([0x80 | 115]), LIMIT)).toThrow(
      'beyond the dynamic table',
    );
  });

  it('refuses a size update above the announced limit or after a field, and index 0', () => {
    expect(() => new HpackDecoder().decode(hex('3fe21f'), LIMIT)).toThrow('over 4096');
    expect(() => new HpackDecoder().decode(hex('823f13'), LIMIT)).toThrow('after a header field');
    expect(() => new HpackDecoder().decode(hex('80'), LIMIT)).toThrow('index 0');
  });

  it('stops a header list larger than the limit (a small block referencing a big entry)', () => {
    const d = new HpackDecoder();
    const big = 'v'.repeat(1000);
    // Literal with incremental indexing, new name 'x', value length 1000 = 127 + 873 (e9 06).
    const block = new Uint8Array([
      0x40,
      0x01,
      0x78,
      0x7f,
      0xe9,
      0x06,
      ...new TextEncoder().encode(big),
    ]);
    expect(d.decode(block, LIMIT)).toEqual([['x', big]]);
    expect(() => d.decode(new Uint8Array(100).fill(0xbe), 20_000)).toThrow('header list too large');
  });
});

describe('HPACK response encoder', () => {
  it('indexes :status 200 and writes literals without indexing, by static name index', () => {
    const block = encodeResponseHeaders(200, [
      ['content-type', 'application/dns-message'],
      ['x-y', 'z'],
    ]);
    const expected = [
      0x88,
      0x0f,
      0x10,
      0x17,
      ...new TextEncoder().encode('application/dns-message'),
    ];
    expected.push(0x00, 0x03, ...new TextEncoder().encode('x-y'), 0x01, 0x7a);
    expect([...block]).toEqual(expected);
    expect(new HpackDecoder().decode(block, LIMIT)).toEqual([
      [':status', '200'],
      ['content-type', 'application/dns-message'],
      ['x-y', 'z'],
    ]);
  });

  it('writes a status the static table lacks as a literal, and long values with a multi-byte length', () => {
    const long = 'a'.repeat(300);
    const decoded = new HpackDecoder().decode(
      encodeResponseHeaders(429, [
        ['retry-after', '60'],
        ['x-long', long],
      ]),
      LIMIT,
    );
    expect(decoded).toEqual([
      [':status', '429'],
      ['retry-after', '60'],
      ['x-long', long],
    ]);
  });
});
