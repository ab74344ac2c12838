#!/usr/bin/env bash
# Records the fast-producer benchmark: ringnats against the reference nats-server 2.15.1 in
# the same run, each sample against a FRESH server, A/B order alternating. Two kinds of row:
#   loss rows   flow control off, 128 B, 1->1, 4->1 and 1->4, raw and async-nats clients:
#               delivered msgs/s and where lost messages went (server-closed subscribers,
#               client drops), with the /varz slow_consumers and stalled_clients deltas;
#   stuck rows  1 publisher -> 3 healthy subscribers + 1 that never reads, against a
#               baseline of 1 -> 3 with none, in the same sample: the publisher's and the
#               healthy subscribers' rate after the server closed the stuck one, as a
#               ratio of the baseline.
# Writes perf/runs/<YYYY-MM-DD>-<label>/ with machine.txt, commands.txt, samples.csv,
# summary.md and progress.log. See perf/README.md ("Fast producers") for how to read it.
#
# Usage: scripts/perf-fast-producer.sh [options]
#   --label NAME          run folder suffix (default: fast-producer)
#   --samples N           samples per row and server, pinned section (default 7; PERF_SAMPLES)
#   --seconds S           sending time of a loss-row sample (default 2; PERF_SECONDS)
#   --stuck-seconds S     sending time of a stuck/baseline sample (default 10; PERF_STUCK_SECONDS)
#   --shards-samples N    samples in the 2-shard section (default 3; PERF_SHARDS_SAMPLES)
#   --no-shards           skip the 2-shard section (ringnats --threads 2, nothing pinned)
#   --only REGEX          run only rows whose "name client" matches (e.g. 'loss-1x1|stuck',
#                         'async-nats'); a stuck row always runs with its baseline
#   --quick               1 sample, 1 s loss rows, 5 s stuck rows: a smoke test, not a result
# commands.txt writes PORT, MPORT and DIR for the per-sample ports and ports-file folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

label=fast-producer
samples=${PERF_SAMPLES:-7}
seconds=${PERF_SECONDS:-2}
stuck_seconds=${PERF_STUCK_SECONDS:-10}
shards_samples=${PERF_SHARDS_SAMPLES:-3}
shards=1
only=''
server_cpu=${PERF_SERVER_CPU:-0}
harness_cpu=${PERF_HARNESS_CPU:-1}
while [ $# -gt 0 ]; do
  case "$1" in
    --label) label=$2; shift ;;
    --samples) samples=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --stuck-seconds) stuck_seconds=$2; shift ;;
    --shards-samples) shards_samples=$2; shift ;;
    --no-shards) shards=0 ;;
    --only) only=$2; shift ;;
    --quick) samples=1; seconds=1; stuck_seconds=5; shards_samples=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "perf-fast-producer.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "perf-fast-producer.sh: $*" >&2; exit 1; }

# --- the reference server, by explicit path, checked ---------------------------------------
scripts/install-reference.sh
nats_server=$root/.venv/bin/nats-server
nats_version=$("$nats_server" --version)
case "$nats_version" in *v2.15.1*) ;; *) die "$nats_server reports '$nats_version', not v2.15.1" ;; esac

# --- build ----------------------------------------------------------------------------------
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target
cargo build --release --bin ringnats --bin ringnats-bench
bench=$target/release/ringnats-bench
ringnats=$target/release/ringnats
[ -x "$ringnats" ] && [ -x "$bench" ] || die "build did not produce $ringnats and $bench"
ringnats_source="work tree at $(git rev-parse HEAD), $(git status --porcelain | wc -l) changed/untracked paths"
[ "$(nproc)" -ge 2 ] || die "the pinned comparison needs two CPUs (server on $server_cpu, harness on $harness_cpu)"

