#!/usr/bin/env bash
# The operator-API load figures of docs/benchmarks.md (issue 17) against the real
# `mtq-trader serve` with its paper trader running: 100,000 seeded trades, REST at 1,000
# requests/s, then 100 WebSocket clients. Usage: bins/mtq-loadgen/bench/run.sh [BIN_DIR]
# (BIN_DIR holds mtq-trader and mtq-loadgen; default target/release).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(cd "${1:-target/release}" && pwd)"
dir="$(mktemp -d /tmp/mtq-load.XXXXXX)"
cd "$dir"
url="sqlite://$dir/load.db"
port=18080
base="http://127.0.0.1:$port"
"$bin/mtq-loadgen" seed --database-url "$url" --trades 0 --keys 8 > keys.txt
"$bin/mtq-trader" serve --config "$here/serve.yaml" --database-url "$url" --port "$port" \
    --pace 300 2> serve.log &
serve=$!
trap 'kill -TERM $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -sf "$base/healthz" > /dev/null && break
    sleep 0.5
done
# Into the paper session's own account: the one its API serves.
"$bin/mtq-loadgen" seed --database-url "$url" --trades 100000 --keys 0 --into-latest-account
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
for path in /api/v1/accounts/default/positions '/api/v1/accounts/default/trades?limit=100'; do
    "$bin/mtq-loadgen" http --base "$base" --keys-file keys.txt --rate 1000 --seconds 20 --path "$path"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done
"$bin/mtq-loadgen" http --base "$base" --keys-file keys.txt --rate 1000 --seconds 20 \
    --path /api/v1/accounts/default/positions --path '/api/v1/accounts/default/trades?limit=100'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/mtq-loadgen" ws --base "$base" --keys-file keys.txt --clients 100 --seconds 60 \
    --channels trades:default,quotes:default:EURUSD,quotes:default:GBPUSD,quotes:default:USDJPY,quotes:default:AUDUSD,positions:default,account:default \
    --measure trades
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "trader cycles: $(curl -s -H "Authorization: Bearer $(head -1 keys.txt)" "$base/api/v1/accounts/default" | grep -o '"cycle":[0-9]*')"
