/**
 * pool4 on an address of the gateway itself (Jool's setup: the uplink address in pool4 with
 * 61000-65535, the host's ephemeral range narrowed below it).
 *
 * The kernel delivers every packet to a local address to its own stack, so only the pool4
 * port ranges of such an address are steered into the TUN device:
 *
 * - an nftables table of nat64d's own (`table inet nat64d`) marks, in prerouting, inbound
 *   packets to host-address:pool4-range (per protocol; ICMP echo replies by identifier) and to
 *   static BIB ports, and everything conntrack relates to what the translator sent from that
 *   address (replies, ICMP errors), with fwmark STEER_MARK;
 * - `ip rule pref 10 fwmark STEER_MARK lookup STEER_TABLE`, a default route into the TUN
 *   device in that table, and the kernel's `lookup local` rule moved from pref 0 to pref 11
 *   (after ours: no rule can precede pref 0), as the kernel's VRF documentation does;
 * - on the TUN device `accept_local=1` and `rp_filter=0`, since the translated packets leave it
 *   with the host's own address as source.
 *
 * Installed at start (replacing a crashed daemon's leftovers, never adding a second copy) and
 * removed at exit, with the local rule put back at pref 0.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { formatIpv4, parseIpv4 } from '../config/addr.js';
import type { Nat64dConfig, NatProtocol } from '../config/types.js';

const run = promisify(execFile);

export const STEER_MARK = 0x6464;
export const STEER_TABLE = 6464;
export const STEER_RULE_PREF = 10;
export const LOCAL_RULE_PREF = 11;
export const NFT_TABLE = 'nat64d';

/** A port (ICMP: identifier) range of one protocol on one host address. */
export interface HostRange {
  readonly addr: number;
  readonly proto: NatProtocol;
  readonly first: number;
  readonly last: number;
  /** True for a static BIB port (one port), false for a pool4 range. */
  readonly bib: boolean;
}

/** The IPv4 addresses configured on this host's interfaces (`ip -j -4 addr show`). */
export async function hostIpv4Addresses(): Promise<Set<number>> {
  const { stdout } = await run('ip', ['-j', '-4', 'addr', 'show'], { timeout: 10_000 });
  const out = new Set<number>();
  const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
  for (const link of links) {
    for (const a of link.addr_info ?? []) {
      const v = a.local ? parseIpv4(a.local) : null;
      if (v?.ok) out.add(v.value >>> 0);
    }
  }
  return out;
}

/** pool4 ranges and static BIB ports that lie on addresses of this host. */
export function hostRanges(config: Nat64dConfig, hostAddrs: ReadonlySet<number>): HostRange[] {
  const st = config.stateful;
  if (!st) return [];
  const out: HostRange[] = [];
  for (const p of st.pool4) {
    const count = 2 ** (32 - p.net.length);
    for (let i = 0; i < count; i++) {
      const addr = (p.net.addr + i) >>> 0;
      if (!hostAddrs.has(addr)) continue;
      for (const proto of p.protocols)
        out.push({ addr, proto, first: p.first, last: p.last, bib: false });
    }
  }
  for (const b of st.bib) {
    if (hostAddrs.has(b.ipv4 >>> 0))
      out.push({ addr: b.ipv4 >>> 0, proto: b.protocol, first: b.port4, last: b.port4, bib: true });
  }
  return out;
}

/** Reads `net.ipv4.ip_local_port_range` ([first, last]). */
export function readEphemeralRange(
  file = '/proc/sys/net/ipv4/ip_local_port_range',
): [number, number] {
  const [a = NaN, b = NaN] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
  return [a, b];
}

/**
 * The message when a TCP or UDP pool4 range on a host address overlaps the host's ephemeral
 * port range (the kernel could give the gateway's own connections a port pool4 hands out),
 * or null. ICMP identifiers are not ports and are not checked.
 */
export function ephemeralOverlap(
  ranges: readonly HostRange[],
  [lo, hi]: readonly [number, number],
): string | null {
  const clash = ranges.filter((r) => !r.bib && r.proto !== 'icmp' && r.first <= hi && r.last >= lo);
  if (clash.length === 0) return null;
  const names = [
    ...new Set(clash.map((r) => `${formatIpv4(r.addr)} ${r.proto} ${r.first}-${r.last}`)),
  ];
  const lowest = Math.min(...clash.map((r) => r.first));
  const fix =
    lowest - 1 > lo
      ? `sysctl -w net.ipv4.ip_local_port_range="${lo} ${lowest - 1}"`
      : `sysctl -w net.ipv4.ip_local_port_range="FIRST LAST" with LAST below ${lowest}`;
  return (
    `pool4 ${names.join(', ')} overlaps the host's ephemeral ports ` +
    `(net.ipv4.ip_local_port_range ${lo} ${hi}) on an address of this host; ` +
    `narrow them with ${fix} (and in /etc/sysctl.d to keep it), ` +
    `or set pool4-port-overlap warn`
  );
}

