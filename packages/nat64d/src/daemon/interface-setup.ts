/**
 * Host-side setup of the TUN device with iproute2 (skipped with `tun-up no`): link up and
 * routes toward the translator for everything it answers for. No address is added of its own:
 * the translator's `ipv4-addr` / `ipv6-addr` live behind the device (adding them to the host
 * would make the kernel deliver their traffic locally instead of to the translator); Tayga's
 * `tun-ip` / `tun-route` lines are applied as given.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  formatIpv4,
  formatIpv4Net,
  formatIpv6,
  formatIpv6Net,
  ipv4InNet,
  ipv6InNet,
} from '../config/addr.js';
import type { Nat64dConfig, StaticMapEntry } from '../config/types.js';

const run = promisify(execFile);

export type IpCommand = readonly string[];

/**
 * IPv4 destinations routed into the device: ipv4-addr, the dynamic pool, map lines, pool4
 * (but a pool4 address of this host, `hostAddrs`: only its pool4 ports are steered, see
 * host-pool4.ts).
 */
export function ipv4Routes(
  config: Nat64dConfig,
  hostAddrs: ReadonlySet<number> = new Set(),
): string[] {
  const routes = new Set<string>();
  const pool = config.dynamicPool;
  if (!pool || !ipv4InNet(config.ipv4Addr, pool)) routes.add(`${formatIpv4(config.ipv4Addr)}/32`);
  if (pool) routes.add(formatIpv4Net(pool));
  for (const m of config.maps)
    if (!pool || m.ipv4.length < pool.length || !ipv4InNet(m.ipv4.addr, pool))
      routes.add(formatIpv4Net(m.ipv4));
  // Stateful NAT64: the pool4 addresses are the translator's own IPv4 side.
  for (const p of config.stateful?.pool4 ?? [])
    if (p.net.length !== 32 || !hostAddrs.has(p.net.addr >>> 0)) routes.add(formatIpv4Net(p.net));
  return [...routes];
}

/** IPv6 destinations routed into the device: the NAT64 prefix, ipv6-addr outside it. */
export function ipv6Routes(config: Nat64dConfig): string[] {
  const routes = [formatIpv6Net(config.prefix)];
  if (!ipv6InNet(config.ipv6Addr, 0, config.prefix))
    routes.push(`${formatIpv6(config.ipv6Addr)}/128`);
  return routes;
}

/** The `ip` invocations that bring the device up (idempotent: `replace`). */
export function interfaceCommands(
  config: Nat64dConfig,
  hostAddrs: ReadonlySet<number> = new Set(),
): IpCommand[] {
  const dev = config.tunDevice;
  return [
    ['link', 'set', 'dev', dev, 'mtu', String(config.tunMtu), 'up'],
    ...ipv6Routes(config).map((r) => ['-6', 'route', 'replace', r, 'dev', dev]),
    ...ipv4Routes(config, hostAddrs).map((r) => ['-4', 'route', 'replace', r, 'dev', dev]),
    // Tayga's tun-ip and tun-route lines, as written by the operator.
    ...config.tunIps.map((a) => ['addr', 'replace', a, 'dev', dev]),
    ...config.tunRoutes.map((r) => [
      r.includes(':') ? '-6' : '-4',
      'route',
      'replace',
      r,
      'dev',
      dev,
    ]),
  ];
}

/** Route changes after a SIGHUP changed the `map` lines. */
export function mapRouteChanges(
  dev: string,
  before: readonly StaticMapEntry[],
  after: readonly StaticMapEntry[],
  config: Nat64dConfig,
): IpCommand[] {
  const keep = new Set(ipv4Routes({ ...config, maps: [] }));
  const old = new Set(ipv4Routes({ ...config, maps: before }));
  const next = new Set(ipv4Routes({ ...config, maps: after }));
  const cmds: IpCommand[] = [];
  for (const r of old)
    if (!next.has(r) && !keep.has(r)) cmds.push(['-4', 'route', 'del', r, 'dev', dev]);
  for (const r of next) if (!old.has(r)) cmds.push(['-4', 'route', 'replace', r, 'dev', dev]);
  return cmds;
}

export async function runIp(cmd: IpCommand): Promise<void> {
  try {
    await run('ip', [...cmd], { timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${cmd.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

export async function runIpCommands(cmds: readonly IpCommand[]): Promise<void> {
  for (const cmd of cmds) await runIp(cmd);
}
