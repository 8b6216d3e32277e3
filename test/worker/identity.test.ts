import { env } from 'cloudflare:test';
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { withOption } from '../../src/dns/edns';
import { b64url, decode, edes, nsidOf, query, rcode, rows } from '../helpers/dns';
import { ENV, UP_B, harness } from './setup';

const TOKEN = 'admin-secret-token-for-tests';

/**
 * Issue 12 on Workers: the instance's identity (NSID, RFC 5001; CH TXT id.server and
 * hostname.bind, RFC 4892) is the data centre from `request.cf.colo`, after SERVER_ID when set;
 * non-DoH upstreams are refused by the settings check; failure reasons keep every cause.
 */

/** A DoH GET with a fake `cf` object as Cloudflare attaches it to each request. */
async function askAt(
  h: ReturnType<typeof harness>,
  colo: string | null,
  wire: Uint8Array,
  env: Record<string, string> = {},
) {
  const init: RequestInit & { cf?: unknown } = colo === null ? {} : { cf: { colo } };
  const req = new Request(`https://doh.test/dns-query?dns=${b64url(wire)}`, init);
  const res = await h.app.request(req, undefined, {
    UPSTREAMS: 'https://upstream-a.test/dns-query,https://upstream-b.test/dns-query',
    DNS64_PREFIX: '2001:db8:64::/96',
    UPSTREAM_TIMEOUT_MS: '300',
    ...env,
  });
  expect(res.status).toBe(200);
  return decode(await res.arrayBuffer());
}

