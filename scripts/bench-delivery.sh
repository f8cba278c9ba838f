#!/usr/bin/env bash
# End-to-end benchmark: `relaygate bench send` into Relaygate (full durability), Relaygate delivering to
# `relaygate bench sink` on loopback. Measures from the first send until the sink has every message, and
# the server's peak RSS. Usage: scripts/bench-delivery.sh [messages] [size] [sessions]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/delivery-bench-common.sh
messages=${1:-20000}
size=${2:-1024}
sessions=${3:-20}

prepare_run relaygate-bench
start_sink_and_server

start=$(date +%s.%N)
"$bin" bench send --to "127.0.0.1:$port" --messages "$messages" --size "$size" --sessions "$sessions" >"$work/send.log"
accepted=$(date +%s.%N)
wait_for_sink "$messages"
done_at=$(date +%s.%N)
echo "end-to-end: $messages messages of $size octets, $sessions sessions, $(nproc) cores"
awk -v s="$start" -v a="$accepted" -v d="$done_at" -v n="$messages" 'BEGIN {
    printf "accepted in %.1f s (%.0f msg/s); all delivered to the sink in %.1f s: %.0f msg/s end to end\n", a - s, n / (a - s), d - s, n / (d - s) }'
echo "server peak RSS: $(peak_rss_mib $server) MiB"
