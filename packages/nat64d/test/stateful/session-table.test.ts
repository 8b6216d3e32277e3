import { describe, expect, it } from 'vitest';
import {
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  TCP_STATE_NAMES,
  type StatefulNat,
} from '../../src/stateful/index.js';
import { ip4, ip6 } from '../core/helpers.js';
import { ACK, FIN, RST, SYN, T0, harness, in4, out6 } from './helpers.js';

const POOL = 'pool4 198.51.100.1 61000-65535';
const H1 = '2001:db8:1::2';
const H2 = '2001:db8:1::3';
const SRV = '203.0.113.7';

/** State name of the TCP session host#port <-> remote#rport, or CLOSED when there is none. */
function tcpState(nat: StatefulNat, host: string, port: number, remote: string, rport: number) {
  const s = nat.tcp.lookupFrom6(ip6(host), 0, port, ip4(remote), rport);
  return s < 0 ? 'CLOSED' : TCP_STATE_NAMES[nat.tcp.sessionState(s)];
}

function tcpExpiry(nat: StatefulNat, host: string, port: number, remote: string, rport: number) {
  const s = nat.tcp.lookupFrom6(ip6(host), 0, port, ip4(remote), rport);
  return s < 0 ? -1 : nat.tcp.sessionExpiry(s) - T0;
}

