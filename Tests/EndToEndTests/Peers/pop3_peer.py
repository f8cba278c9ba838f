#!/usr/bin/env python3
"""A real POP3 client (Python's poplib and ssl) for Relaygate's end-to-end tests.

One session per run: connect (implicit TLS, or plain with STLS), log in (USER/PASS or AUTH PLAIN), do what
the flags ask, then QUIT (or drop the connection with --drop). Prints one JSON object on stdout. TLS is
verified against the server's generated certificate for its hostname. Message contents are base64.
"""
import argparse
import base64
import json
import os
import poplib
import ssl
import sys
import time


def tls_context(args):
    context = ssl.create_default_context(cafile=args.cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class HostnamePOP3SSL(poplib.POP3_SSL):
    """POP3_SSL that checks the certificate for the server's name while connecting to 127.0.0.1."""

    def __init__(self, port, context, hostname):
        self._hostname = hostname
        super().__init__("127.0.0.1", port, context=context, timeout=30)

    def _create_socket(self, timeout):
        sock = poplib.POP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=self._hostname)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--hostname", default="mx.test")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--stls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--sasl", action="store_true", help="AUTH PLAIN instead of USER/PASS")
    parser.add_argument("--retr-all", action="store_true")
    parser.add_argument("--top", nargs=2, type=int, metavar=("MESSAGE", "LINES"))
    parser.add_argument("--dele", type=int, action="append", default=[])
    parser.add_argument("--hold-until", metavar="FILE", help="stay logged in until FILE exists (at most 60 s)")
    parser.add_argument("--drop", action="store_true", help="close the socket instead of QUIT")
    args = parser.parse_args()

    result = {}
    if args.implicit_tls:
        client = HostnamePOP3SSL(args.port, tls_context(args), args.hostname)
    else:
        client = poplib.POP3("127.0.0.1", args.port, timeout=30)
    result["greeting"] = client.getwelcome().decode()
    result["capa_before"] = sorted(client.capa().keys())
    if args.stls:
        context = tls_context(args)
        # poplib's stls() uses self.host (127.0.0.1) for SNI and checking; check the real name instead.
        client.host = args.hostname
        client.stls(context)
        result["capa_after_tls"] = sorted(client.capa().keys())
    if args.implicit_tls or args.stls:
        result["tls_version"] = client.sock.version()
    try:
        if args.sasl:
            token = base64.b64encode(b"\0" + args.user.encode() + b"\0" + args.password.encode()).decode()
            result["login"] = client._shortcmd("AUTH PLAIN " + token).decode()
        else:
            client.user(args.user)
            result["login"] = client.pass_(args.password).decode()
    except poplib.error_proto as error:
        result["login_error"] = error.args[0].decode()
        client.quit()
        print(json.dumps(result))
        return
    count, octets = client.stat()
    result["stat"] = [count, octets]
    result["list"] = [line.decode() for line in client.list()[1]]
    result["uidl"] = [line.decode() for line in client.uidl()[1]]
    if args.retr_all:
        messages = []
        for number in range(1, count + 1):
            response, lines, size = client.retr(number)
            messages.append({"status": response.decode(), "content": base64.b64encode(b"\r\n".join(lines) + b"\r\n").decode()})
        result["messages"] = messages
    if args.top:
        response, lines, _ = client.top(*args.top)
        result["top"] = base64.b64encode(b"\r\n".join(lines) + b"\r\n").decode()
    for number in args.dele:
        result.setdefault("dele", []).append(client.dele(number).decode())
    if args.hold_until:
        deadline = time.monotonic() + 60
        while not os.path.exists(args.hold_until) and time.monotonic() < deadline:
            time.sleep(0.02)
    if args.drop:
        client.sock.close()
        result["dropped"] = True
    else:
        result["quit"] = client.quit().decode()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
