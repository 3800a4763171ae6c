#!/usr/bin/env bash
# A real Label Studio server for the tests (tests/labeling/): label-studio 1.23.2 in its own
# virtualenv, because its Django pins differ from ours. Idempotent: does nothing when installed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.23.2
VENV=.cache/label-studio-venv
STAMP="$VENV/.installed-$VERSION"
[ -f "$STAMP" ] && exit 0

PY="$(command -v python3.11 || command -v python3)"
echo "installing label-studio==$VERSION into $VENV (about a minute)..."
mkdir -p .cache
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "label-studio==$VERSION"
touch "$STAMP"
