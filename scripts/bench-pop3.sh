#!/usr/bin/env bash
# POP3 benchmark: a mailbox of N messages (written straight into its Maildir, as another program would),
# read over implicit TLS by a small Python client that pipelines RETR. Reports the first login (which gives every message its UID),
# a second login, and RETR throughput, with the server's peak RSS.
# Usage: scripts/bench-pop3.sh [messages] [size]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
size=${2:-1024}

swift build -c release --product relaygate >/dev/null
bin=$PWD/.build/release/relaygate
work=$(mktemp -d "${TMPDIR:-/tmp}/relaygate-bench-pop3.XXXXXX")
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/rules"
source scripts/mailbox-bench-common.sh
make_mailbox "$messages" "$size"
serve_on --pop3s

python3 - "$port" "$work/spool/tls/cert.pem" <<'PY'
# A plain socket client over TLS that pipelines RETR in batches (the server offers PIPELINING), so the
# figure is the server's, not poplib's line-by-line reading.
import socket, ssl, sys, time
port, cafile = int(sys.argv[1]), sys.argv[2]
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False

def login():
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    reader = sock.makefile("rb")
    reader.readline()
    sock.sendall(b"USER bench\r\n")
    reader.readline()
    start = time.monotonic()
    sock.sendall(b"PASS bench password\r\n")
    reply = reader.readline()
    assert reply.startswith(b"+OK"), reply
    return sock, reader, time.monotonic() - start

sock, reader, first = login()
sock.sendall(b"QUIT\r\n"); reader.readline(); sock.close()
sock, reader, second = login()
sock.sendall(b"STAT\r\n")
count, octets = map(int, reader.readline().split()[1:3])
start = time.monotonic()
received = 0
batch = 50
for first_number in range(1, count + 1, batch):
    numbers = range(first_number, min(first_number + batch, count + 1))
    sock.sendall(b"".join(b"RETR %d\r\n" % n for n in numbers))
    for _ in numbers:
        assert reader.readline().startswith(b"+OK")
        while True:
            line = reader.readline()
            if line == b".\r\n":
                break
            received += len(line)
elapsed = time.monotonic() - start
sock.sendall(b"QUIT\r\n"); reader.readline()
print("POP3: %d messages, %d octets in the mailbox" % (count, octets))
print("login with listing: first %.0f ms (gives every message its UID), then %.0f ms" % (first * 1000, second * 1000))
print("RETR all: %.1f s, %.0f messages/s, %.1f MB/s (pipelined, 50 at a time, over TLS)"
      % (elapsed, count / elapsed, received / elapsed / 1e6))
PY
echo "folder listing at login (server log): $(grep -o 'listed_in=[0-9]*ms' "$work/server.log" | cut -d= -f2 | paste -sd' ')"
echo "server peak RSS: $(awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status")"