describe('identity on Workers', () => {
  it('NSID: an empty NSID option gets the data centre; SERVER_ID goes before it', async () => {
    const h = harness();
    const wire = query('a-only.test', 'AAAA', { nsid: true });
    const plain = await askAt(h, 'AMS', wire);
    expect(rows(plain.answers)).toEqual([['a-only.test', 'AAAA', 300, '2001:db8:64::cb00:710a']]);
    expect(nsidOf(plain)).toBe('AMS');
    expect(nsidOf(await askAt(h, 'AMS', wire, { SERVER_ID: 'edge-1' }))).toBe('edge-1/AMS');
    // Not asked: no NSID option (RFC 5001 §2.3).
    expect(nsidOf(await askAt(h, 'AMS', query('a-only.test', 'AAAA', { edns: true })))).toBe(null);
    // Neither a data centre nor SERVER_ID: nothing disclosed.
    expect(nsidOf(await askAt(h, null, wire))).toBe(null);
  });

  it('NSID rides on padded answers with the padding redone (RFC 8467 sec. 4.1)', async () => {
    const h = harness();
    const wire = query('a-only.test', 'AAAA', { nsid: true, padding: true });
    const req = new Request(`https://doh.test/dns-query?dns=${b64url(wire)}`, {
      cf: { colo: 'FRA' },
    } as RequestInit);
    const res = await h.app.request(req, undefined, {
      UPSTREAMS: 'https://upstream-a.test/dns-query',
      DNS64_PREFIX: '2001:db8:64::/96',
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length % 468).toBe(0);
    const p = decode(bytes);
    expect(nsidOf(p)).toBe('FRA');
    expect(rows(p.answers).map((r) => r[3])).toEqual(['2001:db8:64::cb00:710a']);
  });

  it('CH TXT id.server and hostname.bind answer with the identity; REFUSED without one', async () => {
    const h = harness();
    for (const name of ['id.server', 'HOSTNAME.bind']) {
      const p = await askAt(h, 'SJC', query(name, 'TXT', { qclass: 'CH' }), {
        SERVER_ID: 'edge-1',
      });
      expect(rcode(p)).toBe(0);
      expect(
        (p.answers ?? []).map((a) => {
          const txt = a as { name: string; type: string; class: string; data: Buffer[] };
          return [txt.name, txt.type, txt.class, txt.data];
        }),
      ).toEqual([[name, 'TXT', 'CH', [Buffer.from('edge-1/SJC')]]]);
    }
    const hidden = await askAt(h, null, query('id.server', 'TXT', { qclass: 'CH', edns: true }));
    expect(rcode(hidden)).toBe(5);
    expect(edes(hidden)).toEqual([
      { code: 0, text: 'server identity not disclosed (SERVER_ID is unset)' },
    ]);
    // Any other CHAOS name is refused as before.
    const other = await askAt(h, 'SJC', query('version.bind', 'TXT', { qclass: 'CH' }));
    expect(rcode(other)).toBe(5);
    // No upstream was asked for any of these.
    expect(h.upstream.log).toEqual([]);
  });
});

describe('non-DoH upstreams on Workers', () => {
  for (const url of ['udp://192.0.2.53', 'tcp://192.0.2.53:5300', 'tls://dns.example@192.0.2.53']) {
    it(`${url}: 500 naming the variable and why`, async () => {
      const { get } = harness({}, undefined, {
        UPSTREAMS: `https://upstream-a.test/dns-query,${url}`,
      });
      const res = await get(`/dns-query?dns=${b64url(query('a-only.test', 'A'))}`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe(
        `misconfigured: UPSTREAMS: ${url} is not available on Workers (DoH only)\n`,
      );
    });
  }

  it('a malformed classic URL names the rule it breaks', async () => {
    const { get } = harness({}, undefined, { UPSTREAMS: 'udp://192.0.2.53/dns-query' });
    const res = await get(`/dns-query?dns=${b64url(query('a-only.test', 'A'))}`);
    expect(await res.text()).toBe(
      'misconfigured: UPSTREAMS: udp://192.0.2.53/dns-query must be udp://host[:port] with nothing after it\n',
    );
  });

  it('a tenant record may name them; on Workers they fail over with a clear reason', async () => {
    const h = harness({}, undefined, { ...env, ...ENV, ADMIN_TOKEN: TOKEN });
    const put = (id: string, upstreams: string[]) =>
      h.get(`/admin/tenants/${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prefixes: ['2001:db8:64::/96'], upstreams }),
      });
    expect((await put('mixed', ['udp://192.0.2.53', UP_B])).status).toBe(201);
    expect((await put('udponly', ['udp://192.0.2.53'])).status).toBe(201);
    const bad = await put('bad', ['ftp://192.0.2.53']);
    expect([bad.status, await bad.text()]).toEqual([
      400,
      'invalid tenant record: upstreams.0: ftp://192.0.2.53 must be an https:// or http:// DoH URL, or udp://, tcp:// or tls:// host[:port]\n',
    ]);
    const mixed = await h.ask('a-only.test', 'A', {}, '/t/mixed/dns-query');
    expect(rows(mixed.answers)).toEqual([['a-only.test', 'A', 1000, '203.0.113.10']]);
    const only = await h.ask('a-only.test', 'A', { edns: true }, '/t/udponly/dns-query');
    expect(rcode(only)).toBe(2);
    expect(edes(only)).toEqual([
      {
        code: 23,
        text: 'upstream failed: udp://192.0.2.53: udp:// is not available here (DoH only)',
      },
    ]);
  });
});

describe('failure reasons keep every cause', () => {
  it('both questions of a DNS64 query, every upstream, whole', async () => {
    const long = (host: string) => `https://${host}/${'x'.repeat(120)}/dns-query`;
    const a = long('upstream-a.test');
    const b = long('upstream-b.test');
    const { ask } = harness({ [a]: 'http502', [b]: 'garbage' }, undefined, {
      UPSTREAMS: `${a},${b}`,
    });
    const res = await ask('a-only.test', 'AAAA', { edns: true });
    expect(rcode(res)).toBe(2);
    const each = `${a}: HTTP 502; ${b}: malformed DNS message`;
    expect(edes(res)).toEqual([{ code: 23, text: `upstream failed: AAAA: ${each}; A: ${each}` }]);
  });
});

describe('withOption (the NSID writer)', () => {
  const response = (opt: boolean) =>
    new Uint8Array(
      dnsPacket.encode({
        type: 'response',
        id: 7,
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: [{ type: 'A', name: 'a.test' }],
        answers: [{ type: 'A', name: 'a.test', ttl: 60, data: '192.0.2.1' }],
        additionals: opt
          ? [
              {
                type: 'OPT',
                name: '.',
                udpPayloadSize: 1232,
                options: [{ code: 15, data: Buffer.from([0, 29]) }],
              } as unknown as dnsPacket.Answer,
            ]
          : [],
      }),
    );
  const nsid = { code: 3, data: new TextEncoder().encode('gw-1') };

  it('adds the option after those present, the records untouched', () => {
    const p = decode(withOption(response(true), nsid));
    expect(rows(p.answers)).toEqual([['a.test', 'A', 60, '192.0.2.1']]);
    const opt = p.additionals![0] as dnsPacket.OptAnswer;
    expect((opt.options as { code: number }[]).map((o) => o.code)).toEqual([15, 3]);
    expect(nsidOf(p)).toBe('gw-1');
  });

  it('gives a message without OPT one (a relayed answer to an EDNS client)', () => {
    const p = decode(withOption(response(false), nsid));
    expect(p.additionals!.map((r) => r.type)).toEqual(['OPT']);
    expect((p.additionals![0] as dnsPacket.OptAnswer).udpPayloadSize).toBe(1232);
    expect(nsidOf(p)).toBe('gw-1');
  });

  it('leaves undecodable bytes as they are', () => {
    const junk = Uint8Array.of(1, 2, 3);
    expect(withOption(junk, nsid)).toBe(junk);
  });
});
