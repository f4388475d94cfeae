#!/bin/sh
# Before `make` makes .venv: is PYTHON one that Tweestap supports (pyproject.toml's
# requires-python: every pinned dependency has wheels for it)? Say so, and what to run, before
# pip refuses with a resolver error; a .venv made with another Python is made again.
# Usage: scripts/check-python.sh PYTHON VENV
python=${1:-python3}
venv=${2:-.venv}
here=$(dirname "$0")
if ! command -v "$python" >/dev/null 2>&1; then
    echo "Tweestap needs Python 3.11, 3.12 or 3.13, and there is no '$python' here." >&2
    echo "Run: make run PYTHON=python3.12 (any of 3.11-3.13 that is installed: ls /usr/bin/python3*)" >&2
    exit 1
fi
"$python" - "$here/../pyproject.toml" "$python" <<'PY' || exit 1
import re
import sys

pyproject, name = sys.argv[1], sys.argv[2]
spec = re.search(r'^requires-python = ">=(\d+)\.(\d+),<(\d+)\.(\d+)"', open(pyproject).read(), re.M)
low, high = (int(spec[1]), int(spec[2])), (int(spec[3]), int(spec[4]))
if not low <= sys.version_info[:2] < high:
    newest = "%d.%d" % (high[0], high[1] - 1)
    sys.exit(
        "Tweestap needs Python %d.%d to %s (requires-python in pyproject.toml: its pinned "
        "dependencies have wheels for those); %s is %s.\n"
        "Run: make run PYTHON=python%s (any of them that is installed: ls /usr/bin/python3*)"
        % (low[0], low[1], newest, name, sys.version.split()[0], newest)
    )
PY
if [ -x "$venv/bin/python" ]; then
    made=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
    want=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$made" != "$want" ]; then
        echo "$venv was made with Python ${made:-?}, $python is $want: making it again" >&2
        rm -rf "$venv"
    fi
fi
