import * as dnsPacket from 'dns-packet';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { CidrSet } from '../../src/acl/cidr';
import { clientEdns, encodePadded, optRecord } from '../../src/dns/edns';
import { type Packet, decodeMessage, encodeMessage } from '../../src/dns/message';
import { readPlainMessage } from '../../src/dns/plain';
import { type Dns64Policy, defaultPolicy } from '../../src/dns64/policy';
import { prefixOf } from '../../src/dns64/prefix';
import { synthesizeAaaa } from '../../src/dns64/synthesize';
import { dns64Response } from '../../src/resolver/resolve';
import type { UpstreamAnswer, UpstreamResult } from '../../src/upstream/doh-client';
import {
  QUERY_PADDING_BLOCK,
  type UpstreamQuestion,
  encodeUpstreamQuestion,
} from '../../src/upstream/wire';
import { SOA } from '../helpers/fake-upstream';
import { query } from '../helpers/dns';

/** The upstream question as dns-packet encoded it before the hand-written encoder. */
function dnsPacketQuestion(q: UpstreamQuestion): Uint8Array {
  const packet: Packet = {
    type: 'query',
    id: 0,
    flags: 0x100 | (q.checkingDisabled ? 0x10 : 0),
    questions: [{ name: q.name, type: q.type as 'A', class: 'IN' }],
  };
  if (!q.edns) return encodeMessage(packet);
  const opt = optRecord(q.dnssecOk);
  packet.additionals = [opt];
  return q.padding ? encodePadded(packet, opt, QUERY_PADDING_BLOCK) : encodeMessage(packet);
}

describe('upstream questions written by hand (RFC 8484 sec. 4.1, RFC 8467)', () => {
  const names = [
    'a-only.test',
    'Mixed-Case.Example',
    'trailing.dot.',
    '.',
    'x',
    `${'a'.repeat(63)}.${'b'.repeat(63)}.test`,
    'bücher.example', // UTF-8: dns-packet's own encoder
    'sp ace.test',
    'a\n.b', // a line break next to a dot: dns-packet's quirk is kept
    'a..b',
  ];
  const types = ['A', 'AAAA', 'PTR', 'UNKNOWN_65', 'ANY'];
  const flags = [
    { edns: false, dnssecOk: false, checkingDisabled: false, padding: false },
    { edns: true, dnssecOk: false, checkingDisabled: false, padding: false },
    { edns: true, dnssecOk: true, checkingDisabled: true, padding: false },
    { edns: true, dnssecOk: false, checkingDisabled: false, padding: true },
    { edns: true, dnssecOk: true, checkingDisabled: true, padding: true },
  ];
  it('are byte for byte what dns-packet encoded', () => {
    for (const name of names) {
      for (const type of types) {
        for (const f of flags) {
          const q = { name, type, ...f };
          expect(Buffer.from(encodeUpstreamQuestion(q)).toString('hex'), JSON.stringify(q)).toBe(
            Buffer.from(dnsPacketQuestion(q)).toString('hex'),
          );
        }
      }
    }
  });

  it('pads to exactly 128 octets for a short name', () => {
    const q = {
      name: 'a.test',
      type: 'AAAA',
      edns: true,
      dnssecOk: false,
      checkingDisabled: false,
      padding: true,
    };
    expect(encodeUpstreamQuestion(q).length).toBe(128);
  });
});

const RESPONSE = 0x8000 | 0x100 | 0x80;

function response(
  name: string,
  type: string,
  rcode: number,
  answers: dnsPacket.Answer[],
  authorities: dnsPacket.Answer[] = [],
  additionals: dnsPacket.Answer[] = [],
  extraFlags = 0,
): Uint8Array {
  return encodeMessage({
    type: 'response',
    id: 0,
    flags: RESPONSE | rcode | extraFlags,
    questions: [{ name, type: type as 'A', class: 'IN' }],
    answers,
    authorities,
    additionals,
  });
}

const a = (name: string, data: string, ttl = 3600): dnsPacket.Answer => ({
  type: 'A',
  name,
  ttl,
  class: 'IN',
  data,
});
const cname = (name: string, data: string, ttl = 900): dnsPacket.Answer => ({
  type: 'CNAME',
  name,
  ttl,
  class: 'IN',
  data,
});
const upstreamOpt: dnsPacket.Answer = {
  type: 'OPT',
  name: '.',
  udpPayloadSize: 1232,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: 0,
  flag_do: false,
  options: [{ code: 12, length: 8 }],
};

