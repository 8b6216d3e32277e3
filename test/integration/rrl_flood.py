"""Floods a DNS server over UDP from one socket, then reports what came back, as JSON.

usage: rrl_flood.py SERVER PORT COUNT
Sends COUNT queries for ipv4only.arpa AAAA (distinct IDs) as fast as it can, then reads
answers for 3 s. Prints {"sent", "full", "truncated", "truncated_with_records", "other"}.
"""
import json
import socket
import sys
import time

import dns.flags
import dns.message

server, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in server else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
for i in range(count):
    q = dns.message.make_query("ipv4only.arpa", "AAAA", id=i + 1)
    sock.sendto(q.to_wire(), (server, port))
out = {"sent": count, "full": 0, "truncated": 0, "truncated_with_records": 0, "other": 0}
sock.settimeout(0.2)
until = time.time() + 3
seen = set()
while time.time() < until:
    try:
        data, _ = sock.recvfrom(65535)
    except socket.timeout:
        continue
    m = dns.message.from_wire(data)
    if m.id in seen:
        out["other"] += 1
        continue
    seen.add(m.id)
    if m.flags & dns.flags.TC:
        out["truncated"] += 1
        if m.answer or m.authority:
            out["truncated_with_records"] += 1
    elif m.rcode() == 0 and len(m.answer) == 1 and len(m.answer[0]) == 2:
        out["full"] += 1
    else:
        out["other"] += 1
print(json.dumps(out))
