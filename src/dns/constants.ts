/** DNS numbers this project speaks of by name (RFC 1035, RFC 6891, RFC 8914, IANA registries). */

export const QTYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  DNAME: 39,
  OPT: 41,
  RRSIG: 46,
  ANY: 255,
} as const;

export const QCLASS_IN = 1;
/** CHAOS (RFC 1035 §3.2.4), for the server's identity (RFC 4892). */
export const QCLASS_CH = 3;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended RCODE 16 (RFC 6891 §6.1.3): upper 8 bits 1 in OPT, lower 4 bits 0 in the header. */
  BADVERS: 16,
} as const;

/** Header flag bits of the second 16-bit word (RFC 1035 §4.1.1, RFC 4035 §3.2). */
export const FLAG = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

export const OPCODE_QUERY = 0;

/** EDNS option codes. */
export const EDNS_OPTION = {
  /** RFC 5001 Name Server Identifier */
  NSID: 3,
  /** RFC 7871 Client Subnet */
  ECS: 8,
  /** RFC 7828 */
  TCP_KEEPALIVE: 11,
  /** RFC 7830 / RFC 8467 */
  PADDING: 12,
  /** RFC 8145 */
  KEY_TAG: 14,
  /** RFC 8914 */
  EXTENDED_ERROR: 15,
} as const;

/** Extended DNS Error info codes used here (RFC 8914 §4, IANA registry). */
export const EDE = {
  OTHER: 0,
  STALE_ANSWER: 3,
  PROHIBITED: 18,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
  /** RFC 8914 §4.30: the answer was synthesized (here: by DNS64). */
  SYNTHESIZED: 29,
} as const;

/** The largest DNS message (RFC 8484 §6: a DoH body is one DNS message, at most 65535 bytes). */
export const MAX_MESSAGE_SIZE = 65535;

/** EDNS payload size we advertise (DNS Flag Day 2020). */
export const EDNS_UDP_SIZE = 1232;
