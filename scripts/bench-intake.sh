#!/usr/bin/env bash
# Intake benchmark: accept rate and latency for 1 KiB and 100 KiB messages with 1 and 20 sessions, peak RSS,
# RSS with 500 idle connections, and RSS growth for one 50 MiB message — all with full durability (every
# 250 after fsync). Builds the release binary, runs a server in a temporary spool on this disk, and prints
# a table. Usage: scripts/bench-intake.sh [messages-per-run]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000}

swift build -c release --product relaygate >/dev/null
bin=.build/release/relaygate
work=$(mktemp -d "${TMPDIR:-/tmp}/relaygate-bench.XXXXXX")
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/rules"
# All load comes from one address; let it hold the 500 idle connections.
printf 'smtp:\n  max_connections_per_client: 1000\n' >"$work/rules/relaygate.yaml"

start_server() {
    rm -rf "$work/spool"
    "$bin" serve --rules "$work/rules" --spool "$work/spool" --hostname bench.test \
        --smtp 127.0.0.1:0 >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do grep -q "relaygate: ready" "$work/server.log" 2>/dev/null && break; sleep 0.1; done
    port=$(grep -o 'address=127.0.0.1:[0-9]*' "$work/server.log" | head -1 | cut -d: -f2)
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; }
rss() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }   # KiB

echo "relaygate intake benchmark: $(nproc) cores, spool on $(df -h "$work" | awk 'NR==2 {print $1}')"
printf '%-10s %-9s %12s %10s %10s %14s %12s\n' size sessions messages/s p50 p99 peak-RSS-KiB messages/sync
for size in 1024 102400; do
    for sessions in 1 20; do
        start_server
        count=$messages
        [ "$size" -gt 10000 ] && count=$((messages / 4))
        out=$("$bin" bench send --to "127.0.0.1:$port" --messages "$count" --size "$size" --sessions "$sessions")
        rate=$(echo "$out" | awk '/^rate:/ {print $2}')
        p50=$(echo "$out" | awk '/^latency:/ {print $3 $4}' | tr -d ,)
        p99=$(echo "$out" | awk '/^latency:/ {print $6 $7}' | tr -d ,)
        queued=$(ls "$work/spool/incoming" | wc -l)
        [ "$queued" -eq "$count" ] || { echo "expected $count queued, found $queued" >&2; exit 1; }
        peak=$(rss "$server" VmHWM)
        stop_server
        syncs=$(grep -o 'directory_syncs=[0-9]*' "$work/server.log" | cut -d= -f2)
        printf '%-10s %-9s %12s %10s %10s %14s %12s\n' "$size" "$sessions" "$rate" "$p50" "$p99" "$peak" \
            "$(awk "BEGIN {printf \"%.1f\", $count / $syncs}")"
    done
done

start_server
python3 - "$port" "$server" <<'PY'
import socket, sys
port, pid = int(sys.argv[1]), sys.argv[2]
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss()
held = []
for _ in range(500):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(512)
    s.sendall(b"EHLO idle.test\r\n")
    held.append(s)
for s in held:
    s.recv(4096)
after = rss()
print("500 idle connections: RSS %d KiB before, %d KiB with them (%.1f KiB each)" % (before, after, (after - before) / 500))
PY
stop_server

start_server
python3 - "$port" "$server" <<'PY'
import smtplib, sys
port, pid = int(sys.argv[1]), sys.argv[2]
def rss(key):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
small = b"Subject: warm-up\r\n\r\nx\r\n"
client = smtplib.SMTP("127.0.0.1", port)
client.sendmail("a@bench.test", ["b@bench.test"], small)
before = rss("VmHWM")
line = b"z" * 998 + b"\r\n"
big = b"Subject: big\r\n\r\n" + line * (50 * 1024 * 1024 // len(line))
client.sendmail("a@bench.test", ["b@bench.test"], big)
after = rss("VmHWM")
client.quit()
print("50 MiB message: peak RSS %d KiB before, %d KiB after (+%d KiB)" % (before, after, after - before))
PY
stop_server
