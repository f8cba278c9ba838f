#!/usr/bin/env python3
"""A real IMAP client (Python's imaplib and ssl) for Relaygate's end-to-end tests.

Connects (implicit TLS, or plain with STARTTLS), logs in, then runs the operations given as a JSON list of
[method, arg, ...] on the imaplib object (select, fetch, uid, store, search, expunge, ...). Prints one JSON
object: the capabilities before and after TLS and each operation's [typ, data], bytes as latin-1 text so
octet counts survive. An operation that raises is reported as ["ERROR", message].
"""
import argparse
import imaplib
import json
import ssl
import sys


def plain(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--hostname", default="mx.test")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--ops", default="[]")
    parser.add_argument("--idle-until-exists", metavar="READY_FILE",
                        help="after the operations, IDLE; create READY_FILE once idling, and wait (at most 30 s) "
                             "for the server to push an EXISTS")
    args = parser.parse_args()

    context = ssl.create_default_context(cafile=args.cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    result = {}
    if args.implicit_tls:
        # Connect to 127.0.0.1 but check the certificate for the server's name.
        class Client(imaplib.IMAP4_SSL):
            def _create_socket(self, timeout):
                sock = imaplib.IMAP4._create_socket(self, timeout)
                return self.ssl_context.wrap_socket(sock, server_hostname=args.hostname)
        client = Client("127.0.0.1", args.port, ssl_context=context, timeout=30)
    else:
        client = imaplib.IMAP4("127.0.0.1", args.port, timeout=30)
    result["capabilities"] = sorted(client.capabilities)
    if args.starttls:
        client.host = args.hostname
        client.starttls(ssl_context=context)
        result["capabilities_after_tls"] = sorted(client.capabilities)
    if args.user:
        try:
            result["login"] = plain(client.login(args.user, args.password))
        except imaplib.IMAP4.error as error:
            result["login_error"] = str(error)
            print(json.dumps(result))
            return
    outcomes = []
    for operation in json.loads(args.ops):
        try:
            arguments = list(operation[1:])
            if operation[0] == "append" and arguments[-1].startswith("@lines:"):
                # A large message made here (argv is too small for it): that many lines of 998 octets.
                count = int(arguments[-1][len("@lines:"):])
                arguments[-1] = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * count
            elif operation[0] == "append":
                arguments[-1] = arguments[-1].encode()  # the message is octets
            outcomes.append(plain(getattr(client, operation[0])(*arguments)))
        except imaplib.IMAP4.error as error:
            outcomes.append(["ERROR", str(error)])
    result["ops"] = outcomes
    if args.idle_until_exists:
        tag = client._new_tag()
        client.send(tag + b" IDLE\r\n")
        result["idle_start"] = client.readline().decode("latin-1").strip()
        open(args.idle_until_exists, "w").close()
        client.sock.settimeout(30)
        pushed = []
        while True:
            line = client.readline().decode("latin-1").strip()
            pushed.append(line)
            if line.endswith("EXISTS") or not line:
                break
        client.send(b"DONE\r\n")
        while True:
            line = client.readline().decode("latin-1").strip()
            pushed.append(line)
            if line.startswith(tag.decode()) or not line:
                break
        result["idle_pushed"] = pushed
    result["logout"] = plain(client.logout())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
