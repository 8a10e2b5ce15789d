#!/usr/bin/env bash
# Distributed optimisation against a local run of the same grid (docs/benchmarks.md,
# "Distributed optimisation"): a local two-thread run, the same grid on two workers over NATS,
# and the per-item overhead (one worker, one set per item against 200 sets per item).
#
# Needs a release build of mtq-trader (MTQ_BIN, default target/release/mtq-trader), python3 and a
# NATS server with JetStream (MTQ_BENCH_NATS_URL, default nats://127.0.0.1:4222).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${MTQ_BIN:-target/release/mtq-trader}"
NATS="${MTQ_BENCH_NATS_URL:-nats://127.0.0.1:4222}"
RUNS="${RUNS:-5}"
DIR="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT

# One year of M5 bars of a seeded random walk (74,880 bars).
python3 - "$DIR/EURUSD.csv" <<'PY'
import datetime, random, sys
random.seed(7)
t = datetime.datetime(2023, 1, 2)
p = 1.1
with open(sys.argv[1], "w") as f:
    f.write("time,open,high,low,close,volume,spread\n")
    for _ in range(74_880):
        o = p
        p += random.gauss(0, 0.0004)
        h, l = max(o, p) + 0.0002, min(o, p) - 0.0002
        f.write(f"{t:%Y-%m-%d %H:%M:%S},{o:.5f},{h:.5f},{l:.5f},{p:.5f},100,8\n")
        t += datetime.timedelta(minutes=5)
PY
"$BIN" import --data "$DIR/EURUSD.csv" >/dev/null

# 28 x 34 = 952 crossover sets.
GRID=(--data "$DIR/EURUSD.csv" --symbol EURUSD --strategy crossover
      --range fast_period=3..30:1 --range slow_period=35..200:5
      --param sl_pips=20 --param tp_pips=40 --sizing risk:1 --no-progress)

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sum_cpu() { awk '{u += $1 + $2} END {printf "%.2f", u}' "$@"; }

echo "machine: $(nproc) cores, $(uname -sr); load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Rounds alternate a local run and a distributed one, so a neighbour's load falls on both.
# Wall: the submitting command's (the workers are up and waiting before it starts). CPU: user +
# system seconds of every process involved (the local process; the submitter and both workers).
local_wall=(); dist_wall=(); local_cpu=(); dist_cpu=()
for i in $(seq "$RUNS"); do
    a=$(now)
    /usr/bin/time -f "%U %S" -o "$DIR/local$i.cpu" \
        "$BIN" optimize "${GRID[@]}" --jobs 2 --database-url "sqlite://$DIR/local$i.db" >/dev/null
    b=$(now)
    local_wall+=("$(echo "$b - $a" | bc)"); local_cpu+=("$(sum_cpu "$DIR/local$i.cpu")")

    for w in 1 2; do
        /usr/bin/time -f "%U %S" -o "$DIR/worker$i.$w.cpu" \
            "$BIN" worker --nats "$NATS" --name "bench$w" --idle-exit 2 2>"$DIR/worker$w.log" &
    done
    sleep 1
    a=$(now)
    /usr/bin/time -f "%U %S" -o "$DIR/submit$i.cpu" \
        "$BIN" optimize "${GRID[@]}" --nats "$NATS" --database-url "sqlite://$DIR/dist$i.db" \
        >/dev/null 2>&1
    b=$(now)
    wait
    dist_wall+=("$(echo "$b - $a" | bc)")
    dist_cpu+=("$(sum_cpu "$DIR/submit$i.cpu" "$DIR"/worker"$i".?.cpu)")
done
echo "local, 2 threads: wall ${local_wall[*]} s (median $(printf '%s\n' "${local_wall[@]}" | median)), CPU ${local_cpu[*]} s (median $(printf '%s\n' "${local_cpu[@]}" | median))"
echo "2 workers:        wall ${dist_wall[*]} s (median $(printf '%s\n' "${dist_wall[@]}" | median)), CPU ${dist_cpu[*]} s (median $(printf '%s\n' "${dist_cpu[@]}" | median))"

# Per-item overhead: one worker, the same grid in 5 items of 200 sets and in 952 items of one.
for cs in 200 1; do
    "$BIN" worker --nats "$NATS" --name "bench-$cs" --idle-exit 2 2>/dev/null &
    sleep 1
    a=$(now)
    "$BIN" optimize "${GRID[@]}" --nats "$NATS" --chunk-sets "$cs" \
        --database-url "sqlite://$DIR/chunk$cs.db" >/dev/null 2>&1
    b=$(now)
    wait
    eval "wall_$cs=$(echo "$b - $a" | bc)"
done
echo "1 worker: 200 sets/item ${wall_200} s, 1 set/item ${wall_1} s -> $(echo "scale=2; ($wall_1 - $wall_200) * 1000 / (952 - 5)" | bc) ms overhead per item"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