run_dir=$root/perf/runs/$(date +%F)-$label
mkdir -p "$run_dir"
work=$(mktemp -d /tmp/ringnats-fast-producer.XXXXXX)
commands=$run_dir/commands.txt
samples_csv=$run_dir/samples.csv
: >"$commands"
: >"$run_dir/progress.log"
echo "section,scenario,client,server,sample,order,pub_msgs_per_sec,sub_msgs_per_sec,expected,delivered,lost,lost_server_closed,lost_client_dropped,lost_unexplained,subs_closed_by_server,client_slow_consumer_events,slow_consumers_delta,stalled_clients_delta,stuck,stuck_closed,stuck_last_close_seconds,stuck_reasons,pub_after_close_msgs_per_sec,sub_after_close_msgs_per_sec,errors" >"$samples_csv"

server_pid=''
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- servers --------------------------------------------------------------------------------
# Sets the array `server_cmd` for a variant name. Every server gets a random client port and
# a random monitoring port (-m -1 works on both), read back from the ports file.
server_command() {
  case "$1" in
    ringnats) server_cmd=(taskset -c "$server_cpu" "$ringnats" --threads 1) ;;
    nats-server) server_cmd=(env GOMAXPROCS=1 taskset -c "$server_cpu" "$nats_server") ;;
    ringnats-2-shards) server_cmd=("$ringnats" --threads 2) ;;
    nats-server-unpinned) server_cmd=("$nats_server") ;;
    *) die "unknown server variant $1" ;;
  esac
  server_cmd+=(-a 127.0.0.1 -p -1 -m -1)
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

# Prints "CLIENT_PORT MONITOR_PORT" from a ports file once it lists both, else nothing.
ports_from_file() {
  python3 - "$1" <<'PY' 2>/dev/null || true
import json, sys
ports = json.load(open(sys.argv[1]))
port = lambda url: url.rsplit(":", 1)[1].rstrip("/")
if ports.get("nats") and ports.get("monitoring"):
    print(port(ports["nats"][0]), port(ports["monitoring"][0]))
PY
}

