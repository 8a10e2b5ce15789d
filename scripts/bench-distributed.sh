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
RUNS="${RUNS:-3}"
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

seconds() { python3 -c 'import sys,time; print(f"{time.time():.3f}")'; }
timed() { # prints the wall seconds of "$@"
    local a b
    a=$(seconds); "$@" >/dev/null; b=$(seconds)
    python3 -c "print(f'{$b - $a:.3f}')"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(uname -sr); load before: $(cut -d' ' -f1-3 /proc/loadavg)"

local_runs=()
for i in $(seq "$RUNS"); do
    local_runs+=("$(timed "$BIN" optimize "${GRID[@]}" --jobs 2 --database-url "sqlite://$DIR/local$i.db")")
done
echo "local, 2 threads: ${local_runs[*]} s (median $(printf '%s\n' "${local_runs[@]}" | median))"

start_workers() {
    for w in $(seq "$1"); do
        "$BIN" worker --nats "$NATS" --name "bench$w" --idle-exit 30 2>"$DIR/worker$w.log" &
    done
    sleep 1
}

start_workers 2
dist_runs=()
for i in $(seq "$RUNS"); do
    dist_runs+=("$(timed "$BIN" optimize "${GRID[@]}" --nats "$NATS" --database-url "sqlite://$DIR/dist$i.db")")
done
echo "2 workers (items sized to 2 s): ${dist_runs[*]} s (median $(printf '%s\n' "${dist_runs[@]}" | median))"
kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true

start_workers 1
big=$(timed "$BIN" optimize "${GRID[@]}" --nats "$NATS" --chunk-sets 200 --database-url "sqlite://$DIR/big.db")
small=$(timed "$BIN" optimize "${GRID[@]}" --nats "$NATS" --chunk-sets 1 --database-url "sqlite://$DIR/small.db")
python3 - "$big" "$small" <<'PY'
import sys
big, small = map(float, sys.argv[1:])
items_big, items_small = 5, 952
per_item = (small - big) / (items_small - items_big)
print(f"1 worker: 200 sets/item {big:.3f} s, 1 set/item {small:.3f} s "
      f"-> {per_item * 1000:.2f} ms overhead per item")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
