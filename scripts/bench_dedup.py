#!/usr/bin/env python3
"""Benchmark hafs scan/dedup against find and jdupes on one tree, in the same run.

Usage: python scripts/bench_dedup.py DIR [--repeat N] [--jobs N] [--generate FILES,MEAN_KIB]

Warms the page cache, then times (median of N, interleaved so load hits both alike;
wall-clock and CPU time, user+system, of each command and its children):
  find DIR -printf '%p %s %T@ %i\\n'   vs  hafs scan DIR
  jdupes -r DIR                        vs  hafs scan DIR | hafs dedup   (empty hash cache)
  jdupes -r DIR                        vs  the same pipeline again      (warm hash cache)
  jdupes -r DIR                        vs  hafs dedup DIR, first and again (one command)
and the peak memory (max RSS) of each hafs process. Then checks that the duplicate
groups are exactly jdupes's (compared as sets of files by device and inode, so it does
not matter which name of a hard-linked file each tool prints).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hafs_cli.paths import record_path  # noqa: E402

HAFS = [sys.executable, "-m", "hafs_cli"]
TIME = "/usr/bin/time"
# Run from a neutral directory: a hafs.toml in the working directory (this repository has
# one, the documented example) would be loaded and validated on every start.
CWD = tempfile.gettempdir()


def _usage(fh) -> tuple[float, int]:
    """(CPU seconds user+system, peak RSS KiB) from a `time -f '%U %S %M'` file."""
    user, system, rss = fh.read().split()[-3:]
    return float(user) + float(system), int(rss)


def timed(argv: list[str], stdout=subprocess.DEVNULL, env=None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one command and its children."""
    with tempfile.NamedTemporaryFile("r") as usage:
        t = time.perf_counter()
        subprocess.run(
            [TIME, "-f", "%U %S %M", "-o", usage.name, *argv],
            stdout=stdout,
            env=env,
            cwd=CWD,
            check=False,  # find, jdupes and hafs report unreadable files and go on
        )
        wall = time.perf_counter() - t
        cpu, rss = _usage(usage)
    return wall, cpu, rss


def pipeline(tree: str, env: dict, jobs: list[str], out) -> tuple[float, float, int]:
    """hafs scan | hafs dedup: (wall seconds, CPU seconds, peak RSS of dedup in KiB)."""
    with tempfile.NamedTemporaryFile("r") as u1, tempfile.NamedTemporaryFile("r") as u2:
        t = time.perf_counter()
        scan = subprocess.Popen(
            [TIME, "-f", "%U %S %M", "-o", u1.name, *HAFS, "scan", tree, *jobs],
            stdout=subprocess.PIPE,
            env=env,
            cwd=CWD,
        )
        dedup = subprocess.Popen(
            [TIME, "-f", "%U %S %M", "-o", u2.name, *HAFS, "dedup", *jobs],
            stdin=scan.stdout,
            stdout=out,
            env=env,
            cwd=CWD,
        )
        scan.stdout.close()
        dedup.wait()
        scan.wait()
        wall = time.perf_counter() - t
        # 2 = some error records (a file vanished or was unreadable): reported, not fatal
        if scan.returncode not in (0, 2) or dedup.returncode not in (0, 2):
            raise SystemExit(f"hafs failed: scan {scan.returncode}, dedup {dedup.returncode}")
        cpu1, _ = _usage(u1)
        cpu2, rss = _usage(u2)
        return wall, cpu1 + cpu2, rss


def inode_groups(groups) -> set[frozenset]:
    out = set()
    for g in groups:
        ids = set()
        for p in g:
            try:
                st = os.lstat(p)
            except OSError:
                continue
            ids.add((st.st_dev, st.st_ino))
        if len(ids) > 1:
            out.add(frozenset(ids))
    return out


def parse_jdupes(data: bytes) -> list[set[bytes]]:
    """Groups from `jdupes -0` output (names end in NUL, groups end in an extra NUL)."""
    groups, current = [], set()
    for item in data.split(b"\0"):
        if item == b"":
            if current:
                groups.append(current)
            current = set()
        else:
            current.add(item)
    if current:
        groups.append(current)
    return groups


def hafs_groups(data: bytes) -> list[set[bytes]]:
    groups = []
    for line in data.splitlines():
        rec = orjson.loads(line)
        if rec.get("kind") == "dupgroup":
            groups.append({record_path(m) for m in rec["members"]})
    return groups


