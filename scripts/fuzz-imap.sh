#!/usr/bin/env bash
# Fuzzes the IMAP command framer, parser and session (Sources/IMAPFuzz) with libFuzzer and AddressSanitizer
# for SECONDS (default 300). Builds in .build/fuzz, apart from the normal build. The corpus starts from
# Tests/Fuzz/imap-corpus and grows in .build/fuzz/imap-corpus; crashes are written to .build/fuzz/. A crash
# file replays with `swift run imap-fuzz FILE`, and belongs in Tests/Fuzz/imap-crashes/ once fixed. It links
# with lld: gold fails on the entry point SwiftPM gives every executable.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
swift build --product imap-fuzz --build-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
corpus=.build/fuzz/imap-corpus
mkdir -p "$corpus"
cp -n Tests/Fuzz/imap-corpus/* "$corpus"/ 2>/dev/null || true
[ -d Tests/Fuzz/imap-crashes ] && cp -n Tests/Fuzz/imap-crashes/* "$corpus"/ 2>/dev/null || true
.build/fuzz/debug/imap-fuzz "$corpus" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix=.build/fuzz/ -print_final_stats=1
