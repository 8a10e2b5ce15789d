#!/usr/bin/env python3
"""MTQ beside backtesting.py and vectorbt on one trade-heavy workload (issue 21).

The workload: N H1 bars (1,000,000 by default, every hour from 1900) of a seeded, mean-reverting random
walk of EURUSD around 1.10 (five-digit prices), SMA 10/20 crossover, always in the market (a
reversal on every cross), all-in sizing in whole units, no spread, no commission, fills at the next
bar's open. MTQ runs with the Python-parity settings of docs/backtesting.md:

    mtq-trader backtest --data FILE --symbol EURUSD --symbol-spec unit_eurusd.yaml \
        --strategy crossover --param fast_period=10 --param slow_period=20 \
        --param sl_pips=5000 --param tp_pips=0 --sizing equity:1.0 --leverage 1 \
        --spread-points 0 --commission-rate 0

The script writes the CSV and the symbol spec into --work, runs MTQ twice (the first run parses
the CSV and writes the binary cache; the second, timed one reads the cache), then backtesting.py
and vectorbt when they are installed (`pip install -r scripts/requirements-peers.txt`), checks
that the trade counts agree within 2%, and prints the table. Times are wall clock of one run each:
the whole process for all three (Python's imports included), and the simulation alone where the
tool reports it (MTQ's "backtested in"; vectorbt's `Portfolio.from_signals` after a warm-up call
that compiles its functions; backtesting.py's `Backtest.run`).

Usage: python3 scripts/compare_peers.py --mtq target/release/mtq-trader [--bars N] [--work DIR]
Exit status 1 when a trade count differs by more than 2% or a run fails.
"""

import argparse
import os
import re
import subprocess
import sys
import time

FAST, SLOW = 10, 20
SEED = 21

SPEC = """# EURUSD in single units, as the Python libraries trade it (written by compare_peers.py).
EURUSD:
  contract_size: 1
  volume_min: 1
  volume_step: 1
  volume_max: 1000000000
  stops_level: 0
  swap_long: 0
  swap_short: 0
"""


def make_bars(n):
    """The workload's bars as numpy arrays: epoch seconds and OHLC on the 5-digit grid."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    # log-price: AR(1) toward log(1.10), 5 pips of noise an hour; it stays within about 1.0-1.2,
    # so the far stop (5000 pips) never triggers and every exit is a signal.
    eps = rng.normal(0.0, 0.0005, n + 1)
    x = np.empty(n + 1)
    x[0] = 0.0
    phi = 0.9999
    for i in range(1, n + 1):  # pure Python: ~1 s for 1M bars, once
        x[i] = phi * x[i - 1] + eps[i]
    px = 1.10 * np.exp(x)
    open_ = px[:-1]
    close = px[1:]
    wiggle = np.abs(rng.normal(0.0, 0.0003, (2, n)))
    high = np.maximum(open_, close) + wiggle[0]
    low = np.minimum(open_, close) - wiggle[1]
    o, h, l, c = (np.round(a, 5) for a in (open_, high, low, close))
    h = np.maximum(h, np.maximum(o, c))
    l = np.minimum(l, np.minimum(o, c))
    # Every hour from 1900-01-01 00:00 UTC (1M bars end in 2014): weekdays only would reach back
    # before 1883, where the trading day's time zone has no standard offset yet, or into the
    # future, which MTQ refuses.
    times = -2208988800 + np.arange(n, dtype=np.int64) * 3600
    return times, o, h, l, c


def write_csv(path, times, o, h, l, c):
    import numpy as np

    # ISO times: the series starts before 1970, and MTQ reads only non-negative epoch seconds.
    iso = np.datetime_as_string(times.astype("datetime64[s]"), unit="s")
    with open(path, "w") as f:
        f.write("time,open,high,low,close\n")
        for row in zip(iso, o, h, l, c):
            f.write("%s,%.5f,%.5f,%.5f,%.5f\n" % row)


def run_mtq(exe, csv, spec):
    cmd = [exe, "backtest", "--data", csv, "--symbol", "EURUSD", "--symbol-spec", spec,
           "--strategy", "crossover", "--param", f"fast_period={FAST}",
           "--param", f"slow_period={SLOW}", "--param", "sl_pips=5000", "--param", "tp_pips=0",
           "--sizing", "equity:1.0", "--leverage", "1", "--spread-points", "0",
           "--commission-rate", "0"]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"mtq-trader failed ({out.returncode}):\n{out.stderr}")
    trades = re.search(r"^\s*trades\s+(\d+)", out.stdout, re.M | re.I)
    sim = re.search(r"loaded in ([\d.]+) s, backtested in ([\d.]+) s", out.stdout)
    if not trades or not sim:
        sys.exit(f"unexpected mtq-trader output:\n{out.stdout}")
    return {"wall": wall, "sim": float(sim.group(2)), "load": float(sim.group(1)),
            "trades": int(trades.group(1)), "cmd": " ".join(cmd)}


PEER_BT = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np, pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
df = pd.read_csv(sys.argv[1], index_col=0, parse_dates=True)
df.columns = ["Open", "High", "Low", "Close"]
def sma(v, n):
    return pd.Series(v).rolling(n).mean().to_numpy()
class SmaCross(Strategy):
    def init(self):
        self.f = self.I(sma, self.data.Close, %(fast)d)
        self.s = self.I(sma, self.data.Close, %(slow)d)
    def next(self):
        if crossover(self.f, self.s):
            self.position.close(); self.buy()
        elif crossover(self.s, self.f):
            self.position.close(); self.sell()
bt = Backtest(df, SmaCross, cash=10_000, commission=0, trade_on_close=False,
              exclusive_orders=False, finalize_trades=True)
t1 = time.perf_counter()
st = bt.run()
t2 = time.perf_counter()
print("RESULT", len(st._trades), t2 - t1)
""" % {"fast": FAST, "slow": SLOW}

