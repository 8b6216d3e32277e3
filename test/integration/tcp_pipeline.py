#!/usr/bin/python3
"""Pipelined DNS over TCP with dnspython (a client this project did not write).

Usage: tcp_pipeline.py HOST PORT NAME/TYPE [NAME/TYPE ...]
Sends every query in one write on one connection before reading any answer (RFC 7766 §6.2.1.1),
then reads as many answers. Prints them as JSON in arrival order: id, question, rcode, answer.
"""
import json
import socket
import struct
import sys

import dns.message
import dns.rcode
import dns.rdatatype

host, port = sys.argv[1], int(sys.argv[2])
queries = []
for spec in sys.argv[3:]:
    name, rdtype = spec.split("/")
    queries.append(dns.message.make_query(name, rdtype))

family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family, socket.SOCK_STREAM) as s:
    s.settimeout(10)
    s.connect((host, port))
    s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries)))
    buf = b""
    out = []

    def read(n):
        global buf
        while len(buf) < n:
            chunk = s.recv(65535)
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        data, buf = buf[:n], buf[n:]
        return data

    for _ in queries:
        (length,) = struct.unpack("!H", read(2))
        r = dns.message.from_wire(read(length))
        rows = []
        for rrset in r.answer:
            for rd in rrset:
                rows.append([rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype), rd.to_text()])
        q = r.question[0]
        out.append(
            {
                "id": r.id,
                "question": f"{q.name.to_text()}/{dns.rdatatype.to_text(q.rdtype)}",
                "rcode": dns.rcode.to_text(r.rcode()),
                "answer": rows,
            }
        )
print(json.dumps({"sent_ids": [q.id for q in queries], "answers": out}))