describe('TCP state machine (RFC 6146 section 3.5.2), driven by packets', () => {
  /** A connection from H1#40000 to SRV#80; returns the pool4 side. */
  function open6(h = harness([POOL])) {
    const mapped = out6(h.nat, PROTO_TCP, H1, 40000, SRV, 80, SYN);
    expect(mapped).toMatch(/^198\.51\.100\.1#\d+$/);
    const port4 = Number(mapped!.split('#')[1]);
    return { ...h, port4 };
  }

  it('CLOSED + V6 SYN -> V6 INIT with the transitory lifetime', () => {
    const { nat } = open6();
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V6 INIT');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(240);
    expect(nat.stats().tcp).toMatchObject({ bib: 1, sessions: 1 });
  });

  it('CLOSED + V6 packet other than SYN is dropped and creates nothing', () => {
    const { nat } = harness([POOL]);
    expect(out6(nat, PROTO_TCP, H1, 40000, SRV, 80, ACK)).toBeNull();
    expect(nat.stats().tcp).toMatchObject({ bib: 0, sessions: 0, dropNotSyn: 1 });
  });

  it('CLOSED + V4 SYN with no BIB entry is dropped', () => {
    const { nat } = harness([POOL]);
    expect(in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', 61000, SYN)).toBeNull();
    expect(nat.stats().tcp).toMatchObject({ sessions: 0, dropNoBib: 1 });
  });

  it('V6 INIT + V6 SYN (retransmission) stays and refreshes; + V4 SYN -> ESTABLISHED', () => {
    const { nat, clock, port4 } = open6();
    clock.advance(100);
    expect(out6(nat, PROTO_TCP, H1, 40000, SRV, 80, SYN)).toBe(`198.51.100.1#${port4}`);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V6 INIT');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(340);
    expect(in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, SYN | ACK)).toBe(`${H1}#40000`);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('ESTABLISHED');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(100 + 7440);
  });

  it('CLOSED + V4 SYN through a static BIB -> V4 INIT; V4 SYN refreshes; V6 SYN -> ESTABLISHED', () => {
    const { nat, clock } = harness([POOL, 'bib tcp 2001:db8:1::5#80 198.51.100.1#8080']);
    expect(in4(nat, PROTO_TCP, SRV, 5555, '198.51.100.1', 8080, SYN)).toBe('2001:db8:1::5#80');
    expect(tcpState(nat, '2001:db8:1::5', 80, SRV, 5555)).toBe('V4 INIT');
    clock.advance(10);
    expect(in4(nat, PROTO_TCP, SRV, 5555, '198.51.100.1', 8080, SYN)).not.toBeNull();
    expect(tcpState(nat, '2001:db8:1::5', 80, SRV, 5555)).toBe('V4 INIT');
    expect(tcpExpiry(nat, '2001:db8:1::5', 80, SRV, 5555)).toBe(250);
    expect(out6(nat, PROTO_TCP, '2001:db8:1::5', 80, SRV, 5555, SYN | ACK)).toBe(
      '198.51.100.1#8080',
    );
    expect(tcpState(nat, '2001:db8:1::5', 80, SRV, 5555)).toBe('ESTABLISHED');
  });

  function established() {
    const h = open6();
    in4(h.nat, PROTO_TCP, SRV, 80, '198.51.100.1', h.port4, SYN | ACK);
    expect(tcpState(h.nat, H1, 40000, SRV, 80)).toBe('ESTABLISHED');
    return h;
  }

  it('ESTABLISHED + data refreshes the established lifetime', () => {
    const { nat, clock, port4 } = established();
    clock.advance(3000);
    expect(in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, ACK)).not.toBeNull();
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(3000 + 7440);
  });

  it('ESTABLISHED + V4 FIN -> V4 FIN RCV; + V6 FIN -> V4 FIN + V6 FIN RCV (transitory)', () => {
    const { nat, clock, port4 } = established();
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, FIN | ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V4 FIN RCV');
    clock.advance(5);
    out6(nat, PROTO_TCP, H1, 40000, SRV, 80, ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V4 FIN RCV');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(5 + 7440);
    out6(nat, PROTO_TCP, H1, 40000, SRV, 80, FIN | ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V4 FIN + V6 FIN RCV');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(5 + 240);
    // Further packets are translated without changing the state or the lifetime.
    clock.advance(100);
    expect(in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, ACK)).toBe(`${H1}#40000`);
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(5 + 240);
  });

  it('ESTABLISHED + V6 FIN -> V6 FIN RCV; + V4 FIN -> V4 FIN + V6 FIN RCV', () => {
    const { nat, port4 } = established();
    out6(nat, PROTO_TCP, H1, 40000, SRV, 80, FIN | ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V6 FIN RCV');
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V6 FIN RCV');
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, FIN | ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('V4 FIN + V6 FIN RCV');
  });

  it('V4 FIN + V6 FIN RCV ends when the transitory lifetime runs out; mapping log says closed', () => {
    const { nat, clock, port4, log } = established();
    out6(nat, PROTO_TCP, H1, 40000, SRV, 80, FIN);
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, FIN);
    clock.advance(239);
    nat.tick();
    expect(nat.stats().tcp.sessions).toBe(1);
    clock.advance(1);
    nat.tick();
    expect(nat.stats().tcp).toMatchObject({ sessions: 0, bib: 0 });
    expect(log.at(-1)).toBe(
      `2023-11-14T22:17:20.000Z mapping-end tcp ${H1}#40000 198.51.100.1#${port4} closed`,
    );
    expect(log[0]).toBe(
      `2023-11-14T22:13:20.000Z mapping-start tcp ${H1}#40000 198.51.100.1#${port4}`,
    );
  });

  it('ESTABLISHED + V6 RST or V4 RST -> TRANS; TRANS + other packet -> ESTABLISHED', () => {
    const { nat, clock, port4 } = established();
    out6(nat, PROTO_TCP, H1, 40000, SRV, 80, RST);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('TRANS');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(240);
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, RST);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('TRANS');
    clock.advance(30);
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, ACK);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('ESTABLISHED');
    expect(tcpExpiry(nat, H1, 40000, SRV, 80)).toBe(30 + 7440);
    in4(nat, PROTO_TCP, SRV, 80, '198.51.100.1', port4, RST);
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('TRANS');
  });

  it('TRANS ends after the transitory lifetime (reason reset)', () => {
    const { nat, clock, log } = established();
    out6(nat, PROTO_TCP, H1, 40000, SRV, 80, RST);
    clock.advance(240);
    nat.tick();
    expect(nat.stats().tcp).toMatchObject({ sessions: 0, bib: 0 });
    expect(log.at(-1)).toMatch(/ mapping-end tcp .* reset$/);
  });

  it('ESTABLISHED idle for tcp-est-timeout -> TRANS, then ends after tcp-trans-timeout', () => {
    const { nat, clock } = established();
    clock.advance(7440);
    nat.tick();
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('TRANS');
    clock.advance(239);
    nat.tick();
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('TRANS');
    clock.advance(1);
    nat.tick();
    expect(tcpState(nat, H1, 40000, SRV, 80)).toBe('CLOSED');
  });

  it('V6 INIT never answered ends after tcp-trans-timeout (reason incomplete)', () => {
    const { nat, clock, log } = open6();
    clock.advance(240);
    // Lazy expiry: the next packet of the same connection finds it gone and needs a SYN.
    expect(out6(nat, PROTO_TCP, H1, 40000, SRV, 80, ACK)).toBeNull();
    expect(log.at(-1)).toMatch(/ incomplete$/);
    expect(nat.stats().tcp).toMatchObject({ sessions: 0, bib: 0, sessionsExpired: 1 });
  });

  it('configured TCP timeouts are used', () => {
    const h = harness([POOL, 'tcp-est-timeout 10000', 'tcp-trans-timeout 300']);
    out6(h.nat, PROTO_TCP, H1, 40000, SRV, 80, SYN);
    expect(tcpExpiry(h.nat, H1, 40000, SRV, 80)).toBe(300);
    in4(h.nat, PROTO_TCP, SRV, 80, '198.51.100.1', 40000, SYN);
    const mapped = out6(h.nat, PROTO_TCP, H1, 40000, SRV, 80, ACK)!;
    in4(h.nat, PROTO_TCP, SRV, 80, '198.51.100.1', Number(mapped.split('#')[1]), SYN | ACK);
    expect(tcpExpiry(h.nat, H1, 40000, SRV, 80)).toBe(10000);
  });
});

