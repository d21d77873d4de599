#!/usr/bin/env python3
"""rpc_client.py PORT SESSION REFS PROTO N [OUTFILE]: N VM.get_record calls on one
keep-alive connection (requests as wrk_rpc.lua makes them); with OUTFILE,
writes the raw response (headers+body) for the first ref."""
import socket, sys
port, session, refs_file, proto, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
out = sys.argv[6] if len(sys.argv) > 6 else None
refs = [l.strip() for l in open(refs_file) if l.strip()][:500]
def body(ref):
    if proto == "json":
        return '{"jsonrpc":"2.0","method":"VM.get_record","params":["%s","%s"],"id":1}' % (session, ref)
    return ('<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params>'
            '<param><value><string>%s</string></value></param><param><value><string>%s</string></value>'
            '</param></params></methodCall>' % (session, ref))
path = "/jsonrpc" if proto == "json" else "/"
ctype = "application/json" if proto == "json" else "text/xml"
s = socket.create_connection(("127.0.0.1", int(port)))
buf = b""
def one(ref):
    global buf
    b = body(ref).encode()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (path.encode(), port.encode(), ctype.encode(), len(b)) + b)
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    cl = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    while len(rest) < cl:
        rest += s.recv(65536)
    resp = head + b"\r\n\r\n" + rest[:cl]
    buf = rest[cl:]
    if b'"result"' not in resp and b"Success" not in resp:
        raise SystemExit("bad answer: %r" % resp[:300])
    return resp
for i in range(n):
    r = one(refs[i % len(refs)])
    if i == 0 and out:
        open(out, "wb").write(r)
s.close()
