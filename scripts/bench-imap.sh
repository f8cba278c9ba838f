#!/usr/bin/env bash
# IMAP benchmark: a mailbox of N messages written straight into its Maildir (so the first SELECT gives every
# message its UID), read with Python's imaplib over implicit TLS. Reports SELECT times, FETCH 1:* BODY.PEEK[]
# throughput, and the server's RSS per idle IMAP connection (logged in, INBOX selected).
# Usage: scripts/bench-imap.sh [messages] [size] [idle-connections]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
size=${2:-1024}
idle=${3:-100}

swift build -c release --product relaygate >/dev/null
bin=$PWD/.build/release/relaygate
work=$(mktemp -d "${TMPDIR:-/tmp}/relaygate-bench-imap.XXXXXX")
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/rules"
# Every benchmark connection comes from 127.0.0.1.
printf 'imap:\n  max_connections_per_client: 1000\n' >"$work/rules/relaygate.yaml"
source scripts/mailbox-bench-common.sh
make_mailbox "$messages" "$size"
serve_on --imaps

python3 - "$port" "$work/spool/tls/cert.pem" "$server" "$idle" <<'PY'
import imaplib, ssl, sys, time
port, cafile, pid, idle = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False

def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def connect():
    client = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context)
    client.login("bench", "bench password")
    return client

client = connect()
start = time.monotonic(); client.select("INBOX"); first = time.monotonic() - start
client.close()
start = time.monotonic(); typ, data = client.select("INBOX"); second = time.monotonic() - start
count = int(data[0])
start = time.monotonic()
typ, data = client.fetch("1:*", "(BODY.PEEK[])")
elapsed = time.monotonic() - start
octets = sum(len(item[1]) for item in data if isinstance(item, tuple))
print("IMAP: %d messages" % count)
print("SELECT: first %.0f ms (gives every message its UID), then %.0f ms" % (first * 1000, second * 1000))
print("FETCH 1:* BODY.PEEK[]: %.2f s, %.0f messages/s, %.1f MB/s (client: imaplib over TLS)"
      % (elapsed, count / elapsed, octets / elapsed / 1e6))
client.logout()

before = rss()
clients = []
for _ in range(idle):
    c = connect()
    c.select("INBOX")
    clients.append(c)
time.sleep(1)
after = rss()
print("idle connections: %d logged in with INBOX selected, RSS %.1f -> %.1f MiB: %.0f KiB each"
      % (idle, before / 1024, after / 1024, (after - before) / idle))
for c in clients:
    c.logout()
PY
