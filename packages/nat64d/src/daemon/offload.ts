/**
 * TCP/IPv6 offload for the packet path: the TUN device is opened with IFF_VNET_HDR and
 * TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO6), so the kernel hands over a TCP/IPv6 flow as GSO
 * super-packets of up to 64 KB; each is translated once and written back as one TCP/IPv4 GSO
 * packet that the kernel segments (see native/tun.c for the checksum conventions). On Linux
 * >= 6.2 UDP GSO is taken too (TUN_F_USO4/USO6): a run of same-flow UDP/IPv6 datagrams that
 * the kernel kept together (UDP GRO forwarding on the uplink) is translated once and written
 * as UDP/IPv4 GSO; anything the fast path cannot take is segmented in software first. IPv4 TSO
 * stays off: the translator fragments IPv4 packets larger than the IPv6 MTU, which a GSO
 * packet must not be. `NAT64D_OFFLOAD=off` in the environment disables it.
 */
import type { TranslatorConfig } from '../core/index.js';
import { GSO_SLOT, TunDevice } from '../tun/index.js';

/**
 * The translator's configuration with offload: the core answers Packet Too Big for an IPv6
 * packet whose translation exceeds its largest IPv4 packet, so that becomes 65535 (a GSO
 * super-packet, segmented by the kernel). The next-hop MTUs, which the core reports in Packet
 * Too Big / Fragmentation Needed messages and uses for DF-set IPv4 packets, stay the TUN MTU.
 * Nothing changes for ordinary packets: one read from the device is at most the TUN MTU, so its
 * IPv4 translation (20 bytes shorter) always fitted.
 */
export function offloadTranslatorConfig(base: TranslatorConfig): TranslatorConfig {
  return { ...base, ipv4MaxPacket: 65535 };
}

/**
 * Offload unless the environment says NAT64D_OFFLOAD=off. Stateful mode too: a GSO packet's
 * port rewrite leaves its partial checksum alone (xlate6to4), and one that hairpins back to
 * IPv6 (RFC 6146 §3.8) is segmented in software first (core/gso-segment.ts), since the
 * IPv4 -> IPv6 path would have to fragment it.
 */
export function offloadWanted(env: NodeJS.ProcessEnv): boolean {
  return env.NAT64D_OFFLOAD !== 'off';
}

export interface OpenedTun {
  readonly tun: TunDevice;
  /** TCP/IPv6 offload in effect. */
  readonly offload: boolean;
  /** Read slot for the packet loop. */
  readonly slot: number;
  /** Why offload was wanted but could not be enabled, else null. */
  readonly fallback: string | null;
  /** UDP GSO on the read side (TUN_F_USO4/USO6) in effect. */
  readonly uso: boolean;
}

/** Opens the device with offload when wanted and possible, else a plain one. */
export function openTun(name: string, mtu: number, headroom: number, offload: boolean): OpenedTun {
  const plainSlot = mtu + headroom;
  let fallback: string | null = null;
  if (offload) {
    let tun: TunDevice | null = null;
    try {
      tun = TunDevice.open(name, { vnetHdr: true });
      const uso = tun.enableOffload();
      tun.setUdpCoalesce(true);
      return { tun, offload: true, slot: Math.max(GSO_SLOT, plainSlot), fallback: null, uso };
    } catch (err) {
      tun?.close();
      fallback = (err as Error).message;
    }
  }
  return { tun: TunDevice.open(name), offload: false, slot: plainSlot, fallback, uso: false };
}
