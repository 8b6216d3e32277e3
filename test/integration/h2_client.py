#!/usr/bin/python3
"""An HTTP/2 client this project did not write (python3-h2, with its own HPACK), for tests of
the Node server's HTTP/2 server over h2c with prior knowledge.

Usage: h2_client.py PORT CASE [ARG]
  small-window PATH      GET PATH announcing a 100-byte stream window; acknowledges DATA as it
                         comes. Prints {"status", "length", "frames", "max_frame"}.
  post-pieces B64QUERY   POST /dns-query with the query body in 1-byte DATA frames and trailers.
                         Prints {"status", "type", "body": hex}.
  table-size B64QUERY    Shrinks the HPACK table (SETTINGS_HEADER_TABLE_SIZE 0 to the server is
                         ours to honour; we send a dynamic table size update to 0) and asks twice.
                         Prints {"statuses": [...]}.
  data-on-zero           Sends a DATA frame on stream 0. Prints {"goaway": error code}.
"""
import base64
import json
import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

port, case = int(sys.argv[1]), sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else ""

sock = socket.create_connection(("127.0.0.1", port), timeout=10)
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
conn.initiate_connection()
sock.sendall(conn.data_to_send())


def pump_until(done):
    """Reads events until done(event) is true for one; returns the events seen."""
    seen = []
    while True:
        data = sock.recv(65536)
        if not data:
            return seen
        for event in conn.receive_data(data):
            seen.append(event)
            if isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if done(event):
                sock.sendall(conn.data_to_send())
                return seen
        sock.sendall(conn.data_to_send())


def response(stream_id):
    events = pump_until(lambda e: isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == stream_id)
    status, ctype, body, frames, max_frame = None, None, b"", 0, 0
    for e in events:
        if isinstance(e, h2.events.ResponseReceived) and e.stream_id == stream_id:
            headers = dict(e.headers)
            status, ctype = int(headers[":status"]), headers.get("content-type")
        if isinstance(e, h2.events.DataReceived) and e.stream_id == stream_id:
            body += e.data
            frames += 1
            max_frame = max(max_frame, len(e.data))
    return status, ctype, body, frames, max_frame


def request_headers(method, path, extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", f"127.0.0.1:{port}"), (":path", path), *extra]


if case == "small-window":
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100})
    sock.sendall(conn.data_to_send())
    pump_until(lambda e: isinstance(e, h2.events.SettingsAcknowledged))
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers("GET", arg), end_stream=True)
    sock.sendall(conn.data_to_send())
    status, _, body, frames, max_frame = response(sid)
    print(json.dumps({"status": status, "length": len(body), "frames": frames, "max_frame": max_frame}))
elif case == "post-pieces":
    query = base64.urlsafe_b64decode(arg + "=" * (-len(arg) % 4))
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers("POST", "/dns-query", [("content-type", "application/dns-message"), ("content-length", str(len(query)))]))
    for i in range(len(query)):
        conn.send_data(sid, query[i : i + 1])
    conn.send_headers(sid, [("x-trailer", "yes")], end_stream=True)
    sock.sendall(conn.data_to_send())
    status, ctype, body, _, _ = response(sid)
    print(json.dumps({"status": status, "type": ctype, "body": body.hex()}))
elif case == "table-size":
    statuses = []
    for size in (4096, 0):
        conn.encoder.header_table_size = size  # the next header block starts with a size update
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, request_headers("GET", f"/dns-query?dns={arg}", [("accept", "application/dns-message")]), end_stream=True)
        sock.sendall(conn.data_to_send())
        statuses.append(response(sid)[0])
    print(json.dumps({"statuses": statuses}))
elif case == "data-on-zero":
    sock.sendall(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    events = pump_until(lambda e: isinstance(e, h2.events.ConnectionTerminated))
    ended = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    print(json.dumps({"goaway": ended[0].error_code if ended else None}))
else:
    sys.exit(f"unknown case {case}")
