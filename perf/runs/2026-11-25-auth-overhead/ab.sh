#!/bin/bash
# quick A/B: old vs new ringnats, pinned server CPU0, bench CPU1
bench=/tmp/target-new/release/ringnats-bench
run() { # bin label args...
  local bin=$1; shift; local label=$1; shift
  d=$(mktemp -d); taskset -c 0 $bin --threads 1 -a 127.0.0.1 -p -1 --ports_file_dir $d >/dev/null 2>&1 & pid=$!
  for i in $(seq 100); do f=$(ls $d/*.ports 2>/dev/null|head -1); [ -n "$f" ] && break; sleep 0.03; done
  port=$(python3 -c "import json,sys;u=json.load(open('$f'))['nats'];print([x for x in u if '127.0.0.1' in x][0].rsplit(':',1)[1])")
  out=$(taskset -c 1 timeout 60 $bench "$@" --duration 2 --port $port --json 2>/dev/null | head -1)
  kill $pid; wait $pid 2>/dev/null; rm -rf $d
  echo "$label $(echo "$out" | python3 -c "import json,sys;j=json.loads(sys.stdin.read());s=j.get('subscribe') or j['publish'];print(round(s['msgs_per_sec']))" 2>/dev/null)"
}
for round in 1 2 3 4; do
  for v in old new; do
    bin=/tmp/target-$v/release/ringnats
    run $bin "$v pub16" pub --size 16
    run $bin "$v 1x1" pubsub --pubs 1 --subs 1 --size 128
    run $bin "$v fanout" pubsub --pubs 1 --subs 4 --size 128
  done
done
