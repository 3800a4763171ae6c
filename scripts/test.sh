#!/usr/bin/env bash
# `make test`: what the suite needs beyond the virtualenv, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the browser tests need /usr/bin/chromium: install Debian's chromium package" >&2
    exit 1
  fi
fi

# Lint and format first: seconds, and a finding fails the run before the minutes of the suite.
# (The import contracts, lint-imports, run in the suite: tests/test_architecture.py.)
.venv/bin/ruff check .
.venv/bin/ruff format --check .

mkdir -p var
# Keep the tests' filesystem broker apart from the one `make run` uses.
export BROKER_DIR="${BROKER_DIR:-$PWD/var/test-broker}"
bash scripts/label_studio.sh  # a real Label Studio for tests/labeling (own virtualenv)
exec .venv/bin/python -m pytest "$@"
