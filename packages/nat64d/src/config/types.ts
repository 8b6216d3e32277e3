import type { Nat64Prefix, UdpChecksumMode } from '../core/types.js';
import type { Ipv4Net, Ipv6Net } from './addr.js';

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
  /** Our extension: `host:port` of the Prometheus endpoint, or null when disabled. */
  readonly metrics: string | null;
}
