/** SIGHUP changes of pool4 and bib lines applied to live state (StatefulNat.reconfigure). */
import { describe, expect, it } from 'vitest';
import { PROTO_TCP, PROTO_UDP } from '../../src/stateful/index.js';
import { SYN, harness, in4, out6, statefulSettings } from './helpers.js';

const H1 = '2001:db8:1::2';
const H2 = '2001:db8:1::3';
const SRV = '203.0.113.7';

describe('StatefulNat.reconfigure (SIGHUP)', () => {
  it('keeps bindings that still fit, ends the others with reason reload, adds bib lines', () => {
    const h = harness(['pool4 198.51.100.1 61000-61001', 'pool4 198.51.100.2 icmp 7000-7000']);
    expect(out6(h.nat, PROTO_TCP, H1, 61000, SRV, 80, SYN)).toBe('198.51.100.1#61000');
    expect(out6(h.nat, PROTO_UDP, H2, 5000, SRV, 53)).toBe('198.51.100.1#61000');
    h.log.length = 0;
    const r = h.nat.reconfigure(
      statefulSettings(
        'pool4 198.51.100.1 61000-62000',
        'pool4 198.51.100.3 udp 7000-7001',
        'bib tcp 2001:db8:1::5#80 198.51.100.1#8080',
      ),
    );
    expect(r).toEqual({ kept: 2, ended: 0, sessionsEnded: 0, added: 1 });
    expect(h.log).toEqual([
      '2023-11-14T22:13:20.000Z mapping-start tcp 2001:db8:1::5#80 198.51.100.1#8080 static',
    ]);
    // The live sessions go on; the old icmp-only address is no pool4 address any more.
    expect(in4(h.nat, PROTO_TCP, SRV, 80, '198.51.100.1', 61000, SYN | 0x10)).toBe(`${H1}#61000`);
    expect(out6(h.nat, PROTO_UDP, H2, 5000, SRV, 53)).toBe('198.51.100.1#61000');
    expect(h.nat.isPoolAddress(0xc6336402)).toBe(false);
    expect(h.nat.isPoolAddress(0xc6336403)).toBe(true);
    expect(h.nat.bibView()).toEqual([
      {
        proto: 'tcp',
        ipv6: H1,
        port6: 61000,
        ipv4: '198.51.100.1',
        port4: 61000,
        static: false,
        sessions: 1,
      },
      {
        proto: 'tcp',
        ipv6: '2001:db8:1::5',
        port6: 80,
        ipv4: '198.51.100.1',
        port4: 8080,
        static: true,
        sessions: 0,
      },
      {
        proto: 'udp',
        ipv6: H2,
        port6: 5000,
        ipv4: '198.51.100.1',
        port4: 61000,
        static: false,
        sessions: 1,
      },
    ]);
    expect(h.nat.sessionView()).toEqual([
      {
        proto: 'tcp',
        ipv6: H1,
        port6: 61000,
        ipv4: '198.51.100.1',
        port4: 61000,
        remote4: SRV,
        remotePort: 80,
        state: 'ESTABLISHED',
        expiresIn: 7440,
      },
      {
        proto: 'udp',
        ipv6: H2,
        port6: 5000,
        ipv4: '198.51.100.1',
        port4: 61000,
        remote4: SRV,
        remotePort: 53,
        state: null,
        expiresIn: 300,
      },
    ]);
  });

  it('ends bindings outside the new pool4 and a bib line taken away (logged)', () => {
    const h = harness([
      'pool4 198.51.100.1 61000-61001',
      'bib udp 2001:db8:1::5#53 198.51.100.1#53',
    ]);
    expect(out6(h.nat, PROTO_TCP, H1, 61001, SRV, 80, SYN)).toBe('198.51.100.1#61001');
    expect(out6(h.nat, PROTO_UDP, H2, 5000, SRV, 53)).toBe('198.51.100.1#61000');
    h.log.length = 0;
    const r = h.nat.reconfigure(statefulSettings('pool4 198.51.100.1 61000-61000'));
    expect(r).toEqual({ kept: 1, ended: 2, sessionsEnded: 1, added: 0 });
    expect(h.log).toEqual([
      '2023-11-14T22:13:20.000Z mapping-end tcp 2001:db8:1::2#61001 198.51.100.1#61001 reload',
      '2023-11-14T22:13:20.000Z mapping-end udp 2001:db8:1::5#53 198.51.100.1#53 reload',
    ]);
    expect(h.nat.stats().tcp).toMatchObject({
      bib: 0,
      sessions: 0,
      poolPorts: 1,
      poolPortsFree: 1,
    });
    expect(h.nat.stats().udp).toMatchObject({
      bib: 1,
      sessions: 1,
      poolPorts: 1,
      poolPortsFree: 0,
    });
    expect(in4(h.nat, PROTO_TCP, SRV, 80, '198.51.100.1', 61001, 0x10)).toBeNull();
  });
});
