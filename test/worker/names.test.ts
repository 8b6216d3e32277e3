import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/doh/app';
import { UpstreamHealth } from '../../src/upstream/health';
import { b64url } from '../helpers/dns';
import { type RawRecord, rawQuery, rawUpstream, readMessage, v4, wireName } from '../helpers/wire';

const A = 1;
const AAAA = 28;
const CNAME = 5;

/** The zone of issue 11's report: one label "dot.label", and two labels dot + label. */
const FIELD: RawRecord[] = [
  { owner: wireName('dot.label', 'field', 'test'), type: A, ttl: 1000, rdata: v4('198.51.26.1') },
  {
    owner: wireName('dot', 'label', 'field', 'test'),
    type: A,
    ttl: 1000,
    rdata: v4('198.51.26.2'),
  },
  {
    owner: wireName('to-dot', 'field', 'test'),
    type: CNAME,
    ttl: 900,
    rdata: wireName('dot.label', 'field', 'test'),
  },
];

function app(records: RawRecord[], prefix = '64:ff9b::/96', flags?: number) {
  const upstream = rawUpstream(records, flags);
  const worker = createApp({ fetch: upstream.fetch, health: new UpstreamHealth(), cache: null });
  const env = { UPSTREAMS: 'https://up.test/dns-query', DNS64_PREFIX: prefix };
  const get = (path: string) => worker.request(`https://doh.test${path}`, undefined, env);
  const ask = async (name: Uint8Array, type: number, edns = false) => {
    const res = await get(`/dns-query?dns=${b64url(rawQuery(name, type, edns))}`);
    expect(res.status).toBe(200);
    return new Uint8Array(await res.arrayBuffer());
  };
  return { upstream, get, ask };
}

describe('names are octet strings (RFC 1035 sec. 3.1, RFC 2181 sec. 11)', () => {
  it('keeps a dot inside a label apart from a label boundary through a CNAME', async () => {
    const { ask } = app(FIELD);
    const res = readMessage(await ask(wireName('to-dot', 'field', 'test'), AAAA));
    expect(res.sections[0].map((r) => [r.owner, r.type, r.target ?? [...r.rdata]])).toEqual([
      [['to-dot', 'field', 'test'], CNAME, ['dot.label', 'field', 'test']],
      [
        ['dot.label', 'field', 'test'],
        AAAA,
        [0, 0x64, 0xff, 0x9b, ...Array(8).fill(0), 198, 51, 26, 1],
      ],
    ]);
  });

  it('answers the one-label and the two-label name each with its own address', async () => {
    const { ask, upstream } = app(FIELD);
    const one = readMessage(await ask(wireName('dot.label', 'field', 'test'), AAAA));
    const two = readMessage(await ask(wireName('dot', 'label', 'field', 'test'), AAAA));
    expect(one.question[0]!.name).toEqual(['dot.label', 'field', 'test']);
    expect(one.sections[0].map((r) => [r.owner, [...r.rdata.subarray(12)]])).toEqual([
      [
        ['dot.label', 'field', 'test'],
        [198, 51, 26, 1],
      ],
    ]);
    expect(two.sections[0].map((r) => [r.owner, [...r.rdata.subarray(12)]])).toEqual([
      [
        ['dot', 'label', 'field', 'test'],
        [198, 51, 26, 2],
      ],
    ]);
    // The upstream was asked the names as they were asked of us.
    expect(upstream.log.map((n) => [...n])).toContainEqual([
      ...wireName('dot.label', 'field', 'test'),
    ]);
  });

  it('carries every octet 0x00-0xFF in labels to the upstream and back, unchanged', async () => {
    const octets = Array.from({ length: 256 }, (_, i) => i);
    // 256 octets do not fit one name (255 with the length octets): two names, labels of 63.
    for (const part of [octets.slice(0, 126), octets.slice(126)]) {
      const labels = [];
      for (let i = 0; i < part.length; i += 63) labels.push(part.slice(i, i + 63));
      const name = wireName(...labels, 'test');
      const { ask, upstream } = app([{ owner: name, type: A, ttl: 60, rdata: v4('192.0.2.44') }]);
      const query = rawQuery(name, A);
      const res = await ask(name, A);
      expect([...res.subarray(12, 12 + name.length + 4)]).toEqual([...query.subarray(12)]);
      expect([...upstream.log[0]!]).toEqual([...name]);
      expect([...readMessage(res).sections[0][0]!.rdata]).toEqual([192, 0, 2, 44]);
    }
  });

  it('folds A-Z only: 0xC4 and 0xE4 are different names, as are their answers', async () => {
    const upper = wireName([0xc4], 'test');
    const lower = wireName([0xe4], 'test');
    const { ask } = app([
      { owner: upper, type: A, ttl: 60, rdata: v4('192.0.2.1') },
      { owner: lower, type: A, ttl: 60, rdata: v4('192.0.2.2') },
    ]);
    const addr = async (n: Uint8Array) => [...readMessage(await ask(n, A)).sections[0][0]!.rdata];
    expect(await addr(upper)).toEqual([192, 0, 2, 1]);
    expect(await addr(lower)).toEqual([192, 0, 2, 2]);
  });

  it('prints and reads names in master-file form in the JSON API (\\. \\\\ \\DDD)', async () => {
    const { get } = app([
      ...FIELD,
      {
        owner: wireName('a\\b c', 'field', 'test'),
        type: A,
        ttl: 60,
        rdata: v4('192.0.2.3'),
      },
    ]);
    const res = await get('/resolve?name=to-dot.field.test&type=AAAA');
    const json = (await res.json()) as { Answer: { name: string; type: number; data: string }[] };
    expect(json.Answer.map((r) => [r.name, r.type, r.data])).toEqual([
      ['to-dot.field.test.', CNAME, 'dot\\.label.field.test.'],
      ['dot\\.label.field.test.', AAAA, '64:ff9b::c633:1a01'],
    ]);
    const direct = await get(
      `/resolve?name=${encodeURIComponent('dot\\.label.field.test')}&type=A`,
    );
    const one = (await direct.json()) as {
      Question: { name: string }[];
      Answer: { data: string }[];
    };
    expect([one.Question[0]!.name, one.Answer[0]!.data]).toEqual([
      'dot\\.label.field.test.',
      '198.51.26.1',
    ]);
    const escaped = await get(`/resolve?name=${encodeURIComponent('a\\092b\\032c.field.test')}`);
    const three = (await escaped.json()) as {
      Question: { name: string }[];
      Answer: { data: string }[];
    };
    expect([three.Question[0]!.name, three.Answer[0]!.data]).toEqual([
      'a\\\\b\\032c.field.test.',
      '192.0.2.3',
    ]);
  });

  it('refuses a JSON API name that is not master-file text with 400 and the reason', async () => {
    const { get } = app(FIELD);
    for (const [name, reason] of [
      ['a\\2x.test', 'name a\\2x.test has an escape \\DDD without three digits'],
      ['a\\256.test', 'name a\\256.test has an escape above \\255'],
      ['a..test', 'name a..test has an empty label'],
      ['a.test\\', 'name a.test\\ ends in a lone backslash'],
    ]) {
      const res = await get(`/resolve?name=${encodeURIComponent(name!)}`);
      expect([res.status, await res.text()]).toEqual([400, `${reason}\n`]);
    }
  });
});

