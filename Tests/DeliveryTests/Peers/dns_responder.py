#!/usr/bin/env python3
"""A tiny DNS responder on 127.0.0.1 (UDP) for MX-resolution tests: libresolv is pointed at it.

Prints "PORT <n>", then answers until its stdin closes. Zones (names are matched case-insensitively):
  ordered.test      MX 20 mx2.ordered.test, MX 10 mx1.ordered.test, MX 30 mx3.ordered.test
  nomx.test         no MX records (NODATA), A 192.0.2.10
  nullmx.test       MX 0 .            (RFC 7505)
  nodata.test       exists, but no MX, A or AAAA records (NODATA to every question)
  missing.test      NXDOMAIN
  broken.test       SERVFAIL
"""
import os, socket, struct, sys, threading

MX, A = 15, 1


def name_bytes(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def answer(query):
    (ident, flags, qd, an, ns, ar) = struct.unpack("!6H", query[:12])
    offset, labels = 12, []
    while query[offset] != 0:
        length = query[offset]
        labels.append(query[offset + 1:offset + 1 + length].decode())
        offset += 1 + length
    qname = ".".join(labels).lower()
    qtype, qclass = struct.unpack("!2H", query[offset + 1:offset + 5])
    question = query[12:offset + 5]
    rcode, records = 0, []
    if qname == "ordered.test" and qtype == MX:
        records = [(MX, struct.pack("!H", p) + name_bytes(h)) for p, h in
                   [(20, "mx2.ordered.test"), (10, "mx1.ordered.test"), (30, "mx3.ordered.test")]]
    elif qname == "nomx.test":
        records = [(A, socket.inet_aton("192.0.2.10"))] if qtype == A else []
    elif qname == "nullmx.test" and qtype == MX:
        records = [(MX, struct.pack("!H", 0) + b"\0")]
    elif qname == "nodata.test":
        records = []
    elif qname == "missing.test":
        rcode = 3
    elif qname == "broken.test":
        rcode = 2
    header = struct.pack("!6H", ident, 0x8180 | rcode, 1, len(records), 0, 0)
    body = b""
    for rtype, rdata in records:
        body += b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 300, len(rdata)) + rdata
    return header + question + body


def serve(sock):
    while True:
        data, peer = sock.recvfrom(512)
        try:
            sock.sendto(answer(data), peer)
        except Exception:
            pass


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print("PORT %d" % sock.getsockname()[1], flush=True)
threading.Thread(target=serve, args=(sock,), daemon=True).start()
sys.stdin.read()
os._exit(0)
