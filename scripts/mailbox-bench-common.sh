# Shared by bench-pop3.sh and bench-imap.sh (sourced): a user `bench` whose mailbox holds N messages written
# straight into its Maildir (as another program would, so the first open gives every message its UID), and a
# server reading it on one listener. Expects $bin and $work; sets $port and $server.

# make_mailbox MESSAGES SIZE
make_mailbox() {
    echo "bench password" | "$bin" users add bench --rules "$work/rules" >/dev/null 2>&1
    python3 - "$work/spool/mailboxes/bench" "$1" "$2" <<'PY'
import os, sys
root, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
line = b"x" * 76 + b"\r\n"
for i in range(count):
    header = b"From: a@example.org\r\nSubject: message %d\r\n\r\n" % i
    body = (line * (size // len(line) + 1))[: max(size - len(header), 0)]
    with open(os.path.join(root, "new", "1764000000.%d.bench" % i), "wb") as f:
        f.write(header + body)
PY
}

# serve_on FLAG (--pop3s or --imaps): starts the server on a free loopback port and waits until it is ready.
serve_on() {
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin" serve --rules "$work/rules" --spool "$work/spool" --hostname bench.test "$1" "127.0.0.1:$port" \
        >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do grep -q "relaygate: ready" "$work/server.log" 2>/dev/null && break; sleep 0.1; done
}
