#!/usr/bin/env bash
# Fetches IMAPClient's live test suite for `IMAPClientLiveTests`: the IMAPClient 2.3.1 sdist from PyPI
# (livetest.py sits at its root) and `six`, its one dependency, unpacked into .build/peers/IMAPClient-2.3.1.
# Without it that test is skipped. 2.3.1, not a later one: from 3.0 ENVELOPE is a dataclass, and livetest's
# own test_fetch compares it as a sequence, which fails against any server.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.build/peers/IMAPClient-2.3.1
[ -f "$target/livetest.py" ] && [ -f "$target/six.py" ] && exit 0
mkdir -p .build/peers
python3 -m pip download --quiet --no-deps --no-binary :all: imapclient==2.3.1 -d .build/peers
python3 - <<'PY'
import zipfile
zipfile.ZipFile(".build/peers/IMAPClient-2.3.1.zip").extractall(".build/peers")
PY
python3 -m pip install --quiet --root-user-action=ignore --no-deps --target "$target" six
echo "IMAPClient's livetest is in $target"
