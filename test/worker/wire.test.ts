import * as dnsPacket from 'dns-packet';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  isInDomain,
  literalName,
  nameKey,
  nameToText,
  readName,
  sameName,
  textToName,
} from '../../src/dns/name';
import { parseQuery } from '../../src/dns/query';
import { checkMessage, rrAt, writeRr } from '../../src/dns/records';
import { WireWriter } from '../../src/dns/write';
import { encodeUpstreamQuestion } from '../../src/upstream/question';
import { readLabels, wireName } from '../helpers/wire';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('the name codec (RFC 1035 sec. 3.1 and 5.1, RFC 4343)', () => {
  it('reads master-file text: \\. inside a label, \\\\, \\DDD, a final dot optional', () => {
    const cases: [string, Uint8Array][] = [
      ['dot\\.label.field.test', wireName('dot.label', 'field', 'test')],
      ['dot.label.field.test.', wireName('dot', 'label', 'field', 'test')],
      ['a\\\\b.test', wireName('a\\b', 'test')],
      ['\\000\\255\\032x.test', wireName([0, 255, 32, 120], 'test')],
      ['.', Uint8Array.of(0)],
    ];
    for (const [text, name] of cases) {
      const parsed = textToName(text);
      expect(parsed.ok && hex(parsed.name), text).toBe(hex(name));
    }
  });

  it('prints every octet so that it reads back to the same name', () => {
    for (let c = 0; c < 256; c++) {
      const name = wireName([c, 0x41, c], 'test');
      const text = nameToText(name);
      const back = textToName(text);
      expect(back.ok && hex(back.name), `octet ${c}: ${text}`).toBe(hex(name));
    }
    expect(nameToText(wireName('dot.label', 'a b', '"q";@$()', 'test'))).toBe(
      'dot\\.label.a\\032b.\\"q\\"\\;\\@\\$\\(\\).test.',
    );
  });

  it('refuses labels over 63 octets and names over 255, with the reason', () => {
    expect(textToName(`${'a'.repeat(64)}.test`)).toEqual({
      ok: false,
      reason: `name ${'a'.repeat(64)}.test has a label longer than 63 octets`,
    });
    const long = Array.from({ length: 5 }, () => 'b'.repeat(63)).join('.');
    expect(textToName(long).ok).toBe(false);
    // 4 labels of 63 octets: 4 * 64 + 1 = 257 octets on the wire
    expect(textToName(long.split('.').slice(0, 4).join('.'))).toEqual({
      ok: false,
      reason: `name ${long.split('.').slice(0, 4).join('.')} is longer than 255 octets on the wire`,
    });
  });

  it('folds A-Z only when comparing (RFC 4343 sec. 3)', () => {
    expect(sameName(wireName('WWW', 'Test'), wireName('www', 'test'))).toBe(true);
    expect(sameName(wireName([0xc4]), wireName([0xe4]))).toBe(false);
    expect(sameName(wireName('['), wireName('{'))).toBe(false); // 0x5b vs 0x7b: not letters
    expect(nameKey(wireName('A'))).not.toBe(nameKey(wireName('a.')));
    expect(isInDomain(wireName('x', 'Dot.Label', 'test'), wireName('dot.label', 'test'))).toBe(
      true,
    );
    expect(isInDomain(wireName('dot', 'label', 'test'), wireName('dot.label', 'test'))).toBe(false);
    expect(isInDomain(wireName('xlabel', 'test'), wireName('label', 'test'))).toBe(false);
  });

  it('keys names by folded octets: one key per name for every octet, A-Z folded only', () => {
    const keys = new Map<string, number>();
    for (let octet = 0; octet < 256; octet++) {
      const key = nameKey(wireName([octet]), [0x00, 0x1c, 0x31]);
      const folded = octet >= 0x41 && octet <= 0x5a ? octet + 0x20 : octet;
      expect(key).toBe(nameKey(wireName([folded]), [0x00, 0x1c, 0x31]));
      if (folded === octet) {
        expect(keys.has(key)).toBe(false);
        keys.set(key, octet);
      }
    }
    expect(keys.size).toBe(256 - 26);
    // A key longer than the scratch array is built the slow way, equal to the fast one's form.
    const label = new Array(63).fill(0x41);
    const long = wireName(label, label, label, label.slice(0, 61));
    const suffix = new Array(40).fill(7);
    expect(nameKey(long, suffix)).toBe(
      String.fromCharCode(...Array.from(long, (o) => (o === 0x41 ? 0x61 : o)), ...suffix),
    );
  });

  it('follows pointers only backwards and never into the header', () => {
    // header, then "a" + pointer to itself (a loop), then a pointer to offset 2 (the header)
    const msg = Uint8Array.from([...Array(12).fill(0), 1, 97, 0xc0, 12, 0xc0, 2]);
    expect(readName(msg, 12)).toBeNull();
    expect(readName(msg, 16)).toBeNull();
    const ok = Uint8Array.from([...Array(12).fill(0), 1, 97, 0, 1, 98, 0xc0, 12]);
    expect(hex(readName(ok, 15)!.name)).toBe(hex(wireName('b', 'a')));
  });
});

