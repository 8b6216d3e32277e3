# Sends runs of same-flow 64-byte UDP datagrams as UDP GSO packets (UDP_SEGMENT, Linux >= 4.18),
# for the UDP GSO read-side test: each run leaves the client as one GSO packet, which the kernel
# keeps whole up to the gateway's TUN device when nat64d negotiated UDP GSO (TUN_F_USO6), as it
# keeps a run that UDP GRO forwarding merged. Datagram k (k = 1, 2, ...) carries the payload
# udp-burst.mjs's server checks: u32 k, then bytes (k + i) & 255.
#   python3 udp-gso-send.py HOST PORT RUNS PER_RUN
# prints "sent N" (datagrams).
import socket
import struct
import sys
import time

UDP_SEGMENT = 103  # linux/udp.h
host, port, runs, per_run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])


def fill(k):
    return struct.pack('>I', k) + bytes((k + i) & 255 for i in range(4, 64))


s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, 64)
k = 0
for r in range(runs):
    run = b''.join(fill(k + 1 + i) for i in range(per_run))
    s.sendto(run, (host, port))
    k += per_run
    time.sleep(0.005)  # a run at a time: the test is about content, not rate
print(f'sent {k}', flush=True)