describe('plain messages (read without dns-packet)', () => {
  it('takes A, AAAA, CNAME, DNAME, SOA and an additional OPT', () => {
    const dname: dnsPacket.Answer = {
      type: 'DNAME',
      name: 'd.test',
      ttl: 60,
      class: 'IN',
      data: 'e.test',
    };
    const bytes = response(
      'x.test',
      'A',
      0,
      [cname('x.test', 'y.test'), dname, a('y.test', '192.0.2.1')],
      [SOA],
      [upstreamOpt],
    );
    expect(readPlainMessage(bytes)?.records.length).toBe(5);
  });

  it('leaves other types, classes, options and unusual names to dns-packet', () => {
    const txt: dnsPacket.Answer = { type: 'TXT', name: 'x.test', ttl: 60, class: 'IN', data: 'hi' };
    const chaos: dnsPacket.Answer = {
      type: 'A',
      name: 'x.test',
      ttl: 60,
      class: 'CH',
      data: '192.0.2.1',
    };
    const ecs: dnsPacket.Answer = {
      ...upstreamOpt,
      options: [
        { code: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '192.0.2.0' },
      ],
    } as dnsPacket.Answer;
    const cases: Uint8Array[] = [
      response('x.test', 'A', 0, [txt]),
      response('x.test', 'A', 0, [chaos]),
      response('x.test', 'A', 0, [], [], [ecs]),
      response('x.test', 'A', 0, [a('bücher.test', '192.0.2.1')]),
      response('x.test', 'A', 0, [a('back\\slash.test', '192.0.2.1')]),
      response('x.test', 'A', 0, [], [upstreamOpt]), // OPT outside the additional section
    ];
    for (const bytes of cases) expect(readPlainMessage(bytes)).toBeNull();
    // An A record whose RDLENGTH is not 4.
    const bad = Uint8Array.from(response('x.test', 'A', 0, [a('x.test', '192.0.2.1')]));
    bad[bad.length - 5] = 3;
    expect(readPlainMessage(bad)).toBeNull();
    // A compression pointer forward (dns-packet refuses it): the A record's owner, at 40.
    const fwd = compressedChain();
    fwd[41] = 44;
    expect(readPlainMessage(compressedChain())).not.toBeNull();
    expect(readPlainMessage(fwd)).toBeNull();
    expect(decodeMessage(fwd).ok).toBe(false);
  });
});

/** x.test A -> CNAME y.test -> A, names compressed as real resolvers send them. */
function compressedChain(): Uint8Array {
  // header: ID 0, QR RD RA, 1 question, 2 answers
  const header = [0, 0, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
  const question = [1, 0x78, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]; // x.test A IN at 12
  const cnameRecord = [0xc0, 12, 0, 5, 0, 1, 0, 0, 3, 0x84, 0, 4, 1, 0x79, 0xc0, 14]; // -> y.test
  const aRecord = [0xc0, 36, 0, 1, 0, 1, 0, 0, 0, 50, 0, 4, 192, 0, 2, 77]; // y.test (at 36) A
  return Uint8Array.from([...header, ...question, ...cnameRecord, ...aRecord]);
}

function answerOf(bytes: Uint8Array, plain: boolean): UpstreamAnswer {
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) throw new Error(decoded.reason);
  return {
    ok: true,
    bytes,
    plain: plain ? readPlainMessage(bytes) : null,
    packet: decoded.packet,
    upstream: 'u',
  };
}

const failed: UpstreamResult = { ok: false, kind: 'network', detail: 'down' };

function policyWith(prefixes: [string, string[]][]): Dns64Policy {
  return {
    ...defaultPolicy('64:ff9b::/96'),
    prefixes: prefixes.map(([p, mapped]) => ({
      prefix: prefixOf(p),
      mapped: CidrSet.parse(mapped),
    })),
  };
}

