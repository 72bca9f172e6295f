#!/usr/bin/env python3
"""Benchmark: `hafs backup run` against plain `restic backup` on the same data.

Both back up the same folder into their own fresh local repository with the same
excludes, host and tag, so restic does the same work; the difference is hafs's own
overhead (Python start-up, configuration, the SQLite scan, JSON parsing). Runs
alternate between the two so that machine load hits both alike; medians are compared,
for wall time and for CPU time (process and children: steadier on a shared machine).

    .venv/bin/python scripts/bench_backup.py [--files 2000] [--big 40] [--repeat 7]

Goal (issue 9): overhead <= 1.1x.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_data(root: Path, small: int, big: int) -> int:
    rng = random.Random(42)
    total = 0
    for i in range(small):
        d = root / f"dir{i % 40:02}"
        d.mkdir(parents=True, exist_ok=True)
        body = (f"line {i} " * rng.randint(20, 600)).encode()
        (d / f"note{i:05}.txt").write_bytes(body)
        total += len(body)
    for i in range(big):
        blob = rng.randbytes(1_000_000 + i)
        (root / f"blob{i:03}.bin").write_bytes(blob)
        total += len(blob)
    return total


def timed(argv: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def report(label: str, hafs: list[tuple[float, float]], restic: list[tuple[float, float]]) -> None:
    hw, rw = (statistics.median(x[0] for x in runs) for runs in (hafs, restic))
    hc, rc = (statistics.median(x[1] for x in runs) for runs in (hafs, restic))
    print(
        f"{label:<28} wall: hafs {hw:6.2f}s restic {rw:6.2f}s ratio {hw / rw:.3f}x   "
        f"CPU: hafs {hc:6.2f}s restic {rc:6.2f}s ratio {hc / rc:.3f}x (+{hc - rc:.2f}s)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=2000, help="small text files")
    ap.add_argument("--big", type=int, default=40, help="1 MB random files")
    ap.add_argument("--repeat", type=int, default=7, help="incremental runs of each")
    ap.add_argument("--first-repeat", type=int, default=3, help="first backups of each")
    args = ap.parse_args()
    if shutil.which("restic") is None:
        sys.exit("restic is not installed (apt-get install restic)")
    sys.path.insert(0, str(ROOT))
    from hafs_cli.backup.sets import resolve_sets

    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        base = Path(tmp)
        data = base / "data"
        size = make_data(data, args.files, args.big)
        pw = base / "pw"
        pw.write_text("bench password\n")
        (base / "hafs.toml").write_text(
            f'[backup]\nhost = "bench"\n[backup.repositories.default]\nurl = "{base / "repo-hafs"}"\n'
            f'password_file = "{pw}"\n[backup.sets.bench]\npaths = ["{data}"]\n'
        )
        env = {
            **os.environ,
            "HAFS_CONFIG": str(base / "hafs.toml"),
            "XDG_CACHE_HOME": str(base / "cache"),
            "XDG_STATE_HOME": str(base / "state"),
            "XDG_CONFIG_HOME": str(base / "config"),
        }
        restic_env = {
            **env,
            "RESTIC_PASSWORD_FILE": str(pw),
            "RESTIC_REPOSITORY": str(base / "repo-restic"),
        }
        bset = resolve_sets(
            {"sets": {"bench": {"paths": [str(data)]}}},
            {
                "default_excludes": [
                    ".venv",
                    ".git",
                    "__pycache__",
                    "node_modules",
                    "*.pyc",
                    ".DS_Store",
                ]
            },
        )[0]
        plain = ["restic", "backup", "-q", "--host", "bench", "--tag", bset.tag]
        for pattern in bset.restic_excludes():
            plain += ["--exclude", pattern]
        plain.append(str(data))
        hafs = [sys.executable, "-m", "hafs_cli", "backup", "run", "--format", "jsonl"]
        # Both repositories are copies of one initialised repository: the same key, so the
        # same scrypt cost (restic calibrates it at init, differently under different load).
        template_env = {**restic_env, "RESTIC_REPOSITORY": str(base / "repo-template")}
        subprocess.run(["restic", "init"], env=template_env, check=True, capture_output=True)
        first_hafs, first_restic = [], []
        for i in range(args.first_repeat):  # a first backup into a fresh repository each time
            for repo in ("repo-hafs", "repo-restic"):
                shutil.rmtree(base / repo, ignore_errors=True)
                shutil.copytree(base / "repo-template", base / repo)
            shutil.rmtree(base / "cache", ignore_errors=True)
            pair = [(first_hafs, hafs, env), (first_restic, plain, restic_env)]
            for bucket, argv, e in pair if i % 2 == 0 else reversed(pair):
                bucket.append(timed(argv, e, ROOT))
        inc_hafs, inc_restic = [], []
        for i in range(args.repeat):  # nothing changed since the last run
            pair = [(inc_hafs, hafs, env), (inc_restic, plain, restic_env)]
            for bucket, argv, e in pair if i % 2 == 0 else reversed(pair):
                bucket.append(timed(argv, e, ROOT))
        print(
            f"data: {args.files} small + {args.big} x 1 MB files, {size / 1e6:.1f} MB; "
            f"restic {restic_version()}; load average {os.getloadavg()[0]:.1f}"
        )
        report(f"first backup (median of {args.first_repeat})", first_hafs, first_restic)
        report(f"unchanged (median of {args.repeat})", inc_hafs, inc_restic)
    return 0


def restic_version() -> str:
    out = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.split()
    return out[1] if len(out) > 1 else "?"


if __name__ == "__main__":
    sys.exit(main())
