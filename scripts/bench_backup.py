#!/usr/bin/env python3
"""Benchmark: `hafs backup run` against plain `restic backup` on the same data.

Both back up the same folder into their own fresh local repository with the same
excludes, host and tag, so restic does the same work; the difference is hafs's own
overhead (Python start-up, configuration, the SQLite scan, JSON parsing). Runs
alternate between the two so that machine load hits both alike; medians are compared.

    .venv/bin/python scripts/bench_backup.py [--files 2000] [--big 40] [--repeat 5]

Goal (issue 9): overhead <= 1.1x.
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


def timed(argv: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr.decode(errors='replace')}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=2000, help="small text files")
    ap.add_argument("--big", type=int, default=40, help="1 MB random files")
    ap.add_argument("--repeat", type=int, default=5, help="incremental runs of each")
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
        subprocess.run(
            [*hafs[:-4], "backup", "init"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        subprocess.run(["restic", "init"], env=restic_env, check=True, capture_output=True)

        first_hafs = timed(hafs, env, ROOT)
        first_restic = timed(plain, restic_env, ROOT)
        inc_hafs, inc_restic = [], []
        for i in range(args.repeat):
            pair = [(inc_hafs, hafs, env), (inc_restic, plain, restic_env)]
            for bucket, argv, e in pair if i % 2 == 0 else reversed(pair):
                bucket.append(timed(argv, e, ROOT))
        med_hafs, med_restic = statistics.median(inc_hafs), statistics.median(inc_restic)
        print(
            f"data: {args.files} small + {args.big} x 1 MB files, {size / 1e6:.1f} MB; restic {restic_version()}"
        )
        print(
            f"first backup      hafs {first_hafs:6.2f}s  restic {first_restic:6.2f}s  ratio {first_hafs / first_restic:.3f}x"
        )
        print(
            f"unchanged (median of {args.repeat}) hafs {med_hafs:6.2f}s  restic {med_restic:6.2f}s  "
            f"ratio {med_hafs / med_restic:.3f}x  (+{med_hafs - med_restic:.2f}s)"
        )
    return 0


def restic_version() -> str:
    out = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.split()
    return out[1] if len(out) > 1 else "?"


if __name__ == "__main__":
    sys.exit(main())
