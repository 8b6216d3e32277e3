import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';
import { formatAddress } from '../acl/address';
import { CidrSet, parseCidr } from '../acl/cidr';
import type { ClientAcl } from '../resolver/engine';
import type { ServerConfig } from './config';

/** How often, at most, a client outside localnets makes us look at the interfaces again. */
export const LOCALNETS_REFRESH_MS = 5000;

type Interfaces = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * BIND's `localnets`: loopback and every network of the host's own interfaces (each address
 * with its netmask, e.g. 192.0.2.10/24 -> 192.0.2.0/24). Link-local fe80::/10 is on every
 * IPv6 interface, so it is in too.
 */
export function localnets(interfaces: Interfaces = networkInterfaces): CidrSet {
  const elements = new Set(['127.0.0.0/8', '::1/128']);
  for (const infos of Object.values(interfaces())) {
    for (const info of infos ?? []) {
      // An address Node reports oddly is skipped rather than refusing to start.
      const parsed = info.cidr ? parseCidr(info.cidr.replace(/%[^/]*/, '')) : null;
      if (!parsed?.ok) continue;
      const { bytes, length } = parsed.range;
      const network = bytes.map((b, i) => {
        const bits = Math.min(8, Math.max(0, length - i * 8));
        return b & ((0xff << (8 - bits)) & 0xff);
      });
      elements.add(`${formatAddress(network)}/${length}`);
    }
  }
  return CidrSet.parse([...elements]);
}

/**
 * ALLOW_QUERY as the engine's server-wide ACL. `localnets` follows the interfaces: a client
 * outside them makes it look again (at most every LOCALNETS_REFRESH_MS), so addresses that
 * arrive after start (DHCP, SLAAC) count without a restart.
 */
export class ServerAcl implements ClientAcl {
  private set: CidrSet;
  private checked: number;

  constructor(
    private readonly setting: ServerConfig['allowQuery'],
    private readonly interfaces: Interfaces = networkInterfaces,
    private readonly now: () => number = Date.now,
  ) {
    this.set = setting === 'localnets' ? localnets(interfaces) : CidrSet.EMPTY;
    this.checked = now();
  }

  allows(client: Uint8Array | null): boolean {
    if (this.setting === 'any') return true;
    if (client === null) return false;
    if (this.setting !== 'localnets') return this.setting.contains(client);
    if (this.set.contains(client)) return true;
    if (this.now() - this.checked < LOCALNETS_REFRESH_MS) return false;
    this.checked = this.now();
    this.set = localnets(this.interfaces);
    return this.set.contains(client);
  }

  /** For the start-up log line. */
  describe(): string {
    if (this.setting === 'any') return 'any';
    if (this.setting === 'localnets') {
      return `localnets (${this.set.ranges.map((r) => r.text).join(', ')})`;
    }
    return this.setting.ranges.map((r) => r.text).join(', ');
  }
}
