#!/usr/bin/env python3
"""Raw-socket peers for nat64d's packet-level namespace tests (plain python3, no scapy).

  packets.py send HEX...
      sends each hex IPv4/IPv6 packet exactly as given (IPPROTO_RAW: the kernel adds no
      header and routes by the destination address); prints "sent N"
  packets.py capture IFACE MARKER_HEX TIMEOUT
      prints "ready", then the hex of every IPv4/IPv6 packet received on IFACE (not the ones
      it sends) until one contains MARKER_HEX; prints "end" (exit 0), or "timeout" (exit 2)
  packets.py tcp-serve PORT BYTES
      TCP server on IPv4: sends BYTES to each client, then closes; prints "listening"
  packets.py tcp-fetch HOST PORT SECONDS
      IPv6 client: prints the number of bytes received before the server closed, or before
      SECONDS passed ("timeout N")
  packets.py udp-recv 4|6 PORT SECONDS
      prints "listening", then "<source address> <source port> <length> <ok|bad>" for the
      first datagram (ok: its bytes are the udp-send pattern), or "timeout"
  packets.py udp-send HOST PORT SPORT LENGTH
      one datagram of LENGTH pattern bytes from SPORT, through the kernel's own stack (which
      fragments it when it is larger than the link MTU)
"""
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def send(hexes):
    s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for h in hexes:
        b = bytes.fromhex(h)
        if b[0] >> 4 == 4:
            s4.sendto(b, (socket.inet_ntop(socket.AF_INET, b[16:20]), 0))
        else:
            s6.sendto(b, (socket.inet_ntop(socket.AF_INET6, b[24:40]), 0))
    print(f"sent {len(hexes)}", flush=True)


def capture(iface, marker_hex, timeout):
    marker = bytes.fromhex(marker_hex)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    print("ready", flush=True)
    deadline = time.monotonic() + float(timeout)
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            print("timeout", flush=True)
            sys.exit(2)
        frame, addr = s.recvfrom(65600)
        if addr[2] == PACKET_OUTGOING or len(frame) < 14:
            continue
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype not in (0x0800, 0x86DD):
            continue
        pkt = frame[14:]
        print(pkt.hex(), flush=True)
        if marker in pkt:
            print("end", flush=True)
            return


def tcp_serve(port, count):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", int(port)))
    srv.listen(8)
    print("listening", flush=True)
    data = bytes((i * 7) & 255 for i in range(int(count)))
    while True:
        conn, _ = srv.accept()
        try:
            conn.sendall(data)
        finally:
            conn.close()


def tcp_fetch(host, port, seconds):
    deadline = time.monotonic() + float(seconds)
    c = socket.create_connection((host, int(port)), timeout=float(seconds))
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"timeout {got}", flush=True)
            return
        c.settimeout(left)
        try:
            chunk = c.recv(65536)
        except socket.timeout:
            print(f"timeout {got}", flush=True)
            return
        if not chunk:
            print(got, flush=True)
            return
        got += len(chunk)


def pattern(n):
    return bytes((i * 13 + 5) & 255 for i in range(n))


def udp_recv(family, port, seconds):
    af = socket.AF_INET6 if family == "6" else socket.AF_INET
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.bind(("::" if family == "6" else "0.0.0.0", int(port)))
    s.settimeout(float(seconds))
    print("listening", flush=True)
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        print("timeout", flush=True)
        return
    ok = "ok" if data == pattern(len(data)) else "bad"
    print(f"{addr[0]} {addr[1]} {len(data)} {ok}", flush=True)


def udp_send(host, port, sport, length):
    af = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.bind(("::" if af == socket.AF_INET6 else "0.0.0.0", int(sport)))
    s.sendto(pattern(int(length)), (host, int(port)))
    print("sent", flush=True)


if __name__ == "__main__":
    role, args = sys.argv[1], sys.argv[2:]
    if role == "send":
        send(args)
    elif role == "capture":
        capture(*args)
    elif role == "tcp-serve":
        tcp_serve(*args)
    elif role == "tcp-fetch":
        tcp_fetch(*args)
    elif role == "udp-recv":
        udp_recv(*args)
    elif role == "udp-send":
        udp_send(*args)
    else:
        sys.exit(f"unknown role {role}")
