# Shared by bench-delivery.sh and bench-backlog.sh (sourced): `relaygate bench sink` as the next hop, and a
# server that routes everything to it and takes SMTP on a free loopback port.

# prepare_run NAME: builds the release binary, makes a work directory and cleans both processes and it up
# on exit. Sets $bin and $work.
prepare_run() {
    swift build -c release --product relaygate >/dev/null
    bin=.build/release/relaygate
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    server=; sink=
    # A paused sink (bench-backlog.sh) is resumed first, or it would not see its TERM.
    trap 'kill -CONT $sink 2>/dev/null || true; kill $server $sink 2>/dev/null || true; rm -rf "$work"' EXIT
}

# start_sink_and_server: the sink first (its port goes into the rules), then the server. Sets $sink,
# $server and $port.
start_sink_and_server() {
    local sink_port
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
}

# wait_for_sink MESSAGES: returns once the sink has counted that many.
wait_for_sink() {
    local got
    while true; do
        got=$(grep -o ' messages=[0-9]*' "$work/sink.log" | tail -1 | cut -d= -f2 || true)
        [ "${got:-0}" -ge "$1" ] && return
        sleep 0.2
    done
}

# peak_rss_mib PID
peak_rss_mib() {
    awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"
}
