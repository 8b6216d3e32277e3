import type { Nat64Prefix, UdpChecksumMode } from '../core/types.js';
import type { Ipv4Net, Ipv6Net } from './addr.js';
import type { ConfigIssue } from './errors.js';
import type { ReportSettings } from './report.js';

/** A `map` line: a host (/32 <-> /128) or Tayga's network form of equal sizes. */
export interface StaticMapEntry {
  readonly ipv4: Ipv4Net;
  readonly ipv6: Ipv6Net;
  /** Line in the configuration file, for messages. */
  readonly line: number;
}

/** A parsed and validated tayga.conf. */
export interface Nat64dConfig {
  readonly file: string;
  readonly tunDevice: string;
  readonly ipv4Addr: number;
  readonly ipv6Addr: Uint8Array;
  /** True when `ipv6-addr` was absent and derived from `ipv4-addr` inside `prefix`. */
  readonly ipv6AddrDerived: boolean;
  readonly prefix: Nat64Prefix;
  readonly dynamicPool: Ipv4Net | null;
  readonly maps: readonly StaticMapEntry[];
  /** Absolute directory for dynamic.map, or null (mappings are then lost at exit). */
  readonly dataDir: string | null;
  readonly strictFragHdr: boolean;
  readonly wkpfStrict: boolean;
  readonly udpChecksumMode: UdpChecksumMode;
  readonly offlinkMtu: number;
  /** Our extension: the daemon configures link, addresses and routes itself. */
  readonly tunUp: boolean;
  /** Our extension: MTU set on the TUN device. */
  readonly tunMtu: number;
  /** Our extension: `tun-queue-len`, the TUN device's transmit queue (packets held for us). */
  readonly tunQueueLen: number;
  /** Our extension: `host:port` of the Prometheus endpoint, or null when disabled. */
  readonly metrics: string | null;
  /** Stateful NAT64 (RFC 6146) settings: present when the file has `pool4` lines. */
  readonly stateful: StatefulSettings | null;
  /** `icmp-error-rate`: ICMP errors the translator originates per second and family, and burst. */
  readonly icmpErrorRate: number;
  readonly icmpErrorBurst: number;
  /** Tayga's `tun-ip` lines (`addr/len`), added to the device with `tun-up`. */
  readonly tunIps: readonly string[];
  /** Tayga's `tun-route` lines (`net/len`), routed into the device with `tun-up`. */
  readonly tunRoutes: readonly string[];
  /** Tayga's `map-file`, resolved to an absolute path (its map lines are in `maps`), or null. */
  readonly mapFile: string | null;
  /** Keys accepted for Tayga compatibility without the behaviour: reported at start. */
  readonly warnings: readonly ConfigIssue[];
  /** Our extension: `report-url`/`report-key` (or the environment), or null when not set. */
  readonly report: ReportSettings | null;
}

export type NatProtocol = 'tcp' | 'udp' | 'icmp';
export const NAT_PROTOCOLS: readonly NatProtocol[] = ['tcp', 'udp', 'icmp'];

/** A `pool4` line: addresses and the port (ICMP: identifier) range for some protocols. */
export interface Pool4Entry {
  readonly net: Ipv4Net;
  readonly protocols: readonly NatProtocol[];
  readonly first: number;
  readonly last: number;
  readonly line: number;
}

/** A `bib` line: a static binding `proto ipv6#port ipv4#port`. */
export interface StaticBibEntry {
  readonly protocol: NatProtocol;
  readonly ipv6: Uint8Array;
  readonly port6: number;
  readonly ipv4: number;
  readonly port4: number;
  readonly line: number;
}

export interface StatefulSettings {
  readonly pool4: readonly Pool4Entry[];
  readonly bib: readonly StaticBibEntry[];
  /** Session lifetimes in seconds (RFC 6146 §4 defaults: 300, 7440, 240, 60). */
  readonly udpTimeout: number;
  readonly tcpEstTimeout: number;
  readonly tcpTransTimeout: number;
  readonly icmpTimeout: number;
  readonly addressDependentFiltering: boolean;
  readonly maxSessions: number;
  readonly maxSessionsPerHost: number;
  /** `log-mappings`: false (off), true (the daemon's log) or an absolute file path. */
  readonly logMappings: boolean | string;
  /**
   * `pool4-port-overlap`: what to do when a pool4 range on an address of this host overlaps
   * `net.ipv4.ip_local_port_range` (refuse to start, or warn).
   */
  readonly pool4PortOverlap: 'refuse' | 'warn';
}
