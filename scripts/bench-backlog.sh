#!/usr/bin/env bash
# Backlog benchmark: the next hop (`relaygate bench sink`) is paused while `relaygate bench send` fills
# Relaygate's spool, so the whole batch waits in the queue; then the sink resumes and the queue drains.
# Prints the drain rate second by second (it should stay level while thousands wait), the time to empty the
# queue, and the server's peak RSS. Usage: scripts/bench-backlog.sh [messages] [size]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/delivery-bench-common.sh
messages=${1:-12000}
size=${2:-1024}

prepare_run relaygate-backlog
start_sink_and_server
# Paused, the sink's kernel still accepts connections, so deliveries wait for its greeting (well inside
# the 5-minute reply timeout) rather than fail and go to deferred/.
kill -STOP $sink

"$bin" bench send --to "127.0.0.1:$port" --messages "$messages" --size "$size" --sessions 20 >"$work/send.log"
waiting=$(ls "$work/spool/incoming" | wc -l)
echo "queued $messages messages of $size octets; $waiting waiting in incoming/, the rest held by stalled deliveries"

start=$(date +%s.%N)
kill -CONT $sink
wait_for_sink "$messages"
done_at=$(date +%s.%N)
echo "drain, messages delivered per second (the sink's count, once a second):"
grep -o 'per_second=[0-9]*' "$work/sink.log" | cut -d= -f2 | paste -sd' '
awk -v s="$start" -v d="$done_at" -v n="$messages" 'BEGIN {
    printf "queue emptied in %.1f s: %.0f msg/s\n", d - s, n / (d - s) }'
echo "server peak RSS: $(peak_rss_mib $server) MiB"