/** The nftables script that (re)creates `table inet nat64d` atomically. */
export function steeringRuleset(dev: string, ranges: readonly HostRange[]): string {
  const mark = `0x${STEER_MARK.toString(16)}`;
  const addrs = [...new Set(ranges.map((r) => r.addr))].map(formatIpv4);
  const lines = [
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
  ];
  if (addrs.length > 0) {
    const set = `{ ${addrs.join(', ')} }`;
    // What the translator sends from the host address: conntrack remembers it, so replies
    // and the ICMP errors about it come back to the TUN device.
    lines.push(`    iifname "${dev}" ip saddr ${set} ct mark set ${mark} return`);
    for (const r of ranges) {
      const a = formatIpv4(r.addr);
      const ports = r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
      const match =
        r.proto === 'icmp' ? `icmp type echo-reply icmp id ${ports}` : `${r.proto} dport ${ports}`;
      lines.push(`    iifname != "${dev}" ip daddr ${a} ${match} meta mark set ${mark} return`);
      // ICMP echo requests to a static BIB identifier (a server behind the NAT64 answering ping).
      if (r.proto === 'icmp' && r.bib)
        lines.push(
          `    iifname != "${dev}" ip daddr ${a} icmp type echo-request icmp id ${ports} meta mark set ${mark} return`,
        );
    }
    lines.push(`    iifname != "${dev}" ip daddr ${set} ct mark ${mark} meta mark set ${mark}`);
  }
  lines.push('  }', '}', '');
  return lines.join('\n');
}

async function runTool(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, [...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function quiet(cmd: string, args: readonly string[]): Promise<boolean> {
  try {
    await runTool(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** `ip -4 rule` lines with this preference. */
async function rulesAt(pref: number): Promise<string[]> {
  const out = await runTool('ip', ['-4', 'rule', 'show', 'pref', String(pref)]);
  return out.split('\n').filter((l) => l.trim() !== '');
}

function setDeviceSysctl(dev: string, key: string, value: string): void {
  writeFileSync(`/proc/sys/net/ipv4/conf/${dev}/${key}`, `${value}\n`);
}

/**
 * Installs the steering for `ranges` on device `dev` (idempotent: a previous run's rules,
 * table and routes are replaced). With no ranges, removes it.
 */
export async function installSteering(dev: string, ranges: readonly HostRange[]): Promise<void> {
  if (ranges.length === 0) {
    await removeSteering();
    return;
  }
  setDeviceSysctl(dev, 'accept_local', '1');
  setDeviceSysctl(dev, 'rp_filter', '0');
  await runTool('nft', ['-f', '-'], steeringRuleset(dev, ranges));
  await runTool('ip', [
    '-4',
    'route',
    'replace',
    'default',
    'dev',
    dev,
    'table',
    String(STEER_TABLE),
  ]);
  // Our two rules, once each, without a moment where they are missing (a reload must not
  // let a reply reach the local stack, which would answer it with a RST).
  await ensureRule(STEER_RULE_PREF, [
    'fwmark',
    `0x${STEER_MARK.toString(16)}`,
    'lookup',
    String(STEER_TABLE),
  ]);
  await ensureRule(LOCAL_RULE_PREF, ['lookup', 'local']);
  // The kernel's own `lookup local` at pref 0 would see the address first.
  while (await quiet('ip', ['-4', 'rule', 'del', 'pref', '0', 'lookup', 'local']));
}

/** Makes `pref` hold exactly one rule, `from all <selector...>`. */
async function ensureRule(pref: number, what: readonly string[]): Promise<void> {
  const want = `${pref}: from all ${what.join(' ')}`;
  const have = (await rulesAt(pref)).map((l) => l.replace(/\s+/g, ' ').trim());
  if (have.length === 1 && have[0] === want) return;
  while (await quiet('ip', ['-4', 'rule', 'del', 'pref', String(pref)]));
  await runTool('ip', ['-4', 'rule', 'add', 'pref', String(pref), ...what]);
}

/** Removes what installSteering added and puts the local rule back at pref 0. */
export async function removeSteering(): Promise<void> {
  const hadOurs = (await rulesAt(LOCAL_RULE_PREF)).length > 0;
  if (hadOurs && (await rulesAt(0)).length === 0) {
    await runTool('ip', ['-4', 'rule', 'add', 'pref', '0', 'lookup', 'local']);
  }
  while (await quiet('ip', ['-4', 'rule', 'del', 'pref', String(STEER_RULE_PREF)]));
  while (await quiet('ip', ['-4', 'rule', 'del', 'pref', String(LOCAL_RULE_PREF)]));
  await quiet('ip', ['-4', 'route', 'flush', 'table', String(STEER_TABLE)]);
  await quiet('nft', ['delete', 'table', 'inet', NFT_TABLE]);
}
