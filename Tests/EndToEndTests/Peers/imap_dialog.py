#!/usr/bin/env python3
"""Plays one IMAP dialog fixture against a server over implicit TLS, line by line, with Python's ssl module.

Usage: imap_dialog.py --port N --cafile PEM --steps FILE
FILE holds a JSON list of ["send", text], ["prefix", text], ["line", text] or ["closed"] (TranscriptSupport's
IMAPDialog). Prints {"ok": true} or {"ok": false, "failure": "..."}.
"""
import argparse, json, socket, ssl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--steps", required=True, help="a file of JSON steps (a long line is too long for argv)")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.cafile)
    context.check_hostname = False  # the certificate names the server's hostname, not 127.0.0.1
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", args.port), timeout=30))
    reader = sock.makefile("rb")

    def line():
        data = reader.readline(1 << 20)
        return None if not data else data.decode("utf-8", "replace").rstrip("\r\n")

    greeting = line()
    if not greeting or not greeting.startswith("* OK"):
        return report("no greeting: %r" % greeting)
    for step in json.load(open(args.steps)):
        kind = step[0]
        if kind == "send":
            sock.sendall(step[1].encode("utf-8") + b"\r\n")
        elif kind == "closed":
            try:
                rest = line()
            except (ConnectionError, ssl.SSLError):
                rest = None
            if rest is not None:
                return report("expected the connection closed, got %r" % rest[:300])
        else:
            got = line()
            if got is None:
                return report("expected %s %r, the connection closed" % (kind, step[1][:300]))
            if (kind == "prefix" and not got.startswith(step[1])) or (kind == "line" and got != step[1]):
                return report("expected %s %r, got %r" % (kind, step[1][:300], got[:300]))
    return report(None)


def report(failure):
    print(json.dumps({"ok": failure is None, "failure": failure}))


if __name__ == "__main__":
    main()
