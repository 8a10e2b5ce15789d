#!/usr/bin/env python3
"""Export the EURUSD H1 series shipped in the `backtesting` PyPI package to an MTQ CSV.

    pip install -r scripts/requirements-ml-data.txt
    python3 scripts/export_eurusd.py /tmp/EURUSD_H1.csv
    export MTQ_TEST_EURUSD_CSV=/tmp/EURUSD_H1.csv

The series (5,000 hourly bars, April 2017 to February 2018) is the package's own test data and
shares its AGPL-3.0 licence, so MTQ never commits it: the ML walk-forward test
(crates/mtq-backtest/tests/ml_eurusd.rs) reads the file this script writes, at test time.
Only the Python standard library is used; the package is not imported (it pulls numpy, pandas
and bokeh), its data file is found through the installed distribution's file list.
"""

import csv
import sys
from importlib import metadata

PINNED = "0.6.6"


def source_path():
    try:
        dist = metadata.distribution("backtesting")
    except metadata.PackageNotFoundError:
        sys.exit(
            "the `backtesting` package is not installed: "
            "pip install -r scripts/requirements-ml-data.txt"
        )
    if dist.version != PINNED:
        print(
            f"warning: backtesting {dist.version} installed, the test was written against "
            f"{PINNED}",
            file=sys.stderr,
        )
    for f in dist.files or []:
        if str(f).replace("\\", "/").endswith("backtesting/test/EURUSD.csv"):
            return dist.locate_file(f)
    sys.exit(f"backtesting {dist.version} ships no backtesting/test/EURUSD.csv")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export_eurusd.py OUT.csv")
    rows = 0
    with open(source_path(), newline="") as src, open(sys.argv[1], "w", newline="") as out:
        reader = csv.reader(src)
        header = next(reader)
        if [h.strip().lower() for h in header[1:6]] != ["open", "high", "low", "close", "volume"]:
            sys.exit(f"unexpected header in the package's EURUSD.csv: {header}")
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["time", "open", "high", "low", "close", "volume"])
        for r in reader:
            w.writerow(r[:6])
            rows += 1
    print(f"{rows} EURUSD H1 bars written to {sys.argv[1]}")


if __name__ == "__main__":
    main()
