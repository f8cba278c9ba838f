#!/usr/bin/env python3
"""Runs `relaygate users add NAME` on a pseudo-terminal, as a person at a keyboard would, and reports what
the terminal showed: the prompts must appear and the typed password must not (no echo)."""
import json
import os
import pty
import select
import subprocess
import sys
import time

binary, name, password, directory = sys.argv[1:5]
leader, follower = pty.openpty()
process = subprocess.Popen([binary, "users", "add", name], stdin=follower, stdout=follower, stderr=follower,
                           cwd=directory, close_fds=True)
os.close(follower)
shown = b""


def read_until(marker, timeout=10):
    global shown
    deadline = time.time() + timeout
    while marker not in shown and time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                shown += os.read(leader, 1024)
            except OSError:
                break


read_until(b"Password for")
os.write(leader, password.encode() + b"\n")
read_until(b"Again:")
os.write(leader, password.encode() + b"\n")
read_until(b"added")
try:
    process.wait(timeout=10)
except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
print(json.dumps({"status": process.returncode, "shown": shown.decode(errors="replace")}))