describe('UDP and ICMP timeouts with the injectable clock', () => {
  it('UDP: 5 minutes by default, refreshed by traffic both ways', () => {
    const { nat, clock } = harness([POOL]);
    const m = out6(nat, PROTO_UDP, H1, 5000, SRV, 53)!;
    const port4 = Number(m.split('#')[1]);
    clock.advance(299);
    expect(in4(nat, PROTO_UDP, SRV, 53, '198.51.100.1', port4)).toBe(`${H1}#5000`);
    clock.advance(299);
    nat.tick();
    expect(nat.stats().udp.sessions).toBe(1);
    clock.advance(1);
    nat.tick();
    expect(nat.stats().udp).toMatchObject({ sessions: 0, bib: 0, sessionsExpired: 1 });
    expect(in4(nat, PROTO_UDP, SRV, 53, '198.51.100.1', port4)).toBeNull();
  });

  it('udp-timeout from the configuration', () => {
    const { nat, clock } = harness([POOL, 'udp-timeout 600']);
    out6(nat, PROTO_UDP, H1, 5000, SRV, 53);
    clock.advance(599);
    nat.tick();
    expect(nat.stats().udp.sessions).toBe(1);
    clock.advance(1);
    nat.tick();
    expect(nat.stats().udp.sessions).toBe(0);
  });

  it('ICMP echo: 60 s by default, icmp-timeout configurable; identifier is the port', () => {
    const { nat, clock } = harness([POOL]);
    const m = out6(nat, PROTO_ICMP, H1, 0x1234, SRV, 0)!;
    const id4 = Number(m.split('#')[1]); // 0x1234 is outside 61000-65535: an even one inside
    expect(id4 >= 61000 && id4 <= 65535 && id4 % 2 === 0).toBe(true);
    expect(in4(nat, PROTO_ICMP, SRV, 0, '198.51.100.1', id4)).toBe(`${H1}#4660`);
    clock.advance(60);
    nat.tick();
    expect(nat.stats().icmp.sessions).toBe(0);
    const h = harness([POOL, 'icmp-timeout 120']);
    out6(h.nat, PROTO_ICMP, H1, 7, SRV, 0);
    h.clock.advance(119);
    h.nat.tick();
    expect(h.nat.stats().icmp.sessions).toBe(1);
  });

  it('expiry work is bounded per tick and per packet', () => {
    const { nat, clock } = harness([POOL]);
    for (let p = 0; p < 100; p++) out6(nat, PROTO_UDP, H1, 1000 + p, SRV, 53);
    clock.advance(300);
    expect(nat.tick(30)).toBe(30);
    expect(nat.stats().udp.sessions).toBe(70);
    // Each packet sweeps a few expired sessions on its way.
    out6(nat, PROTO_UDP, H2, 7, SRV, 53);
    expect(nat.stats().udp.sessions).toBe(70 - 4 + 1);
    nat.tick();
    expect(nat.stats().udp.sessions).toBe(1);
  });
});

