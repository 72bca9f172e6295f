#!/usr/bin/env python3
"""Secret scanners side by side: hafs secrets scan vs detect-secrets 1.5.0 (the peer).

Builds the corpus of tests/secrets/corpus.py (planted fake keys of every kind in
realistic files, plus benign look-alike lines), runs both tools on it in this run, and
prints recall per kind, false positives per 1,000 benign lines and wall time (a ratio).

    .venv/bin/pip install detect-secrets==1.5.0     # or: pip install -e '.[bench]'
    .venv/bin/python scripts/bench_secrets.py [--seed 7] [--per-kind 150] [--lookalikes 2500]
    .venv/bin/python scripts/bench_secrets.py --precommit [--runs 7]

--precommit instead times 'hafs hooks run pre-commit' (start-up included) on a real git
repository with a 50-file, 10,000-line staged change (Python, TOML, JSON Lines, Markdown,
YAML, .env; a few planted secrets), next to detect-secrets-hook on the same files.

A planted secret counts as found when a tool reports any finding on one of its lines;
a finding on any other line is a false positive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.secrets.corpus import ALL_KINDS, generate, score  # noqa: E402


def run_hafs(corpus: Path) -> tuple[set[tuple[str, int]], float]:
    cmd = [sys.executable, "-m", "hafs_cli", "secrets", "scan", "--no-baseline", "--only",
           "--format", "jsonl", "."]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=corpus, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"hafs failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    hits = set()
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if rec["kind"] == "finding":
            hits.add((rec["path"], rec["line"]))
    return hits, elapsed


def run_detect_secrets(corpus: Path) -> tuple[set[tuple[str, int]], float] | None:
    exe = shutil.which("detect-secrets") or str(Path(sys.executable).parent / "detect-secrets")
    if not Path(exe).exists():
        print(
            "detect-secrets not installed: .venv/bin/pip install detect-secrets==1.5.0",
            file=sys.stderr,
        )
        return None
    start = time.perf_counter()
    proc = subprocess.run(
        [exe, "scan", "--all-files", "."], cwd=corpus, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"detect-secrets failed: {proc.stderr.decode()[-2000:]}")
    results = json.loads(proc.stdout)["results"]
    hits = {(path, item["line_number"]) for path, items in results.items() for item in items}
    return hits, elapsed


def staged_change(repo: Path, files: int = 50, lines: int = 200) -> list[str]:
    """A repository whose index holds `files` new files of `lines` lines each."""
    import random

    from tests.secrets.corpus import ALNUM, github

    r = random.Random(5)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    names = []
    for i in range(files):
        ext = (".py", ".toml", ".jsonl", ".md", ".yaml", ".env")[i % 6]
        rows = []
        for j in range(lines):
            word = "".join(r.choice(ALNUM) for _ in range(24))
            if ext == ".toml":
                rows.append(f'key_{j} = "{word}"')
            elif ext == ".jsonl":
                rows.append(json.dumps({"kind": "finding", "rule": f"r{j}", "line": j + 1}))
            elif ext == ".env":
                rows.append(f"SETTING_{j}={word}")
            else:
                rows.append(f"value_{j} = compute({j}, name='{word}')  # token count {j}")
        if i % 10 == 0:
            rows[lines // 2] = f"GITHUB_TOKEN={github(r)}"
        name = f"pkg{i % 5}/f{i}{ext}"
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_text("\n".join(rows) + "\n")
        names.append(name)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    return names


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[list[float], int, float]:
    """Sorted wall times, the last exit status, and the median CPU time (user + sys, children)."""
    import resource

    times, cpu, code = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False).returncode
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return sorted(times), code, sorted(cpu)[len(cpu) // 2]


def precommit(runs: int) -> int:
    with tempfile.TemporaryDirectory(prefix="hafs-precommit-bench-") as tmp:
        repo = Path(tmp) / "repo"
        names = staged_change(repo)
        total = sum(len((repo / n).read_text().splitlines()) for n in names)
        print(f"staged change: {len(names)} files, {total} lines (5 planted tokens)")
        argv = [sys.executable, "-m", "hafs_cli", "hooks", "run", "pre-commit"]
        hafs, code, cpu = timed(argv, repo, runs)
        print(f"hafs hooks run pre-commit (toml, secrets, asm, jsonl steps): exit {code}; "
              f"wall median {hafs[len(hafs) // 2]:.3f} s, min {hafs[0]:.3f} s, max {hafs[-1]:.3f} s "
              f"over {runs} runs; CPU (user+sys, incl. git) median {cpu:.3f} s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
        hook = shutil.which("detect-secrets-hook") or str(
            Path(sys.executable).parent / "detect-secrets-hook"
        )
        if Path(hook).exists():
            ds, code, ds_cpu = timed([hook, *names], repo, runs)
            print(f"detect-secrets-hook on the same files (secrets only): exit {code}; wall median "
                  f"{ds[len(ds) // 2]:.3f} s, min {ds[0]:.3f} s; CPU median {ds_cpu:.3f} s; "
                  f"wall ratio {ds[len(ds) // 2] / hafs[len(hafs) // 2]:.1f}x, CPU ratio {ds_cpu / cpu:.1f}x")  # fmt: skip
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-kind", type=int, default=150)
    ap.add_argument("--lookalikes", type=int, default=2500)
    ap.add_argument("--precommit", action="store_true", help="time the pre-commit hook instead")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if args.precommit:
        return precommit(args.runs)
    with tempfile.TemporaryDirectory(prefix="hafs-secrets-bench-") as tmp:
        corpus = Path(tmp)
        manifest = generate(corpus, args.seed, args.per_kind, args.lookalikes)
        files = sum(1 for p in corpus.rglob("*") if p.is_file())
        print(f"corpus: {files} files, {manifest.lines_total} lines, {len(manifest.planted)} planted "
              f"secrets ({args.per_kind} per kind), {len(manifest.lookalike)} look-alike lines, seed {args.seed}")  # fmt: skip
        tools = {"hafs": run_hafs(corpus), "detect-secrets": run_detect_secrets(corpus)}
    scores = {name: (score(manifest, r[0]), r[1]) for name, r in tools.items() if r is not None}
    names = list(scores)
    print()
    print(f"{'kind':24s}" + "".join(f"{n + ' recall':>24s}" for n in names))
    for kind in ALL_KINDS:
        cells = []
        for n in names:
            found, planted = scores[n][0].recall[kind]
            cells.append(f"{found:>5d}/{planted:<5d} {100 * found / max(1, planted):6.1f}%")
        print(f"{kind:24s}" + "".join(f"{c:>24s}" for c in cells))
    print()
    for n in names:
        s, elapsed = scores[n]
        worst = min(f / max(1, p) for f, p in s.recall.values())
        print(f"{n}: lowest per-kind recall {100 * worst:.1f}%; false positives {s.false_positives} "
              f"= {s.fp_per_1000():.2f} per 1,000 benign lines ({s.benign_lines}); "
              f"{s.lookalike_false_positives} on look-alike lines = {s.lookalike_fp_per_1000():.2f} "
              f"per 1,000 ({s.lookalike_lines}); wall {elapsed:.2f} s")  # fmt: skip
    if len(names) == 2:
        print(
            f"\nwall-time ratio detect-secrets / hafs: {scores[names[1]][1] / scores[names[0]][1]:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