describe('responses we write (RFC 2181 sec. 5, RFC 1035 sec. 4.1.4)', () => {
  it('synthesizes one AAAA per distinct A: an RRset has no duplicate RRs', async () => {
    const name = wireName('dup', 'test');
    const { ask } = app([
      { owner: name, type: A, ttl: 60, rdata: v4('198.51.25.1') },
      { owner: name, type: A, ttl: 60, rdata: v4('198.51.25.1') },
      { owner: name, type: A, ttl: 60, rdata: v4('198.51.25.2') },
    ]);
    const res = readMessage(await ask(name, AAAA));
    expect(res.sections[0].map((r) => [...r.rdata.subarray(12)])).toEqual([
      [198, 51, 25, 1],
      [198, 51, 25, 2],
    ]);
  });

  it('drops a record repeated in letter case only (RFC 4343) in a chain we write', async () => {
    const target = wireName('t', 'test');
    const { ask } = app([
      { owner: wireName('c', 'test'), type: CNAME, ttl: 60, rdata: target },
      { owner: target, type: A, ttl: 60, rdata: v4('198.51.26.9') },
      { owner: wireName('T', 'TEST'), type: A, ttl: 60, rdata: v4('198.51.26.9') },
    ]);
    const res = readMessage(await ask(wireName('c', 'test'), AAAA));
    expect(res.sections[0].map((r) => r.type)).toEqual([CNAME, AAAA]);
  });

  it('compresses names: 40 and 100 synthesized AAAA are as small as BIND writes them', async () => {
    for (const count of [40, 100]) {
      const name = wireName('many', 'field', 'test');
      const records = Array.from({ length: count }, (_, i) => ({
        owner: name,
        type: A,
        ttl: 300,
        rdata: v4(`198.51.100.${i + 1}`),
      }));
      const { ask } = app(records, '2001:db8:64::/96');
      const res = await ask(name, AAAA, true);
      // header + question + each AAAA with its owner as a 2-octet pointer to the question
      // (2 + type, class, TTL, RDLENGTH 10 + 16) + OPT (11) with EDE 29 (4 + 2).
      const expected = 12 + (name.length + 4) + count * (2 + 10 + 16) + 11 + 6;
      expect([count, res.length]).toEqual([count, expected]);
      expect(readMessage(res).sections[0]).toHaveLength(count);
    }
  });

  it('relays upstream answers with RA=1 and AA=0 (a recursive service)', async () => {
    const name = wireName('auth', 'test');
    // The upstream claims to be authoritative (AA) and not recursive (no RA).
    const { ask } = app(
      [{ owner: name, type: A, ttl: 60, rdata: v4('192.0.2.7') }],
      undefined,
      0x8500,
    );
    const res = readMessage(await ask(name, A));
    expect(res.flags & 0x0400).toBe(0);
    expect(res.flags & 0x0080).toBe(0x0080);
  });
});
