#!/usr/bin/env python3
"""Real SMTP clients (Python's smtplib and ssl) for Relaygate's end-to-end tests.

Each subcommand does one thing a real client does and prints one JSON object on stdout, so the Swift tests
can check the outcome. TLS is verified against the server's generated certificate (--cafile) for the
server's hostname (--hostname), so these tests also prove the certificate is right.
"""
import argparse
import hashlib
import json
import random
import smtplib
import socket
import ssl
import sys
import threading
import time


def tls_context(args):
    context = ssl.create_default_context(cafile=args.cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(args):
    if args.implicit_tls:
        client = smtplib.SMTP_SSL(timeout=30, context=tls_context(args))
        client._host = args.hostname  # verify the certificate for the server's name, not the address
        client.connect(args.host, args.port)
    else:
        client = smtplib.SMTP(args.host, args.port, timeout=30)
        client._host = args.hostname
    client.ehlo("peer.test")
    if args.starttls:
        client.starttls(context=tls_context(args))
        client.ehlo("peer.test")
    return client


def send(args):
    result = {}
    client = connect(args)
    result["extensions"] = sorted(client.esmtp_features.keys())
    if args.implicit_tls or args.starttls:
        result["tls_version"] = client.sock.version()
    if args.user:
        if args.mechanism == "LOGIN":
            client.user, client.password = args.user, args.password
            code, text = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        else:
            code, text = client.login(args.user, args.password)
        result["auth"] = code
    message = open(args.message_file, "rb").read() if args.message_file else args.message.encode()
    for number in range(args.repeat):
        # Each copy numbered, so a next hop that counts arrivals can tell a duplicate from a sibling.
        copy = message if args.repeat == 1 else b"X-Copy: %d\r\n" % number + message
        refused = client.sendmail(args.sender, args.to, copy, mail_options=args.mail_option,
                                  rcpt_options=args.rcpt_option)
    result["refused"] = {k: v[0] for k, v in refused.items()}
    result["ok"] = True
    client.quit()
    return result


def run_send(args):
    try:
        return send(args)
    except smtplib.SMTPRecipientsRefused as error:
        return {"ok": False, "error": "recipients refused",
                "codes": {k: v[0] for k, v in error.recipients.items()}}
    except smtplib.SMTPAuthenticationError as error:
        return {"ok": False, "error": "authentication", "code": error.smtp_code, "text": error.smtp_error.decode()}
    except smtplib.SMTPResponseException as error:
        return {"ok": False, "error": type(error).__name__, "code": error.smtp_code,
                "text": error.smtp_error.decode(errors="replace")}
    except smtplib.SMTPNotSupportedError as error:
        return {"ok": False, "error": "not supported", "text": str(error)}
    except (smtplib.SMTPServerDisconnected, ConnectionError) as error:
        return {"ok": False, "error": "disconnected", "text": str(error)}


def starttls_injection(args):
    """Sends STARTTLS and a command in one plaintext write; after TLS, the command must not be answered."""
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    reader = raw.makefile("rb")

    def reply(stream):
        lines = []
        while True:
            line = stream.readline().decode()
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] == " ":
                return lines

    reply(reader)
    raw.sendall(b"EHLO peer.test\r\n")
    reply(reader)
    raw.sendall(b"STARTTLS\r\nRSET\r\n")
    started = reply(reader)
    tls = tls_context(args).wrap_socket(raw, server_hostname=args.hostname)
    tls_reader = tls.makefile("rb")
    tls.sendall(b"EHLO peer.test\r\n")
    first = reply(tls_reader)
    tls.sendall(b"NOOP\r\n")
    second = reply(tls_reader)
    return {"starttls": started, "first_after_tls": first, "second_after_tls": second}


def message_for(thread, sequence, size):
    """A deterministic message, so its hash can be recomputed from its name."""
    rng = random.Random(thread * 1_000_003 + sequence)
    body = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(size))
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return ("Subject: crash %d-%d\r\nMessage-ID: <%d.%d@peer.test>\r\n\r\n" % (thread, sequence, thread, sequence)
            + "\r\n".join(lines) + "\r\n").encode()


def crash_load(args):
    """Sends messages from many threads until the server dies; logs each message that got 250, at once."""
    out = open(args.out, "a", buffering=1)
    attempts = open(args.out + ".attempts", "a", buffering=1)
    lock = threading.Lock()
    deadline = time.time() + args.duration

    def worker(thread):
        sequence = 0
        while time.time() < deadline:
            try:
                client = RecordingSMTP("127.0.0.1", args.port, timeout=10)
                client.ehlo("peer.test")
            except (OSError, smtplib.SMTPException):
                return
            while time.time() < deadline:
                sequence += 1
                message = message_for(args.round * 1000 + thread, sequence, random.randint(100, args.max_size))
                with lock:
                    attempts.write(hashlib.sha256(message).hexdigest() + "\n")
                try:
                    client.sendmail("load@peer.test", ["sink@example.net"], message)
                except smtplib.SMTPResponseException:
                    continue
                except (OSError, smtplib.SMTPException):
                    return
                with lock:
                    out.write(json.dumps({"queue_id": client.queue_id,
                                          "sha256": hashlib.sha256(message).hexdigest(),
                                          "size": len(message)}) + "\n")

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"ok": True}


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers the queue ID of the last 250 to DATA."""
    queue_id = None

    def data(self, msg):
        code, text = super().data(msg)
        if code == 250 and b"queued as " in text:
            self.queue_id = text.split(b"queued as ")[1].split()[0].decode()
        return code, text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["send", "starttls-injection", "crash-load"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the server's address: 127.0.0.1, ::1, ...")
    parser.add_argument("--hostname", default="mx.test")
    parser.add_argument("--cafile")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--mechanism", default="PLAIN")
    parser.add_argument("--from", dest="sender", default="alice@example.org")
    parser.add_argument("--to", action="append", default=[])
    parser.add_argument("--mail-option", action="append", default=[])
    parser.add_argument("--rcpt-option", action="append", default=[])
    parser.add_argument("--message", default="Subject: test\r\n\r\nhello\r\n")
    parser.add_argument("--message-file")
    parser.add_argument("--repeat", type=int, default=1, help="send the message this many times, one session")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--max-size", type=int, default=20000)
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    handlers = {"send": run_send, "starttls-injection": starttls_injection, "crash-load": crash_load}
    print(json.dumps(handlers[args.command](args)))


if __name__ == "__main__":
    sys.exit(main())
