#!/usr/bin/env python3
"""A scripted SMTP server for delivery tests: the next hop Relaygate delivers to. Written here in Python,
not with our own server, so the two sides of a test cannot share a bug.

Usage: fake_upstream.py --mode MODE --record FILE [--cert PEM --key PEM] [--user U --password P]
Prints "PORT <n>" once listening on 127.0.0.1, then serves until killed. Each completed transaction is
appended to FILE as one JSON line: mail_from, rcpt_to, data, tls, auth, helo, connection (its number).

Modes:
  accept           take everything
  tempfail-first   the first connection answers every RCPT 450; later ones accept
  reject           every RCPT gets 550 5.1.1
  busy-rcpt        recipients whose address contains "busy" get 450; others are accepted
  require-auth     offer STARTTLS; refuse MAIL before TLS and AUTH PLAIN/LOGIN with --user/--password
  inject-starttls  answer STARTTLS with 220 and an extra pipelined reply in the same packet
  drop-after-data  read the content, then close without a reply
  slow-final       read the content, then take ten minutes to reply
  slow-accept      read the content, then take half a second to accept it
  tarpit           accept connections and never say a word
  unreachable      a listener whose accept queue is full: the kernel drops each SYN, so a connect hangs
                   until the client's own timeout, as to a host behind a firewall that drops
"""
import argparse, base64, json, os, socket, socketserver, ssl, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="accept")
parser.add_argument("--record", required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--user", default="")
parser.add_argument("--password", default="")
args = parser.parse_args()

lock = threading.Lock()
connections = [0]


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        with lock:
            connections[0] += 1
            self.number = connections[0]
        self.tls = False
        self.auth = None

    def send(self, text):
        self.wfile.write(text.encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        try:
            self.dialog()
        except (EOFError, ConnectionError, ssl.SSLError):
            pass

    def dialog(self):
        if args.mode == "tarpit":
            time.sleep(3600)
            return
        self.send("220 fake.upstream ESMTP\r\n")
        helo, mail_from, rcpts = None, None, []
        while True:
            line = self.readline()
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                helo = line[5:]
                extensions = ["PIPELINING", "8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES"]
                if args.cert and not self.tls:
                    extensions.append("STARTTLS")
                if args.mode == "require-auth" and self.tls:
                    extensions.append("AUTH PLAIN LOGIN")
                lines = ["fake.upstream"] + extensions
                self.send("".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l) for i, l in enumerate(lines)))
            elif verb == "STAR":
                if args.mode == "inject-starttls":
                    self.send("220 2.0.0 go ahead\r\n250 2.0.0 injected\r\n")
                    return
                self.send("220 2.0.0 go ahead\r\n")
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(args.cert, args.key)
                self.connection = context.wrap_socket(self.request, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                self.tls = True
            elif verb == "AUTH":
                words = line.split()
                if len(words) >= 3 and words[1].upper() == "PLAIN":
                    parts = base64.b64decode(words[2]).split(b"\0")
                    user, password = parts[1].decode(), parts[2].decode()
                elif words[1].upper() == "LOGIN":
                    self.send("334 VXNlcm5hbWU6\r\n")
                    user = base64.b64decode(self.readline()).decode()
                    self.send("334 UGFzc3dvcmQ6\r\n")
                    password = base64.b64decode(self.readline()).decode()
                else:
                    self.send("504 5.5.4 mechanism\r\n")
                    continue
                if user == args.user and password == args.password:
                    self.auth = user
                    self.send("235 2.7.0 ok\r\n")
                else:
                    self.send("535 5.7.8 bad credentials\r\n")
            elif verb == "MAIL":
                if args.mode == "require-auth" and not (self.tls and self.auth):
                    self.send("530 5.7.0 authentication required\r\n")
                    continue
                mail_from, rcpts = line[10:].split(" ")[0], []
                self.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                address = line[8:].split(" ")[0]
                if args.mode == "reject":
                    self.send("550 5.1.1 no such user here\r\n")
                elif args.mode == "tempfail-first" and self.number == 1:
                    self.send("450 4.2.0 mailbox busy, try later\r\n")
                elif args.mode == "hostile-reply":
                    # Controls, a terminal escape, a C1 NEL, a bidi override and far too much text.
                    self.send("450 4.2.0 \x1b[2J\x1b]0;owned\x07busy\u0085\u202e" + "x" * 3000 + "\r\n")
                elif args.mode == "malformed-reply":
                    self.send("45\x1b[31m0 not a reply line\r\n")
                elif args.mode == "busy-rcpt" and "busy" in address:
                    self.send("450 4.2.0 mailbox busy\r\n")
                else:
                    rcpts.append(address)
                    self.send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 no valid recipients\r\n")
                    continue
                self.send("354 go ahead\r\n")
                data = []
                while True:
                    line = self.readline()
                    if line == ".":
                        break
                    data.append(line[1:] if line.startswith(".") else line)
                if args.mode == "drop-after-data":
                    return
                if args.mode == "slow-final":
                    time.sleep(600)
                if args.mode == "slow-accept":
                    time.sleep(0.5)
                record = {"mail_from": mail_from, "rcpt_to": rcpts, "data": "\r\n".join(data) + "\r\n",
                          "tls": self.tls, "auth": self.auth, "helo": helo, "connection": self.number}
                # The reply first, then the record: the record is written either way (this process is not
                # the one killed), and the time between the final dot and the 250 is a duplicate window
                # that belongs to the next hop, not to the server under test; a locked file append from
                # twenty threads would make it milliseconds long.
                self.send("250 2.0.0 queued\r\n")
                with lock, open(args.record, "a") as f:
                    f.write(json.dumps(record) + "\n")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.send("250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye\r\n")
                return
            else:
                self.send("502 5.5.1 unknown\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: twenty connections opened at once would overflow it, and
    # the kernel leaves the overflow half-open, waiting for a greeting that never comes. Postfix listens
    # with 100.
    request_queue_size = 128


def exit_when_parent_goes():
    # The test holds our stdin open; when it ends (or dies), so do we, and no stray server holds its output.
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_when_parent_goes, daemon=True).start()
if args.mode == "unreachable":
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    # One connection fills a queue of length 0; it is never accepted, and later SYNs go unanswered.
    filler = socket.create_connection(listener.getsockname())
    print("PORT %d" % listener.getsockname()[1], flush=True)
    threading.Event().wait()
server = Server(("127.0.0.1", 0), Handler)
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