def generate(root: Path, files: int, mean_kib: int, seed: int = 7) -> None:
    """A photo-library-like tree: a third of the files copied once or twice elsewhere."""
    import random

    rng = random.Random(seed)
    originals = []
    for i in range(files):
        size = max(1, int(rng.expovariate(1 / (mean_kib * 1024))))
        path = root / f"library/{i % 50:02d}/IMG_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        originals.append(path)
    for n, src in enumerate(rng.sample(originals, files // 3)):
        for copy in range(1 + n % 2):
            dest = root / f"backup-{copy}/{src.parent.name}/{src.name}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=0, help="hafs -j (0 = one per CPU)")
    ap.add_argument(
        "--generate",
        metavar="FILES,MEAN_KIB",
        help="first create a photo-library-like tree in TREE (e.g. 1500,1024)",
    )
    args = ap.parse_args()
    if args.generate:
        count, mean = (int(x) for x in args.generate.split(","))
        generate(Path(args.tree), count, mean)
    if not shutil.which("jdupes"):
        raise SystemExit("jdupes is not installed (Debian package jdupes)")
    tree = os.path.abspath(args.tree)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    work = Path(tempfile.mkdtemp(prefix="hafs-bench-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(work / "cache"))
    env.pop("HAFS_CONFIG", None)
    # Some CI shells export PYTHONUNBUFFERED=1; people's shells do not: measure hafs as
    # they would run it.
    env.pop("PYTHONUNBUFFERED", None)

    print(f"tree: {tree}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.2f}", flush=True)
    # warm the page cache for metadata and for the content both tools read
    subprocess.run(["find", tree, "-printf", ""], check=False)
    subprocess.run(["jdupes", "-r", "-q", tree], stdout=subprocess.DEVNULL, check=False)
    subprocess.run([*HAFS, "scan", tree], stdout=subprocess.DEVNULL, env=env, check=False)

    names = ("find", "scan", "jdupes", "first", "rescan", "dir-first", "dir-rescan")
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in wall}
    rss: dict[str, list[int]] = {k: [] for k in ("scan", "first", "rescan")}
    jd_out = work / "jdupes.out"
    hafs_out = work / "hafs.out"

    def record(name: str, measured: tuple) -> None:
        wall[name].append(measured[0])
        cpu[name].append(measured[1])
        if name in rss:
            rss[name].append(measured[2])

    for i in range(args.repeat):
        record("find", timed(["find", tree, "-printf", "%p %s %T@ %i\\n"]))
        record("scan", timed([*HAFS, "scan", tree, *jobs], env=env))
        with open(jd_out, "wb") as fh:
            record("jdupes", timed(["jdupes", "-r", "-q", "-0", tree], stdout=fh))
        shutil.rmtree(work / "cache", ignore_errors=True)
        with open(hafs_out, "wb") as fh:
            record("first", pipeline(tree, env, jobs, fh))
        time.sleep(1.1)  # let the newest files leave the hash cache's racy window
        with open(hafs_out, "wb") as fh:
            record("rescan", pipeline(tree, env, jobs, fh))
        # the same in one command: hafs dedup DIR walks as scan does
        shutil.rmtree(work / "cache", ignore_errors=True)
        record("dir-first", timed([*HAFS, "dedup", tree, *jobs], env=env))
        time.sleep(1.1)
        record("dir-rescan", timed([*HAFS, "dedup", tree, *jobs], env=env))
        print(
            f"  round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in wall.items()),
            flush=True,
        )

    w = {k: statistics.median(v) for k, v in wall.items()}
    c = {k: statistics.median(v) for k, v in cpu.items()}
    print()
    print(
        f"{'median of ' + str(args.repeat):34} {'hafs':>8} {'peer':>8} {'wall':>6} {'cpu':>6}  goal"
    )
    rows = [
        ("scan vs find -printf", "scan", "find", "<= 1.2"),
        ("scan|dedup first run vs jdupes -r", "first", "jdupes", "<= 1.0"),
        ("scan|dedup rescan vs jdupes -r", "rescan", "jdupes", "<= 0.4"),
        ("dedup DIR first run vs jdupes -r", "dir-first", "jdupes", "(one command)"),
        ("dedup DIR rescan vs jdupes -r", "dir-rescan", "jdupes", "(one command)"),
    ]
    for name, ours, peer, goal in rows:
        print(
            f"{name:34} {w[ours]:7.2f}s {w[peer]:7.2f}s {w[ours] / w[peer]:5.2f}x "
            + (f"{c[ours] / c[peer]:5.2f}x" if c[peer] else "  n/a ")
            + (f"  {goal} (wall)" if goal.startswith("<") else f"  {goal}")
        )
    print(
        f"peak RSS: scan {max(rss['scan']) / 1024:.0f} MiB, dedup first run "
        f"{max(rss['first']) / 1024:.0f} MiB, rescan {max(rss['rescan']) / 1024:.0f} MiB"
        " (goal <= 300 MiB)"
    )
    theirs = inode_groups(parse_jdupes(jd_out.read_bytes()))
    ours = inode_groups(hafs_groups(hafs_out.read_bytes()))
    same = theirs == ours
    print(
        f"groups: hafs {len(ours)}, jdupes {len(theirs)}; identical: {same}"
        + ("" if same else f" (only hafs: {len(ours - theirs)}, only jdupes: {len(theirs - ours)})")
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
