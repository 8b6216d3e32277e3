"""Waits for one Router Advertisement on an interface and prints its options as JSON.

    python3 ra_pref64.py IFNAME [SECONDS]

Sends a Router Solicitation to ff02::2 (hop limit 255, RFC 4861 section 6.1.1; retried until
the interface has its link-local address) so a router answers at once, then reads ICMPv6 from a
raw socket until a Router Advertisement (type 134) arrives. Decodes PREF64 (RFC 8781 section 4,
type 38), RDNSS (RFC 8106, type 25) and Prefix Information (RFC 4861, type 3). Exit 3 with
"TIMEOUT" when none arrives.
"""
import ipaddress
import json
import select
import socket
import struct
import sys
import time

PLC_LENGTHS = {0: 96, 1: 64, 2: 56, 3: 48, 4: 40, 5: 32}


def options(data):
    at = 16  # RA header: type, code, checksum, hop limit, flags, lifetime, reachable, retrans
    while at + 2 <= len(data):
        kind, units = data[at], data[at + 1]
        if units == 0:
            raise ValueError(f"option of length 0 at offset {at}")
        yield kind, data[at : at + 8 * units]
        at += 8 * units


def decode(data):
    out = {"pref64": [], "rdnss": [], "prefixes": []}
    for kind, opt in options(data):
        if kind == 38:
            (scaled_plc,) = struct.unpack("!H", opt[2:4])
            plc = scaled_plc & 7
            prefix = ipaddress.IPv6Address(opt[4:16] + bytes(4))
            out["pref64"].append(
                {
                    "length": len(opt),
                    "lifetime": (scaled_plc >> 3) * 8,
                    "plc": plc,
                    "prefix": f"{prefix}/{PLC_LENGTHS.get(plc, -1)}",
                }
            )
        elif kind == 25:
            (lifetime,) = struct.unpack("!I", opt[4:8])
            servers = [str(ipaddress.IPv6Address(opt[i : i + 16])) for i in range(8, len(opt), 16)]
            out["rdnss"].append({"lifetime": lifetime, "servers": servers})
        elif kind == 3:
            out["prefixes"].append(f"{ipaddress.IPv6Address(opt[16:32])}/{opt[2]}")
    return out


def main():
    ifname = sys.argv[1]
    deadline = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 10)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    scope = socket.if_nametoindex(ifname)
    solicited = False
    while True:
        if not solicited:
            # Until the interface has its link-local address the kernel refuses to send
            # (ENETUNREACH, EADDRNOTAVAIL): try again shortly, listening meanwhile.
            try:
                sock.sendto(struct.pack("!BBHI", 133, 0, 0, 0), ("ff02::2", 0, 0, scope))
                solicited = True
            except OSError:
                pass
        left = deadline - time.monotonic()
        if left <= 0:
            print("TIMEOUT")
            sys.exit(3)
        if not select.select([sock], [], [], left if solicited else min(left, 0.1))[0]:
            continue
        data, addr = sock.recvfrom(65535)
        if data and data[0] == 134:
            print(json.dumps({"from": addr[0].split("%")[0], **decode(data)}, sort_keys=True))
            return


main()