PEER_VBT = r"""
import sys, time
import numpy as np, pandas as pd
import vectorbt as vbt
df = pd.read_csv(sys.argv[1], index_col=0, parse_dates=True)
o, c = df["open"], df["close"]
f = c.rolling(%(fast)d).mean(); s = c.rolling(%(slow)d).mean()
up = (f > s) & (f.shift(1) <= s.shift(1)); dn = (f < s) & (f.shift(1) >= s.shift(1))
# Signals on a bar's close, filled at the next bar's open, all in, reversing on every cross.
entries, exits, price = up.shift(1, fill_value=False), dn.shift(1, fill_value=False), o
def run():
    return vbt.Portfolio.from_signals(c, entries=entries, short_entries=exits, price=price,
                                      size=np.inf, init_cash=10_000, fees=0.0, freq="1h")
run()  # compiles (numba JIT) once: excluded from the simulation time
t1 = time.perf_counter()
pf = run()
t2 = time.perf_counter()
print("RESULT", int(pf.trades.count()), t2 - t1)  # the trade records are built lazily, untimed
""" % {"fast": FAST, "slow": SLOW}


def run_peer(name, code, csv, python):
    t = time.perf_counter()
    out = subprocess.run([python, "-c", code, csv], capture_output=True, text=True)
    wall = time.perf_counter() - t
    m = re.search(r"^RESULT (\d+) ([\d.e-]+)", out.stdout, re.M)
    if out.returncode != 0 or not m:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        if any("ModuleNotFoundError" in x for x in tail):
            print(f"{name}: not installed (pip install -r scripts/requirements-peers.txt)")
            return None
        sys.exit(f"{name} failed:\n" + "\n".join(tail))
    return {"wall": wall, "sim": float(m.group(2)), "trades": int(m.group(1))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mtq", required=True, help="the mtq-trader binary (a release build)")
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--work", default="/tmp/mtq-compare-peers")
    ap.add_argument("--python", default=sys.executable, help="the Python that has the peers")
    ap.add_argument("--skip", action="append", default=[], choices=["backtesting", "vectorbt"])
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    csv = os.path.join(a.work, f"eurusd_h1_{a.bars}.csv")
    spec = os.path.join(a.work, "unit_eurusd.yaml")
    with open(spec, "w") as f:
        f.write(SPEC)
    if not os.path.exists(csv):
        write_csv(csv, *make_bars(a.bars))
    run_mtq(a.mtq, csv, spec)  # parses the CSV and writes the binary cache (or finds it)
    rows = [("MTQ (binary cache warm)", run_mtq(a.mtq, csv, spec))]
    for name, code in (("backtesting", PEER_BT), ("vectorbt", PEER_VBT)):
        if name in a.skip:
            continue
        r = run_peer(name, code, csv, a.python)
        if r:
            label = {"backtesting": "backtesting.py (Backtest.run)",
                     "vectorbt": "vectorbt (Portfolio.from_signals)"}[name]
            rows.append((label, r))
    mtq = rows[0][1]
    print(f"\n{a.bars} H1 bars, SMA {FAST}/{SLOW} crossover, always in the market")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| | trades | whole process | simulation only | MTQ whole process faster by | MTQ simulation faster by |")
    print("| --- | --- | --- | --- | --- | --- |")
    ok = True
    for label, r in rows:
        same = label.startswith("MTQ")
        whole = "—" if same else "%.1fx" % (r["wall"] / mtq["wall"])
        sim = "—" if same else "%.1fx" % (r["sim"] / mtq["sim"])
        print(f"| {label} | {r['trades']} | {r['wall']:.3f} s | {r['sim']:.3f} s | {whole} | {sim} |")
        if abs(r["trades"] - mtq["trades"]) > 0.02 * mtq["trades"]:
            ok = False
            print(f"  trade count differs from MTQ's by more than 2%: {r['trades']} vs {mtq['trades']}")
    print(f"\nMTQ: loaded (binary cache) in {mtq['load']:.3f} s\ncommand: {mtq['cmd']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
