#!/usr/bin/env python3
"""Start-up cost of `hafs --version` and `hafs --help` against bare `python -c pass`.

Usage: python scripts/bench_startup.py [--runs N]
Goal (issue 2): at most +100 ms for --version and +150 ms for --help.
Each command runs N times in alternation; the median wall time is reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "hafs --version": [sys.executable, "-m", "hafs_cli", "--version"],
    "hafs --help": [sys.executable, "-m", "hafs_cli", "--help"],
}
GOALS_MS = {"hafs --version": 100.0, "hafs --help": 150.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, argv in CASES.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append((time.perf_counter() - start) * 1000)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<18} {'median ms':>10} {'over python':>12} {'goal':>8}")
    ok = True
    for name, samples in times.items():
        med = statistics.median(samples)
        over = med - base
        goal = GOALS_MS.get(name)
        verdict = ""
        if goal is not None:
            verdict = f"<= {goal:.0f}" + (" ok" if over <= goal else " MISSED")
            ok &= over <= goal
        print(f"{name:<18} {med:>10.1f} {over:>+12.1f} {verdict:>8}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
