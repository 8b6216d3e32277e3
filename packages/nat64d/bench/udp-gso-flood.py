# 64-byte UDP generator for bench:nat64 that batches as QUIC stacks do: UDP GSO
# (UDP_SEGMENT, Linux >= 4.18), one send(2) per run of PER_RUN datagrams of 64 payload bytes,
# the same flow for the whole run. Adapted from test/integration/udp-gso-send.py (which sends
# numbered runs slowly, to check content); this one sends as fast as its CPU allows.
# Every run has exactly PER_RUN datagrams, so a GSO packet counted on the way (the gateway's
# veth counts packets, not segments) stands for PER_RUN datagrams.
# FLOWS sockets, bound to source ports SPORT, SPORT + 1, ..., send their runs in turn.
#   python3 udp-gso-flood.py HOST PORT FLOWS SECONDS [PER_RUN [SPORT]]
# prints "sent N runs of PER_RUN" (send calls the kernel accepted) when SECONDS are over or
# on SIGTERM/SIGINT.
import signal
import socket
import sys
import time

UDP_SEGMENT = 103  # linux/udp.h
SIZE = 64
host, port, flows, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
per_run = int(sys.argv[5]) if len(sys.argv) > 5 else 64
sport = int(sys.argv[6]) if len(sys.argv) > 6 else 40000
if not 1 <= per_run <= 64:
    sys.exit('PER_RUN must be 1..64 (UDP_MAX_SEGMENTS)')

socks = []
for i in range(flows):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(('::', sport + i))
    s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, SIZE)
    s.connect((host, port))
    socks.append(s)
run = b'a' * (SIZE * per_run)  # fill 0x61, as trafgen's datagrams
sends = [s.send for s in socks]

stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)

runs = 0
end = time.monotonic() + seconds
while not stop and time.monotonic() < end:
    for _ in range(256):
        for send in sends:
            try:
                send(run)
                runs += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:  # ENOBUFS and the like: the run is lost before the wire
                pass
print(f'sent {runs} runs of {per_run}', flush=True)
