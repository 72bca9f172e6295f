#!/usr/bin/env python3
"""Benchmark `hafs sync` against plain `rsync -a` over the same loopback OpenSSH server.

Both push the same generated tree to a fresh directory (first run), then again with
nothing changed (no-change run). hafs is timed as a user runs it: a new process
(`python -m hafs_cli sync PROFILE`), JSON Lines to a pipe that is read and discarded.

    .venv/bin/python scripts/bench_sync.py                 # 10,000 files, 3 rounds
    .venv/bin/python scripts/bench_sync.py --files 100000  # the issue's size
    .venv/bin/python scripts/bench_sync.py --direction both  # two-way mode (manifest, hashing)

Goals (issue 8): first run <= 1.2x rsync, no-change run <= 1.5x rsync.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.sshd import start_sshd  # noqa: E402


def make_tree(root: Path, files: int, seed: int = 8) -> int:
    """`files` small files, 100 per directory, 3 levels deep; returns the total bytes."""
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        d = root / f"d{i // 10000:02d}" / f"e{(i // 100) % 100:02d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        size = rng.randint(64, 4096)
        (d / f"file{i:06d}.dat").write_bytes(rng.randbytes(size))
        total += size
    return total


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    os.sync()  # no writeback of an earlier run's files during this one
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=10_000, help="files in the tree (issue: 100000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument("--direction", choices=["push", "both"], default="push")
    parser.add_argument("--transport", choices=["rsync", "sftp"], default="rsync")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hafs-bench-sync-"))
    try:
        src = work / "src"
        src.mkdir()
        t0 = time.perf_counter()
        total = make_tree(src, args.files)
        print(
            f"tree: {args.files} files, {total / 1e6:.1f} MB (made in {time.perf_counter() - t0:.1f}s)"
        )
        env = dict(os.environ)
        for var in ("CONFIG", "CACHE", "STATE", "DATA"):
            env[f"XDG_{var}_HOME"] = str(work / "xdg" / var.lower())
        with start_sshd(work / "sshd") as server:
            cwd = work / "cwd"
            cwd.mkdir()
            dst_rsync = work / "dst-rsync"
            dst_hafs = work / "dst-hafs"
            (cwd / "hafs.toml").write_text(
                f'[hosts.bench]\naddress = "{server.alias}"\nssh_config = "{server.ssh_config}"\n'
                f'transport = "{args.transport}"\n\n'
                f'[sync.profiles.bench]\nlocal = "{src}"\nremote = "bench:{dst_hafs}"\n'
                f'direction = "{args.direction}"\n'
            )
            rsync_argv = [
                "rsync",
                "-a",
                "-e",
                server.rsh,
                f"{src}/",
                f"{server.alias}:{dst_rsync}/",
            ]
            hafs_argv = [sys.executable, "-m", "hafs_cli", "sync", "bench", "--format", "jsonl"]
            results: dict[str, list[float]] = {
                k: [] for k in ("rsync1", "rsync0", "hafs1", "hafs0")
            }
            subprocess.run(["find", str(src)], capture_output=True)  # same warm cache for both
            for n in range(args.rounds):
                for d in (dst_rsync, dst_hafs):
                    shutil.rmtree(d, ignore_errors=True)
                shutil.rmtree(work / "xdg" / "state", ignore_errors=True)  # no manifest
                # alternate who goes first, so neither always meets the colder machine
                order = [("rsync", rsync_argv), ("hafs", hafs_argv)][:: 1 if n % 2 == 0 else -1]
                for mark in ("1", "0"):  # first run, then the no-change run
                    for name, argv in order:
                        results[name + mark].append(timed(argv, cwd, env))
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"direction={args.direction} transport={args.transport} rounds={args.rounds}")
        for key, values in results.items():
            print(f"  {key}: " + " ".join(f"{v:.2f}" for v in values))
        print(f"{'run':<12}{'rsync -a':>12}{'hafs sync':>12}{'ratio':>8}")
        for label, key in (("first", "1"), ("no-change", "0")):
            r, h = med[f"rsync{key}"], med[f"hafs{key}"]
            print(f"{label:<12}{r:>11.2f}s{h:>11.2f}s{h / r:>7.2f}x")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