describe('port allocation (RFC 6146 section 3.5.1.1)', () => {
  it('keeps the source port when it is inside the range and free', () => {
    const { nat } = harness([POOL]);
    expect(out6(nat, PROTO_UDP, H1, 61234, SRV, 53)).toBe('198.51.100.1#61234');
    // Endpoint-independent mapping: same BIB for another remote.
    expect(out6(nat, PROTO_UDP, H1, 61234, '203.0.113.9', 123)).toBe('198.51.100.1#61234');
    expect(nat.stats().udp).toMatchObject({ bib: 1, sessions: 2 });
    // Another host with the same source port gets another port of the same parity.
    const other = out6(nat, PROTO_UDP, H2, 61234, SRV, 53)!;
    const port = Number(other.split('#')[1]);
    expect(port).not.toBe(61234);
    expect(port % 2).toBe(0);
    expect(port).toBeGreaterThanOrEqual(61000);
  });

  it('keeps the parity of ports outside the range, inside the configured range', () => {
    const { nat } = harness(['pool4 198.51.100.1 udp 2000-2099']);
    const ports = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const sport = 40000 + i;
      const m = out6(nat, PROTO_UDP, H1, sport, SRV, 53)!;
      const p = Number(m.split('#')[1]);
      expect(p % 2).toBe(sport % 2);
      expect(p >= 2000 && p <= 2099).toBe(true);
      ports.add(p);
    }
    expect(ports.size).toBe(50);
  });

  it('falls back to the other parity, then refuses when the range is exhausted', () => {
    const { nat, limits } = harness(['pool4 198.51.100.1 udp 3000-3003']);
    const got = [1, 3, 5].map((s) => Number(out6(nat, PROTO_UDP, H1, s, SRV, 53)!.split('#')[1]));
    expect(got.slice(0, 2).sort()).toEqual([3001, 3003]);
    expect(got[2]! % 2).toBe(0); // odd ones gone: an even port
    expect(out6(nat, PROTO_UDP, H1, 7, SRV, 53)).not.toBeNull();
    expect(out6(nat, PROTO_UDP, H1, 9, SRV, 53)).toBeNull();
    expect(nat.stats().udp).toMatchObject({ bib: 4, dropPoolExhausted: 1, poolPortsFree: 0 });
    expect(limits).toEqual(['stateful: new session refused, udp: pool4 exhausted']);
    // Ports come back when the mappings expire.
    nat.tick();
  });

  it('paired pooling: every mapping of a host uses one address while it has ports', () => {
    const { nat } = harness(['pool4 198.51.100.0/30 tcp 1024-65535']);
    const hosts = ['2001:db8:1::a', '2001:db8:1::b', '2001:db8:1::c', '2001:db8:1::d'];
    const used = new Set<string>();
    for (const h of hosts) {
      const addrs = new Set<string>();
      for (let p = 0; p < 20; p++) {
        addrs.add(out6(nat, PROTO_TCP, h, 30000 + p, SRV, 443, SYN)!.split('#')[0]!);
      }
      expect(addrs.size).toBe(1);
      used.add([...addrs][0]!);
    }
    expect(used.size).toBeGreaterThan(1); // hosts spread over the pool
  });

  it('protocol-specific pool4 lines: tcp and udp ranges are separate', () => {
    const { nat } = harness([
      'pool4 198.51.100.1 tcp 10000-10009',
      'pool4 198.51.100.2 udp 20000-20009',
    ]);
    expect(out6(nat, PROTO_TCP, H1, 10004, SRV, 80, SYN)).toBe('198.51.100.1#10004');
    expect(out6(nat, PROTO_UDP, H1, 20004, SRV, 53)).toBe('198.51.100.2#20004');
    expect(out6(nat, PROTO_ICMP, H1, 1, SRV, 0)).toBeNull(); // no icmp pool
    expect(nat.isPoolAddress(ip4('198.51.100.1'))).toBe(true);
    expect(nat.isPoolAddress(ip4('198.51.100.3'))).toBe(false);
  });

  it('max-sessions-per-host: one host cannot take the pool; counted and logged rate-limited', () => {
    const { nat, clock, limits } = harness([POOL, 'max-sessions-per-host 3'], {
      limitLogInterval: 10,
    });
    for (let p = 1; p <= 3; p++) expect(out6(nat, PROTO_UDP, H1, p, SRV, 53)).not.toBeNull();
    expect(out6(nat, PROTO_UDP, H1, 4, SRV, 53)).toBeNull();
    expect(out6(nat, PROTO_TCP, H1, 4, SRV, 80, SYN)).toBeNull(); // the limit spans protocols
    // An existing session still works, and so does another host.
    expect(out6(nat, PROTO_UDP, H1, 1, SRV, 53)).not.toBeNull();
    expect(out6(nat, PROTO_UDP, H2, 4, SRV, 53)).not.toBeNull();
    expect(nat.stats().udp.dropHostLimit).toBe(1);
    expect(nat.stats().tcp.dropHostLimit).toBe(1);
    expect(limits).toEqual([
      `stateful: new session refused, udp: max-sessions-per-host (3) reached by ${H1}`,
    ]);
    clock.advance(10);
    expect(out6(nat, PROTO_UDP, H1, 5, SRV, 53)).toBeNull();
    expect(limits[1]).toBe(
      `stateful: new session refused, udp: max-sessions-per-host (3) reached by ${H1} (2 since the last message)`,
    );
    // When a session ends, the host may open another.
    clock.advance(300);
    nat.tick();
    expect(out6(nat, PROTO_UDP, H1, 6, SRV, 53)).not.toBeNull();
  });

  it('max-sessions limits the total', () => {
    const { nat } = harness([POOL, 'max-sessions 5']);
    for (let i = 0; i < 5; i++) out6(nat, PROTO_UDP, `2001:db8:1::${i + 1}`, 9, SRV, 53);
    expect(out6(nat, PROTO_UDP, '2001:db8:1::99', 9, SRV, 53)).toBeNull();
    expect(nat.stats().udp).toMatchObject({ sessions: 5, dropTotalLimit: 1 });
    expect(nat.sessionCount).toBe(5);
  });
});

