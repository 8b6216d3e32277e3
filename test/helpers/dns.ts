import * as dnsPacket from 'dns-packet';
import { Buffer } from 'node:buffer';

export interface QueryOptions {
  id?: number;
  edns?: boolean;
  dnssecOk?: boolean;
  cd?: boolean;
  rd?: boolean;
  padding?: boolean;
  ednsVersion?: number;
  /** An empty NSID option (RFC 5001), which implies EDNS. */
  nsid?: boolean;
  /** The question's class (default IN). */
  qclass?: string;
}

/** A client query in wire form. */
export function query(name: string, type: string, opts: QueryOptions = {}): Uint8Array {
  const packet: dnsPacket.Packet = {
    type: 'query',
    id: opts.id ?? 0x1234,
    flags:
      (opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED) |
      (opts.cd ? dnsPacket.CHECKING_DISABLED : 0),
    questions: [{ name, type: type as 'A', class: (opts.qclass ?? 'IN') as 'IN' }],
  };
  if (opts.edns || opts.dnssecOk || opts.padding || opts.ednsVersion || opts.nsid) {
    packet.additionals = [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: opts.ednsVersion ?? 0,
        flags: opts.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        flag_do: opts.dnssecOk ?? false,
        options: [
          ...(opts.padding ? [{ code: 12, length: 20 } as dnsPacket.PacketOpt] : []),
          // dns-packet's types know no NSID; it encodes any code with its data.
          ...(opts.nsid
            ? [{ code: 3, data: Buffer.alloc(0) } as unknown as dnsPacket.PacketOpt]
            : []),
        ],
      },
    ];
  }
  return new Uint8Array(dnsPacket.encode(packet));
}

export function decode(bytes: Uint8Array | ArrayBuffer): dnsPacket.Packet {
  return dnsPacket.decode(Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)));
}

export function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function rcode(p: dnsPacket.Packet): number {
  return (p.flags ?? 0) & 0xf;
}

/** [name, type, ttl, data] of each record of a section, for exact comparisons. */
export function rows(list: dnsPacket.Answer[] | undefined): [string, string, number, unknown][] {
  return (list ?? [])
    .filter((r) => r.type !== 'OPT')
    .map((r) => [r.name, r.type, 'ttl' in r ? (r.ttl ?? 0) : 0, 'data' in r ? r.data : null]);
}

/** EDE codes and texts in a response's OPT record. */
export function edes(p: dnsPacket.Packet): { code: number; text: string }[] {
  const opt = p.additionals?.find((r) => r.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  return ((opt?.options ?? []) as { code: number; data?: Buffer }[])
    .filter((o) => o.code === 15 && o.data)
    .map((o) => ({ code: o.data!.readUInt16BE(0), text: o.data!.subarray(2).toString('utf8') }));
}

/** The NSID (RFC 5001) in a response's OPT record, as text; null when there is none. */
export function nsidOf(p: dnsPacket.Packet): string | null {
  const opt = p.additionals?.find((r) => r.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  const o = ((opt?.options ?? []) as { code: number; data?: Buffer }[]).find((x) => x.code === 3);
  return o ? (o.data ?? Buffer.alloc(0)).toString('utf8') : null;
}
