#!/usr/bin/env bash
# Profiles one server under one harness scenario with `perf record` (software cpu-clock
# sampling, so it works in VMs without hardware counters) and prints the top symbols.
# The server is pinned to CPU 0 and the harness to CPU 1, as in scripts/perf.sh.
#
# Usage: scripts/profile.sh [ringnats|nats-server] [harness arguments...]
#   scripts/profile.sh ringnats pubsub --subs 4 --size 128 --duration 5
# Output: /tmp/ringnats-profile.<server>.data and a `perf report` summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
server=${1:-ringnats}
shift || true
[ $# -gt 0 ] || set -- pubsub --subs 1 --size 128 --duration 5
command -v perf >/dev/null || { echo "profile.sh: perf is not installed" >&2; exit 1; }

target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target
cargo build --release --bin ringnats --bin ringnats-bench
case "$server" in
  ringnats) server_cmd=(taskset -c 0 "$target/release/ringnats" --threads 1) ;;
  nats-server)
    scripts/install-reference.sh
    server_cmd=(env GOMAXPROCS=1 taskset -c 0 "$root/.venv/bin/nats-server") ;;
  *) echo "profile.sh: server must be ringnats or nats-server" >&2; exit 2 ;;
esac

dir=$(mktemp -d /tmp/ringnats-profile.XXXXXX)
"${server_cmd[@]}" -a 127.0.0.1 -p -1 --ports_file_dir "$dir" >"$dir/log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 200); do
  ports=$(ls "$dir"/*.ports 2>/dev/null | head -n 1 || true)
  [ -n "$ports" ] && grep -q '"nats"' "$ports" && break
  sleep 0.025
done
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$ports" | head -n 1 | cut -d: -f2)

data=/tmp/ringnats-profile.$server.data
perf record -e cpu-clock -F 2000 -g -p "$server_pid" -o "$data" 2>/dev/null &
perf_pid=$!
sleep 0.3
taskset -c 1 "$target/release/ringnats-bench" "$@" --port "$port" --no-progress
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true
perf report -i "$data" --no-children -g none --percent-limit 1.5 --stdio 2>/dev/null | grep -v '^$' | head -n 60