# Starts a fresh server of variant $1; sets server_pid, server_port, monitor_port, server_dir.
start_server() {
  server_command "$1"
  server_dir=$(mktemp -d "$work/server.XXXXXX")
  record_command "${server_cmd[@]}" --ports_file_dir DIR
  "${server_cmd[@]}" --ports_file_dir "$server_dir" >"$server_dir/log" 2>&1 &
  server_pid=$!
  local ports='' ports_file attempt
  for attempt in $(seq 200); do
    ports_file=$(ls "$server_dir"/*.ports 2>/dev/null | head -n 1 || true)
    [ -n "$ports_file" ] && ports=$(ports_from_file "$ports_file")
    if [ -n "$ports" ]; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.025
  done
  if [ -z "$ports" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=''
    return 1
  fi
  read -r server_port monitor_port <<<"$ports"
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
# run_sample SECTION SCENARIO CLIENT VARIANT SAMPLE ORDER PINNED BENCH_ARGS...
run_sample() {
  local section=$1 scenario=$2 client=$3 variant=$4 sample=$5 order=$6 pinned=$7
  shift 7
  local out=$work/sample.json errors=''
  if ! start_server "$variant"; then
    cp "$server_dir/log" "$run_dir/failed-start-$variant.log" 2>/dev/null || true
    echo "$section,$scenario,$client,$variant,$sample,$order,,,,,,,,,,,,,,,,,,,server did not start" >>"$samples_csv"
    return
  fi
  # A hung server must not hang the run: the harness has its own timeouts, this is the backstop.
  local -a harness=(timeout 300 "$bench" "$@" --client "$client")
  [ "$pinned" = 1 ] && harness=(taskset -c "$harness_cpu" "${harness[@]}")
  record_command "${harness[@]}" --port PORT --monitor MPORT --label "$scenario" --json
  echo "== $section $scenario $client $variant sample $sample" >>"$run_dir/progress.log"
  if ! "${harness[@]}" --port "$server_port" --monitor "$monitor_port" --label "$scenario" --json \
    >"$out" 2>>"$run_dir/progress.log"; then
    errors='harness failed'
    echo '{}' >"$out"
  fi
  if ! stop_server; then
    errors="${errors:+$errors; }server exited during the sample"
    cp "$server_dir/log" "$run_dir/crash-$scenario-$client-$variant-$sample.log"
  fi
  python3 - "$out" "$section" "$scenario" "$client" "$variant" "$sample" "$order" "$errors" >>"$samples_csv" <<'PY'
import json, sys
path, section, scenario, client, variant, sample, order, errors = sys.argv[1:]
report = json.load(open(path))
pub = report.get("publish") or {}
sub = report.get("subscribe") or {}
split = report.get("lost_split") or {}
subs = report.get("subscribers") or []
counters = report.get("server_counters") or {}
stuck = report.get("stuck") or {}
stuck_subs = stuck.get("subscribers") or []
after = stuck.get("after_close") or {}
errs = [e for e in [errors] + report.get("errors", []) if e]
def f(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"
def s(value):
    return "" if value is None else str(value)
row = [section, scenario, client, variant, sample, order,
       f(pub.get("msgs_per_sec")), f(sub.get("msgs_per_sec")),
       s(report.get("expected")), s(report.get("delivered")), s(report.get("lost")),
       s(split.get("server_closed")), s(split.get("client_dropped")), s(split.get("unexplained")),
       str(sum(1 for x in subs if x.get("closed_by_server"))) if subs else "",
       str(sum(x.get("client_slow_consumer_events", 0) for x in subs)) if subs else "",
       s(counters.get("slow_consumers")), s(counters.get("stalled_clients")),
       str(len(stuck_subs)) if stuck else "0",
       str(sum(1 for x in stuck_subs if x.get("closed_after_seconds") is not None)) if stuck else "",
       f(stuck.get("last_closed_after_seconds"), 3),
       "; ".join(sorted({x.get("reason") or "" for x in stuck_subs if x.get("reason")})),
       f(after.get("publish_msgs_per_sec")), f(after.get("subscribe_msgs_per_sec")),
       "; ".join(errs)]
print(",".join(cell.replace(",", ";").replace("\n", " ") for cell in row))
PY
}

# --- rows (name|harness arguments); the same subjects for every server ------------------------
# Loss rows run with the harness's flow control off: publishers send as fast as the server
# reads, so the server's slow-consumer policy (stall the producer, or close the subscriber)
# decides what happens. Stuck rows keep the flow-control window: the publisher then runs at
# what the healthy subscribers get, the baseline is lossless, and the after-close rate shows
# whatever lasting cost the stuck subscriber left — not the healthy subscribers' own race
# with an unpaced publisher.
loss_rows=(
  "loss-1x1-128B|pubsub --pubs 1 --subs 1 --size 128 --window 0 --duration $seconds"
  "loss-4x1-128B|pubsub --pubs 4 --subs 1 --size 128 --window 0 --duration $seconds"
  "loss-1x4-128B|pubsub --pubs 1 --subs 4 --size 128 --window 0 --duration $seconds"
)
# Each stuck sample runs the baseline and the stuck row back to back on fresh servers.
stuck_pair=(
  "fanout-1x3-128B|pubsub --pubs 1 --subs 3 --size 128 --duration $stuck_seconds"
  "stuck-1x3+1-128B|pubsub --pubs 1 --subs 3 --stuck 1 --size 128 --duration $stuck_seconds"
)
clients=(raw async-nats)

# run_rows SECTION PINNED SAMPLES ROWS_ARRAY_NAME VARIANTS...: every sample runs the row for
# every variant (for a stuck pair: both rows per variant), in an order reversed on even samples.
run_rows() {
  local section=$1 pinned=$2 count=$3 list=$4
  shift 4
  local -a variants=("$@") plan order_list words
  local -n rows=$list
  local client entry name names='' sample index variant item
  for entry in "${rows[@]}"; do names+="${entry%%|*} "; done
  for client in "${clients[@]}"; do
    # A stuck pair is selected (or not) as a whole: the stuck row means nothing without its
    # baseline.
    if [ -n "$only" ] && ! [[ "$names$client" =~ $only ]]; then continue; fi
    plan=()
    for variant in "${variants[@]}"; do
      for entry in "${rows[@]}"; do plan+=("$variant|$entry"); done
    done
    echo "perf-fast-producer.sh: $section $names$client" >&2
    for sample in $(seq "$count"); do
      order_list=("${plan[@]}")
      if [ $((sample % 2)) -eq 0 ]; then
        order_list=()
        for ((index = ${#plan[@]} - 1; index >= 0; index--)); do order_list+=("${plan[index]}"); done
      fi
      index=0
      for item in "${order_list[@]}"; do
        index=$((index + 1))
        variant=${item%%|*}
        entry=${item#*|}
        name=${entry%%|*}
        read -r -a words <<<"${entry#*|}"
        run_sample "$section" "$name" "$client" "$variant" "$sample" "$index" "$pinned" "${words[@]}"
      done
    done
  done
}

# run_loss_rows: one row at a time (all its samples), so a row's samples sit close in time.
run_loss_rows() {
  local section=$1 pinned=$2 count=$3
  shift 3
  local entry
  for entry in "${loss_rows[@]}"; do
    local -a one_row=("$entry")
    run_rows "$section" "$pinned" "$count" one_row "$@"
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
  echo "samples: $samples pinned (loss rows ${seconds}s, stuck rows ${stuck_seconds}s); $([ "$shards" = 1 ] && echo "$shards_samples" || echo 0) in the 2-shard section"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$run_dir/machine.txt"

# --- the runs ---------------------------------------------------------------------------------
run_loss_rows pinned 1 "$samples" ringnats nats-server
run_rows pinned 1 "$samples" stuck_pair ringnats nats-server
if [ "$shards" = 1 ]; then
  run_loss_rows shards 0 "$shards_samples" ringnats-2-shards nats-server-unpinned
  run_rows shards 0 "$shards_samples" stuck_pair ringnats-2-shards nats-server-unpinned
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$run_dir/machine.txt"

# --- summary ----------------------------------------------------------------------------------
python3 - "$samples_csv" "$run_dir/summary.md" "$run_dir/machine.txt" <<'PY'
import csv, statistics, sys
samples_path, summary_path, machine_path = sys.argv[1:]
rows = list(csv.DictReader(open(samples_path)))
KEEP = 0.95  # the issue's bar: >= 95 % of the baseline rate once the stuck one is closed

def pick(section, scenario, client, server):
    return [r for r in rows if (r["section"], r["scenario"], r["client"], r["server"])
            == (section, scenario, client, server)]

def values(samples, column):
    return [float(r[column]) for r in samples if r[column] not in ("", None)]

def spread(vals):
    return None if not vals else (statistics.median(vals), min(vals), max(vals))

def rate(v):
    return f"{v/1e6:.2f}M" if v >= 1e5 else f"{v/1e3:.1f}k"

def cell(s, fmt=rate, bold=False):
    if s is None:
        return "—"
    text = f"{fmt(s[0])} [{fmt(s[1])}–{fmt(s[2])}]"
    return f"**{text}**" if bold else text

def count(v):
    return f"{v:.0f}"

def ratio_text(ours, theirs):
    if ours is None or theirs is None or theirs[0] == 0:
        return "—"
    r = ours[0] / theirs[0]
    return f"{r:.2f}×" if r >= 1 else f"**{r:.2f}× loss**"

def keep_text(s):
    if s is None:
        return "—"
    text = f"{s[0]:.3f} [{s[1]:.3f}–{s[2]:.3f}]"
    return text if s[0] >= KEEP else f"**{text} < {KEEP}**"

def lost_server(samples):
    """Server-side loss: messages missing from subscribers the server closed."""
    bad = [r for r in samples if r["lost_server_closed"] not in ("", "0") or r["subs_closed_by_server"] not in ("", "0")]
    total = sum(int(r["lost_server_closed"] or 0) for r in samples)
    text = f"{total} ({len(bad)}/{len(samples)} samples)"
    return text if not bad else f"**{text}**"

def total(samples, column):
    vals = values(samples, column)
    return "—" if not vals else f"{sum(vals):.0f}"

def section_tables(section, ours, theirs, heading, note):
    present = [r for r in rows if r["section"] == section]
    if not present:
        return []
    out = [f"## {heading}", "", note, ""]
    loss = [s for s in dict.fromkeys(r["scenario"] for r in present) if s.startswith("loss-")]
    if loss:
        out += ["### Loss rows (flow control off, 128 B)", "",
                "Server-side loss is what the issue forbids: messages missing from a subscriber the server "
                "closed (slow consumer). Client-dropped messages were discarded inside async-nats "
                "(its subscription channel was full) and happen against both servers.", "",
                f"| row | client | metric | {ours} | {theirs} | ratio |", "|---|---|---|---|---|---|"]
        for scenario in loss:
            for client in dict.fromkeys(r["client"] for r in present if r["scenario"] == scenario):
                a, b = pick(section, scenario, client, ours), pick(section, scenario, client, theirs)
                da, db = spread(values(a, "sub_msgs_per_sec")), spread(values(b, "sub_msgs_per_sec"))
                better = None if da is None or db is None else (ours if da[0] >= db[0] else theirs)
                out.append(f"| {scenario} | {client} | delivered msgs/s ↑ | {cell(da, bold=better == ours)} | "
                           f"{cell(db, bold=better == theirs)} | {ratio_text(da, db)} |")
                out.append(f"| | | publish msgs/s | {cell(spread(values(a, 'pub_msgs_per_sec')))} | "
                           f"{cell(spread(values(b, 'pub_msgs_per_sec')))} | |")
                out.append(f"| | | lost, server-closed (sum) | {lost_server(a)} | {lost_server(b)} | |")
                out.append(f"| | | lost, client-dropped | {cell(spread(values(a, 'lost_client_dropped')), count)} | "
                           f"{cell(spread(values(b, 'lost_client_dropped')), count)} | |")
                out.append(f"| | | lost, unexplained (sum) | {total(a, 'lost_unexplained')} | {total(b, 'lost_unexplained')} | |")
                out.append(f"| | | slow_consumers Δ (sum) | {total(a, 'slow_consumers_delta')} | {total(b, 'slow_consumers_delta')} | |")
                out.append(f"| | | stalled_clients Δ | {cell(spread(values(a, 'stalled_clients_delta')), count)} | "
                           f"{cell(spread(values(b, 'stalled_clients_delta')), count)} | |")
        out.append("")
    if any(r["scenario"].startswith("stuck-") for r in present):
        out += ["### One stuck subscriber among four (flow control on, 128 B)", "",
                "Each sample runs `fanout-1x3-128B` (1 publisher → 3 subscribers, the baseline) and "
                "`stuck-1x3+1-128B` (the same plus one raw subscriber with a 32 KiB receive buffer that "
                "never reads) back to back on fresh servers. \"After close\" is measured from the moment "
                "`/connz` listed the stuck subscriber closed to the end of the run; the keep ratio is "
                "after-close / baseline per sample (median [min–max]); the bar is "
                f"{KEEP}.", "",
                f"| client | metric | {ours} | {theirs} |", "|---|---|---|---|"]
        for client in dict.fromkeys(r["client"] for r in present if r["scenario"].startswith("stuck-")):
            cells = {}
            for server in (ours, theirs):
                base = pick(section, "fanout-1x3-128B", client, server)
                stuck = pick(section, "stuck-1x3+1-128B", client, server)
                pairs = {r["sample"]: r for r in base}
                keep = {"sub": [], "pub": []}
                for r in stuck:
                    b = pairs.get(r["sample"])
                    for side, after, whole in (("sub", "sub_after_close_msgs_per_sec", "sub_msgs_per_sec"),
                                               ("pub", "pub_after_close_msgs_per_sec", "pub_msgs_per_sec")):
                        if b and r[after] and b[whole] and float(b[whole]) > 0:
                            keep[side].append(float(r[after]) / float(b[whole]))
                closed = sum(1 for r in stuck if r["stuck"] not in ("", "0") and r["stuck_closed"] == r["stuck"])
                cells[server] = [
                    cell(spread(values(base, "sub_msgs_per_sec"))),
                    cell(spread(values(stuck, "sub_after_close_msgs_per_sec"))),
                    keep_text(spread(keep["sub"])),
                    cell(spread(values(base, "pub_msgs_per_sec"))),
                    cell(spread(values(stuck, "pub_after_close_msgs_per_sec"))),
                    keep_text(spread(keep["pub"])),
                    cell(spread(values(stuck, "sub_msgs_per_sec"))),
                    f"{cell(spread(values(stuck, 'stuck_last_close_seconds')), lambda v: f'{v:.2f} s')}; "
                    f"closed in {closed}/{len(stuck)}",
                    "; ".join(sorted({r["stuck_reasons"] for r in stuck if r["stuck_reasons"]})) or "—",
                    lost_server(stuck),
                    f"{total(stuck, 'slow_consumers_delta')} / {cell(spread(values(stuck, 'stalled_clients_delta')), count)}",
                ]
            labels = ["baseline delivered msgs/s (3 subscribers) ↑", "after-close delivered msgs/s ↑",
                      "**keep ratio, delivered**", "baseline publish msgs/s ↑", "after-close publish msgs/s ↑",
                      "**keep ratio, publish**", "whole-run delivered msgs/s (with the stuck one)",
                      "stuck one closed after", "close reason", "healthy lost, server-closed (sum)",
                      "slow_consumers Δ (sum) / stalled_clients Δ"]
            for index, label in enumerate(labels):
                out.append(f"| {client if index == 0 else ''} | {label} | {cells[ours][index]} | {cells[theirs][index]} |")
        out.append("")
    errors = [r for r in present if r["errors"]]
    if errors:
        out += ["Samples with errors (a subscriber closed by the server shows here too):", ""]
        out += [f"- {r['scenario']} / {r['client']} / {r['server']} / sample {r['sample']}: {r['errors']}" for r in errors]
    else:
        out.append("No sample reported an error.")
    out.append("")
    return out

md = ["# Fast producers: ringnats vs nats-server 2.15.1", "", "Machine:", "", "```",
      open(machine_path).read().rstrip(), "```", "",
      "Cells: median [min–max] over the samples (M = 10^6 msgs/s, k = 10^3); the better median of a "
      "rate row is **bold**; ratio = ringnats / nats-server, below 1 a **loss**.", ""]
md += section_tables("pinned", "ringnats", "nats-server", "Per core (pinned)",
                     "Server on one CPU (ringnats `--threads 1`, nats-server `GOMAXPROCS=1`), harness on the other.")
md += section_tables("shards", "ringnats-2-shards", "nats-server-unpinned", "ringnats with 2 shards (unpinned)",
                     "Nothing pinned: ringnats `--threads 2` (subscribers and publishers may sit on different "
                     "shards, so stalls cross the rings), nats-server with its default GOMAXPROCS; the harness "
                     "shares the CPUs.")
open(summary_path, "w").write("\n".join(md))
PY
echo "perf-fast-producer.sh: wrote $run_dir" >&2
cat "$run_dir/summary.md"