describe('DNS64 responses written from the wire equal the dns-packet ones', () => {
  const soaNoData = (name: string) => response(name, 'AAAA', 0, [], [SOA]);
  const cases: [string, Uint8Array | null, Uint8Array][] = [
    [
      'A only, AAAA NODATA with SOA',
      soaNoData('m.test'),
      response('m.test', 'A', 0, [a('m.test', '198.18.1.1', 3600)]),
    ],
    [
      'small A TTL',
      soaNoData('m.test'),
      response('m.test', 'A', 0, [a('m.test', '198.18.1.1', 30)]),
    ],
    [
      'two A records, AA and AD dropped',
      soaNoData('m.test'),
      response(
        'm.test',
        'A',
        0,
        [a('m.test', '192.0.2.1'), a('m.test', '192.0.2.2')],
        [],
        [],
        0x400 | 0x20,
      ),
    ],
    [
      'CNAME chain',
      soaNoData('www.m.test'),
      response('www.m.test', 'A', 0, [
        cname('www.m.test', 'mid.m.test', 900),
        cname('mid.m.test', 'm.test', 800),
        a('m.test', '203.0.113.10', 1000),
      ]),
    ],
    ['compressed CNAME chain', soaNoData('x.test'), compressedChain()],
    [
      'DNAME',
      soaNoData('a.d.test'),
      response('a.d.test', 'A', 0, [
        { type: 'DNAME', name: 'd.test', ttl: 60, class: 'IN', data: 'e.test' },
        cname('a.d.test', 'a.e.test', 60),
        a('a.e.test', '192.0.2.9', 60),
      ]),
    ],
    [
      'A with an upstream OPT',
      soaNoData('m.test'),
      response('m.test', 'A', 0, [a('m.test', '192.0.2.3')], [], [upstreamOpt]),
    ],
    ['A NXDOMAIN', response('n.test', 'AAAA', 0, [], [SOA]), response('n.test', 'A', 3, [], [SOA])],
    [
      'A NODATA, AAAA SERVFAIL',
      response('n.test', 'AAAA', 2, []),
      response('n.test', 'A', 0, [], [SOA]),
    ],
    [
      'AAAA failed in transport',
      null,
      response('m.test', 'A', 0, [a('m.test', '192.0.2.4', 5000)]),
    ],
    [
      'A answer with glue in the additional section',
      soaNoData('m.test'),
      response('m.test', 'A', 0, [a('m.test', '192.0.2.5')], [], [a('ns.m.test', '192.0.2.53')]),
    ],
  ];
  const policies: [string, Dns64Policy][] = [
    ['one /96', policyWith([['2001:db8:64::/96', []]])],
    ['WKP (global only)', policyWith([['64:ff9b::/96', []]])],
    [
      'two prefixes, one mapped',
      policyWith([
        ['2001:db8:64::/96', []],
        ['2001:db8:1::/48', ['192.0.2.0/24']],
      ]),
    ],
  ];
  const clients: [string, Uint8Array][] = [
    ['plain', query('Mixed.Case.test', 'AAAA', { id: 7 })],
    ['EDNS DO', query('m.test', 'AAAA', { id: 8, dnssecOk: true })],
    ['padded, CD', query('m.test', 'AAAA', { id: 9, padding: true, cd: true })],
  ];

  it('for representative upstream answers, policies and clients', () => {
    for (const [what, aaaaBytes, aBytes] of cases) {
      expect(readPlainMessage(aBytes), what).not.toBeNull();
      for (const [pname, policy] of policies) {
        for (const [cname_, raw] of clients) {
          const decoded = decodeMessage(raw);
          if (!decoded.ok) throw new Error(decoded.reason);
          const q = decoded.packet;
          const edns = clientEdns(q);
          const run = (plain: boolean) => {
            const aaaa = aaaaBytes ? answerOf(aaaaBytes, plain) : failed;
            return synthesizeAaaa(policy, 'm.test', aaaa, answerOf(aBytes, plain));
          };
          const wire = run(true);
          const old = run(false);
          const label = `${what} / ${pname} / ${cname_}`;
          expect(wire.kind === 'built', label).toBe(false);
          expect(Buffer.from(dns64Response(q, edns, wire)).toString('hex'), label).toBe(
            Buffer.from(dns64Response(q, edns, old)).toString('hex'),
          );
        }
      }
    }
  });

  it('takes the wire path for a synthesized answer', () => {
    const policy = policyWith([['2001:db8:64::/96', []]]);
    const out = synthesizeAaaa(
      policy,
      'x.test',
      answerOf(soaNoData('x.test'), true),
      answerOf(compressedChain(), true),
    );
    expect(out.kind).toBe('wire');
    const q = decodeMessage(query('x.test', 'AAAA', { edns: true }));
    if (!q.ok) throw new Error(q.reason);
    const res = dnsPacket.decode(Buffer.from(dns64Response(q.packet, clientEdns(q.packet), out)));
    expect(
      res.answers?.map((r) => [
        r.name,
        r.type,
        'ttl' in r ? r.ttl : 0,
        'data' in r ? r.data : null,
      ]),
    ).toEqual([
      ['x.test', 'CNAME', 900, 'y.test'],
      ['y.test', 'AAAA', 50, '2001:db8:64::c000:24d'],
    ]);
  });
});