describe('writing messages (RFC 1035 sec. 4.1.4, RFC 3597 sec. 4)', () => {
  it('points a repeated name at its first occurrence, matching octets exactly', () => {
    const w = new WireWriter();
    w.zeros(12);
    w.name(literalName('www.example.test'));
    w.name(literalName('mail.example.test')); // suffix example.test compressed
    w.name(literalName('WWW.example.test')); // different case: only example.test
    const out = w.finish();
    expect(hex(out.subarray(12))).toBe(
      [
        '03777777076578616d706c65047465737400', // www.example.test at 12
        '046d61696c c010'.replace(' ', ''), // mail + pointer to example.test (offset 16)
        '03575757c010', // WWW + pointer to example.test
      ].join(''),
    );
    expect(readLabels(out, out.length - 6)[0]).toEqual(['WWW', 'example', 'test']);
  });

  it('decompresses names in received RDATA and compresses only RFC 1035 types again', () => {
    // A response with MX and SRV whose RDATA names point at the question (offset 12).
    const q = wireName('svc', 'test');
    const msg = Uint8Array.from([
      ...[0, 0, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0],
      ...q,
      ...[0, 15, 0, 1],
      ...[0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0xc0, 12], // MX 10 svc.test
      ...[0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 8, 0, 1, 0, 2, 0, 53, 0xc0, 12], // SRV
    ]);
    const layout = checkMessage(msg)!;
    const [mx, srv] = layout.records.map((r) => rrAt(msg, r));
    expect(hex(mx!.rdata)).toBe(`000a${hex(q)}`);
    expect(hex(srv!.rdata)).toBe(`000100020035${hex(q)}`);
    const w = new WireWriter();
    w.zeros(12);
    w.name(q);
    writeRr(w, mx!);
    writeRr(w, srv!);
    const out = w.finish();
    // MX: exchange compressed to a pointer; SRV (not an RFC 1035 type): target written out
    expect(hex(out.subarray(12 + q.length))).toBe(
      ['c00c000f00010000003c0004000ac00c', `c00c002100010000003c0010000100020035${hex(q)}`].join(
        '',
      ),
    );
  });

  it('refuses a record whose RDATA name runs past its RDLENGTH', () => {
    const q = wireName('x', 'test');
    const msg = Uint8Array.from([
      ...[0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0],
      ...q,
      ...[0, 5, 0, 1],
      ...[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 1, 97, 0], // CNAME "a." in an RDLENGTH of 2
    ]);
    expect(checkMessage(msg)).toBeNull();
  });
});

describe('reading client queries', () => {
  const header = (flags: number, qd: number, ar = 0) => [
    0,
    7,
    flags >> 8,
    flags & 0xff,
    0,
    qd,
    0,
    0,
    0,
    0,
    0,
    ar,
  ];
  it('gives the transport-level reasons for bytes that are no query', () => {
    expect(parseQuery(Uint8Array.of(1, 2, 3))).toEqual({
      ok: false,
      reason: 'not a DNS message: shorter than 12 bytes',
    });
    expect(parseQuery(Uint8Array.from(header(0x8100, 1)))).toEqual({
      ok: false,
      reason: 'not a DNS query: QR bit is set',
    });
    expect(parseQuery(Uint8Array.from(header(0x0100, 0)))).toEqual({
      ok: false,
      reason: 'DNS query has no question',
    });
    expect(parseQuery(Uint8Array.from([...header(0x0100, 1), 5, 97]))).toEqual({
      ok: false,
      reason: 'not a DNS message: the question name is malformed',
    });
  });

  it('reads the question octet for octet and the OPT record; two OPTs are FORMERR', () => {
    const name = wireName('dot.label', [0, 0xff], 'test');
    const opt = [0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 4, 0, 12, 0, 0];
    const q = Uint8Array.from([...header(0x0110, 1, 1), ...name, 0, 28, 0, 1, ...opt]);
    const parsed = parseQuery(q);
    expect(parsed.ok && [hex(parsed.query.qname), parsed.query.qtype, parsed.query.edns]).toEqual([
      hex(name),
      28,
      { present: true, version: 0, dnssecOk: true, padding: true, nsid: false, udpSize: 4096 },
    ]);
    const two = Uint8Array.from([...header(0x0100, 1, 2), ...name, 0, 28, 0, 1, ...opt, ...opt]);
    const twice = parseQuery(two);
    expect(twice.ok && twice.query.badOpt).toBe(true);
  });
});

describe('upstream questions (RFC 8484 sec. 4.1, RFC 8467)', () => {
  const base = { edns: true, dnssecOk: true, checkingDisabled: true, padding: false };
  it('carry the name octet for octet, ID 0, RD, CD and DO as the client asked', () => {
    const name = wireName('dot.label', [0x00, 0x5c, 0xff], 'Test');
    const bytes = encodeUpstreamQuestion({ name, type: 28, ...base });
    expect(hex(bytes.subarray(0, 12))).toBe('000001100001000000000001');
    expect(hex(bytes.subarray(12, 12 + name.length + 4))).toBe(`${hex(name)}001c0001`);
    const opt = dnsPacket.decode(Buffer.from(bytes)).additionals![0] as dnsPacket.OptAnswer;
    expect([opt.type, opt.flag_do]).toEqual(['OPT', true]);
  });

  it('pad to exactly 128 octets for a short name, to a multiple of 128 for a long one', () => {
    const short = { name: literalName('a.test'), type: 28, ...base, padding: true };
    expect(encodeUpstreamQuestion(short).length).toBe(128);
    const long = { ...short, name: literalName(`${'a'.repeat(63)}.${'b'.repeat(63)}.test`) };
    expect(encodeUpstreamQuestion(long).length).toBe(256);
  });
});
