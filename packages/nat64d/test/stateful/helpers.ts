/** Helpers for the stateful NAT64 tests: settings from tayga.conf text and a fake clock. */
import { parseTaygaConf, type StatefulSettings } from '../../src/config/index.js';
import { StatefulNat, type StatefulNatOptions } from '../../src/stateful/index.js';
import { ip4, ip6 } from '../core/helpers.js';

export const T0 = 1_700_000_000;

export function statefulSettings(...lines: string[]): StatefulSettings {
  const text = ['tun-device nat64', 'ipv4-addr 192.0.2.1', 'prefix 2001:db8:64::/96', ...lines];
  const c = parseTaygaConf(text.join('\n') + '\n', '/t.conf');
  if (!c.stateful) throw new Error('no pool4 lines');
  return c.stateful;
}

export class FakeClock {
  t = T0;
  readonly now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds;
  }
}

export interface Harness {
  nat: StatefulNat;
  clock: FakeClock;
  log: string[];
  limits: string[];
}

export function harness(lines: string[], options: Partial<StatefulNatOptions> = {}): Harness {
  const clock = new FakeClock();
  const log: string[] = [];
  const limits: string[] = [];
  const nat = new StatefulNat(statefulSettings(...lines), {
    clock: clock.now,
    mappingLog: (l) => log.push(l),
    limitLog: (m) => limits.push(m),
    ...options,
  });
  return { nat, clock, log, limits };
}

export const SYN = 0x02;
export const FIN = 0x01;
export const RST = 0x04;
export const ACK = 0x10;

/** Outbound through the hook: returns "addr#port" or null when refused. */
export function out6(
  nat: StatefulNat,
  proto: number,
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags = 0,
): string | null {
  const ok = nat.outbound(proto, ip6(src), 0, sport, ip4(dst), dport, flags);
  return ok ? `${fmt4(nat.resultAddr4)}#${nat.resultPort}` : null;
}

/** Inbound through the hook: returns "ipv6#port" of the host or null when refused. */
export function in4(
  nat: StatefulNat,
  proto: number,
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags = 0,
): string | null {
  const buf = new Uint8Array(16);
  const ok = nat.inbound(proto, ip4(src), sport, ip4(dst), dport, flags, buf, 0);
  return ok ? `${fmt6(buf)}#${nat.resultPort}` : null;
}

export function fmt4(a: number): string {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
}

export function fmt6(b: Uint8Array): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return w.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
