#!/usr/bin/python3
"""A DNS client this project did not write (dnspython, httpx), for integration tests.

Usage: doh_client.py TARGET NAME TYPE [get|post] [do]
  TARGET: an https:// or http:// DoH URL (GET or POST, default POST), or udp:HOST:PORT
  NAME: in master-file form (dot\\.label.example. is one label "dot.label")
Prints JSON: rcode, flags, the sections as [name, ttl, type, rdata] in master-file form, EDE
codes, the response's length in octets, and the question as sent and as answered (hex).
"""
import base64
import json
import socket
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import httpx

target, name, rdtype = sys.argv[1], sys.argv[2], sys.argv[3]
method = sys.argv[4] if len(sys.argv) > 4 else "post"
want_dnssec = len(sys.argv) > 5 and sys.argv[5] == "do"

q = dns.message.make_query(
    dns.name.from_text(name), rdtype, use_edns=0, payload=1232, want_dnssec=want_dnssec
)
query = q.to_wire()

if target.startswith("udp:"):
    _, host, port = target.split(":", 2)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(query, (host.strip("[]"), int(port)))
        wire, _ = s.recvfrom(65535)
else:
    headers = {"accept": "application/dns-message"}
    if method == "get":
        dns_param = base64.urlsafe_b64encode(query).rstrip(b"=").decode()
        res = httpx.get(target, params={"dns": dns_param}, headers=headers, verify=False, timeout=10)
    else:
        headers["content-type"] = "application/dns-message"
        res = httpx.post(target, content=query, headers=headers, verify=False, timeout=10)
    res.raise_for_status()
    wire = res.content

r = dns.message.from_wire(wire)
# The question: everything between the header and the query's OPT record (11 octets).
question_length = len(query) - 12 - 11


def rows(section):
    out = []
    for rrset in section:
        for rd in rrset:
            out.append([rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype), rd.to_text()])
    return out


print(
    json.dumps(
        {
            "id_matches": r.id == q.id,
            "rcode": dns.rcode.to_text(r.rcode()),
            "flags": dns.flags.to_text(r.flags).split(),
            "answer": rows(r.answer),
            "authority": rows(r.authority),
            "ede": [o.code for o in r.options if o.otype == dns.edns.EDE],
            "length": len(wire),
            "question": wire[12 : 12 + question_length].hex(),
            "asked": query[12 : 12 + question_length].hex(),
        }
    )
)
