#!/usr/bin/env bash
# End-to-end benchmark: `relaygate bench send` into Relaygate (full durability), Relaygate delivering to
# `relaygate bench sink` on loopback. Measures from the first send until the sink has every message, and
# the server's peak RSS. Usage: scripts/bench-delivery.sh [messages] [size] [sessions]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000}
size=${2:-1024}
sessions=${3:-20}

swift build -c release --product relaygate >/dev/null
bin=.build/release/relaygate
work=$(mktemp -d "${TMPDIR:-/tmp}/relaygate-bench.XXXXXX")
server=; sink=
trap 'kill $server $sink 2>/dev/null || true; rm -rf "$work"' EXIT

sink_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" bench sink --listen "127.0.0.1:$sink_port" >"$work/sink.log" 2>&1 &
sink=$!
for _ in $(seq 100); do grep -q "ready" "$work/sink.log" 2>/dev/null && break; sleep 0.1; done

mkdir -p "$work/rules"
printf 'smtp:\n  max_connections_per_client: 1000\n' >"$work/rules/relaygate.yaml"
printf 'route * [127.0.0.1]:%s\n' "$sink_port" >"$work/rules/routes.rules"
"$bin" serve --rules "$work/rules" --spool "$work/spool" --hostname bench.test --smtp 127.0.0.1:0 \
    >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "relaygate: ready" "$work/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'address=127.0.0.1:[0-9]*' "$work/server.log" | head -1 | cut -d: -f2)

start=$(date +%s.%N)
"$bin" bench send --to "127.0.0.1:$port" --messages "$messages" --size "$size" --sessions "$sessions" >"$work/send.log"
accepted=$(date +%s.%N)
while true; do
    got=$(grep -o 'messages=[0-9]*' "$work/sink.log" | tail -1 | cut -d= -f2)
    [ "${got:-0}" -ge "$messages" ] && break
    sleep 0.2
done
done_at=$(date +%s.%N)
peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")
echo "end-to-end: $messages messages of $size octets, $sessions sessions, $(nproc) cores"
awk -v s="$start" -v a="$accepted" -v d="$done_at" -v n="$messages" -v p="$peak" 'BEGIN {
    printf "accepted in %.1f s (%.0f msg/s); all delivered to the sink in %.1f s: %.0f msg/s end to end\n", a - s, n / (a - s), d - s, n / (d - s)
    printf "server peak RSS: %.1f MiB\n", p / 1024 }'
