import type { TranslatorConfig } from '../core/types.js';
import type { Nat64dConfig } from './types.js';

/** The part of the configuration the RFC 7915 translator core needs. */
export function toTranslatorConfig(config: Nat64dConfig): TranslatorConfig {
  return {
    prefix: config.prefix,
    ipv4Addr: config.ipv4Addr,
    ipv6Addr: config.ipv6Addr,
    wkpfStrict: config.wkpfStrict,
    udpChecksumMode: config.udpChecksumMode,
    strictFragHdr: config.strictFragHdr,
    ipv6Mtu: config.offlinkMtu,
    tunMtu: config.tunMtu,
    icmpErrorRate: config.icmpErrorRate,
    icmpErrorBurst: config.icmpErrorBurst,
  };
}
