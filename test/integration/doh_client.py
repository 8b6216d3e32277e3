#!/usr/bin/python3
"""A DoH client this project did not write (dnspython), for integration tests.

Usage: doh_client.py URL NAME TYPE [get|post] [do]
Prints the answer as JSON: rcode, flags, sections as [name, ttl, type, rdata], EDE codes.
"""
import json
import sys

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode

url, name, rdtype = sys.argv[1], sys.argv[2], sys.argv[3]
method = sys.argv[4] if len(sys.argv) > 4 else "post"
want_dnssec = len(sys.argv) > 5 and sys.argv[5] == "do"

q = dns.message.make_query(name, rdtype, use_edns=0, want_dnssec=want_dnssec)
r = dns.query.https(q, url, post=(method == "post"), verify=False, timeout=10)


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
        }
    )
)
