import { describe, expect, it } from 'vitest';
import { literalName } from '../../src/dns/name';
import { SVCB, answerDdr, underscoreDns } from '../../src/resolver/ddr';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const CONFIG = {
  target: literalName('dns.example'),
  serverName: literalName('dns.example'),
  dohPort: 443,
  dotPort: 853,
};

describe('DDR records (RFC 9462, SVCB wire format of RFC 9460)', () => {
  it('writes DoH (priority 1: alpn h2, port, dohpath) and DoT (priority 2: alpn dot, port)', () => {
    const parts = answerDdr(CONFIG, literalName('_dns.resolver.arpa'), SVCB)!;
    const target = hex(literalName('dns.example'));
    expect(parts.answers!.map((r) => [r.type, r.ttl, hex(r.rdata)])).toEqual([
      [
        64,
        300,
        // priority 1, target, alpn(1) "h2", port(3) 443, dohpath(7) "/dns-query{?dns}"
        `0001${target}0001000302683200030002 01bb0007 0010${hex(new TextEncoder().encode('/dns-query{?dns}'))}`.replace(
          / /g,
          '',
        ),
      ],
      [64, 300, `0002${target}0001000403646f74000300020355`],
    ]);
  });

  it('answers _dns.<SERVER_NAME> SVCB the same, and leaves its other types to the upstream', () => {
    const own = underscoreDns(literalName('dns.example'));
    expect(hex(own)).toBe(hex(literalName('_dns.dns.example')));
    expect(answerDdr(CONFIG, own, SVCB)!.answers).toHaveLength(2);
    expect(answerDdr(CONFIG, own, 1)).toBeNull();
    expect(answerDdr(CONFIG, literalName('dns.example'), SVCB)).toBeNull();
  });

  it("advertises a tenant's DoH path when given one, and only DoT when DoH is withheld", () => {
    const path = '/t/acme/dns-query{?dns}';
    const tenant = answerDdr(
      { ...CONFIG, dohPath: path },
      literalName('_dns.resolver.arpa'),
      SVCB,
    )!;
    expect(hex(tenant.answers![0]!.rdata)).toContain(
      `0007${path.length.toString(16).padStart(4, '0')}${hex(new TextEncoder().encode(path))}`,
    );
    expect(tenant.answers).toHaveLength(2);
    const none = answerDdr({ ...CONFIG, dohPath: null }, literalName('_dns.resolver.arpa'), SVCB)!;
    expect(none.answers!.map((r) => hex(r.rdata))).toEqual([
      `0002${hex(literalName('dns.example'))}0001000403646f74000300020355`,
    ]);
  });

  it('without TLS: _dns.resolver.arpa NODATA, other resolver.arpa names NXDOMAIN', () => {
    const none = answerDdr(null, literalName('_dns.resolver.arpa'), SVCB)!;
    expect([none.rcode, none.answers, none.authorities!.length]).toEqual([0, undefined, 1]);
    expect(answerDdr(null, literalName('x.resolver.arpa'), 1)!.rcode).toBe(3);
    expect(answerDdr(null, literalName('example.test'), SVCB)).toBeNull();
  });
});