describe('filtering', () => {
  it('endpoint-independent filtering (default): any remote may use an existing BIB entry', () => {
    const { nat } = harness([POOL]);
    const port4 = Number(out6(nat, PROTO_UDP, H1, 61500, SRV, 3478)!.split('#')[1]);
    expect(in4(nat, PROTO_UDP, '198.51.100.77', 9999, '198.51.100.1', port4)).toBe(`${H1}#61500`);
    expect(nat.stats().udp.sessions).toBe(2);
  });

  it('address-dependent filtering: only remotes the host has sent to (any port)', () => {
    const { nat } = harness([POOL, 'address-dependent-filtering yes']);
    const port4 = Number(out6(nat, PROTO_UDP, H1, 61500, SRV, 3478)!.split('#')[1]);
    expect(in4(nat, PROTO_UDP, SRV, 3479, '198.51.100.1', port4)).toBe(`${H1}#61500`);
    expect(in4(nat, PROTO_UDP, '198.51.100.77', 3478, '198.51.100.1', port4)).toBeNull();
    expect(nat.stats().udp).toMatchObject({ sessions: 2, dropFiltered: 1 });
    // TCP: an inbound SYN from another address is refused too.
    const t = Number(out6(nat, PROTO_TCP, H1, 61600, SRV, 80, SYN)!.split('#')[1]);
    expect(in4(nat, PROTO_TCP, '198.51.100.77', 80, '198.51.100.1', t, SYN)).toBeNull();
    expect(in4(nat, PROTO_TCP, SRV, 81, '198.51.100.1', t, SYN)).toBe(`${H1}#61600`);
  });
});

describe('static BIB entries', () => {
  it('bind IPv6 host#port to pool4#port for inbound connections and outbound traffic', () => {
    const { nat, clock, log } = harness([
      'pool4 198.51.100.1 61000-65535',
      'bib tcp 2001:db8:1::5#80 198.51.100.1#8080',
      'bib udp 2001:db8:1::5#53 198.51.100.1#61001',
    ]);
    expect(log).toEqual([
      '2023-11-14T22:13:20.000Z mapping-start tcp 2001:db8:1::5#80 198.51.100.1#8080 static',
      '2023-11-14T22:13:20.000Z mapping-start udp 2001:db8:1::5#53 198.51.100.1#61001 static',
    ]);
    expect(in4(nat, PROTO_UDP, SRV, 40000, '198.51.100.1', 61001)).toBe('2001:db8:1::5#53');
    // A port inside the dynamic range is taken out of it.
    expect(out6(nat, PROTO_UDP, H1, 61001, SRV, 53)).not.toBe('198.51.100.1#61001');
    clock.advance(300);
    nat.tick();
    expect(nat.stats().udp.bib).toBe(1); // the static entry stays, the dynamic one went
    expect(out6(nat, PROTO_TCP, '2001:db8:1::5', 80, SRV, 9999, SYN)).toBe('198.51.100.1#8080');
  });
});

describe('shutdown', () => {
  it('ends every session and logs the end of dynamic mappings', () => {
    const { nat, log } = harness([POOL]);
    out6(nat, PROTO_UDP, H1, 61234, SRV, 53);
    nat.shutdown();
    expect(nat.sessionCount).toBe(0);
    expect(log.at(-1)).toBe(
      `2023-11-14T22:13:20.000Z mapping-end udp ${H1}#61234 198.51.100.1#61234 shutdown`,
    );
  });
});
