#!/usr/bin/env python3
"""Checks that listeners answer as their protocol should, with Python's own clients (smtplib, poplib, imaplib).

Each endpoint is PROTOCOL:HOST:PORT, PROTOCOL one of smtp, smtps, pop3, pop3s, imap, imaps; HOST may be an
IPv6 literal (::1). Plain listeners are asked to upgrade (STARTTLS, STLS); implicit-TLS ones are reached
over TLS at once. With --cafile the certificate is verified for --hostname; without, TLS is still required
but not verified (a server on its first start, with a certificate it just made).

Prints one JSON object, {"ENDPOINT": {"ok": bool, "greeting" or "error": text}, ...}, and exits 0 whatever
the results; the caller judges them. With --require-all it exits 1 if any endpoint failed, for scripts.
"""
import argparse
import imaplib
import json
import poplib
import smtplib
import ssl
import sys


def tls_context(args):
    if args.cafile:
        context = ssl.create_default_context(cafile=args.cafile)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class NamedPOP3SSL(poplib.POP3_SSL):
    """POP3_SSL that checks the certificate for the server's name, not the address it connects to."""

    def __init__(self, host, port, context, hostname):
        self._hostname = hostname
        super().__init__(host, port, context=context, timeout=10)

    def _create_socket(self, timeout):
        sock = poplib.POP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=self._hostname)


class NamedIMAP4SSL(imaplib.IMAP4_SSL):
    """IMAP4_SSL that checks the certificate for the server's name, not the address it connects to."""

    def __init__(self, host, port, context, hostname):
        self._hostname = hostname
        super().__init__(host, port, ssl_context=context, timeout=10)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._hostname)


def probe(protocol, host, port, args):
    context = tls_context(args)
    timeout = 10
    if protocol == "smtp":
        client = smtplib.SMTP(host, port, timeout=timeout)
        client._host = args.hostname
        client.ehlo("probe.test")
        client.starttls(context=context)
        greeting = "%d %s" % client.ehlo("probe.test")
        client.quit()
    elif protocol == "smtps":
        client = smtplib.SMTP_SSL(timeout=timeout, context=context)
        client._host = args.hostname
        code, text = client.connect(host, port)
        greeting = "%d %s" % (code, text.decode())
        client.quit()
    elif protocol == "pop3":
        client = poplib.POP3(host, port, timeout=timeout)
        client.host = args.hostname
        client.stls(context=context)
        greeting = client.getwelcome().decode()
        client.quit()
    elif protocol == "pop3s":
        client = NamedPOP3SSL(host, port, context, args.hostname)
        greeting = client.getwelcome().decode()
        client.quit()
    elif protocol == "imap":
        client = imaplib.IMAP4(host, port, timeout=timeout)
        client.host = args.hostname
        client.starttls(ssl_context=context)
        greeting = client.welcome.decode()
        client.logout()
    elif protocol == "imaps":
        client = NamedIMAP4SSL(host, port, context, args.hostname)
        greeting = client.welcome.decode()
        client.logout()
    else:
        raise ValueError("unknown protocol " + protocol)
    return greeting


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoints", nargs="+", metavar="PROTOCOL:HOST:PORT")
    parser.add_argument("--cafile")
    parser.add_argument("--hostname", default="mx.test")
    parser.add_argument("--require-all", action="store_true")
    args = parser.parse_args()
    results = {}
    for endpoint in args.endpoints:
        protocol, rest = endpoint.split(":", 1)
        host, port = rest.rsplit(":", 1)
        try:
            results[endpoint] = {"ok": True, "greeting": probe(protocol, host, int(port), args)}
        except Exception as error:  # any failure is a result to report, not a crash
            results[endpoint] = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
    print(json.dumps(results, indent=1))
    if args.require_all and not all(result["ok"] for result in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
