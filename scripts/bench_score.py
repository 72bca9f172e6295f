#!/usr/bin/env python3
"""Benchmark and accuracy report for `hafs score`.

    .venv/bin/python scripts/bench_score.py                # 34,500-sample campaign
    .venv/bin/python scripts/bench_score.py --samples 5000 # quicker

Measures (one process, one core): samples/s and peak memory of `hafs score` on a
generated campaign over a generated asar source tree; the near-duplicate search
against its peer, exact all-pairs Jaccard (the brute force that MinHash/LSH replaces),
as a speed ratio and the share of exact near-duplicate pairs LSH finds; and precision
and recall of the hallucination and near-duplicate flags on the labelled corpus
(tests/quality/corpus.py, seed 1, 100 routines).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "quality"))

import corpus as corpus_mod  # noqa: E402

from hafs_cli.quality import minhash  # noqa: E402
from hafs_cli.quality.samples import normalise  # noqa: E402


def campaign(n_samples: int, work: Path) -> tuple[Path, Path, Path]:
    """(tree, samples, longer samples): the generated campaign, and the same with each
    answer followed by a second one (about twice the words)."""
    routines = min(3000, max(100, n_samples // 11))
    per = max(1, round(n_samples / routines / 1.07))
    c = corpus_mod.build(seed=7, n_routines=routines, per_routine=per)
    samples = c.samples[:n_samples]
    longer = [
        {**s, "output": s["output"] + " " + c.samples[(i * 7919) % len(c.samples)]["output"]}
        for i, s in enumerate(samples)
    ]
    tree = c.write_tree(work / "src")
    paths = []
    for name, recs in (("samples.jsonl", samples), ("samples-long.jsonl", longer)):
        path = work / name
        path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in recs))
        paths.append(path)
    return tree, paths[0], paths[1]


def run_score(samples: Path, tree: Path, out: Path) -> tuple[float, float, int, int]:
    """(wall s, CPU s, samples, peak RSS KiB) of one `hafs score` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with out.open("wb") as fh:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "hafs_cli",
                "score",
                str(samples),
                "--source-root",
                str(tree),
                "--only",
            ],
            stdout=fh,
            check=True,
            cwd=out.parent,
        )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    n = sum(1 for _ in out.open("rb"))
    return elapsed, cpu, n, after.ru_maxrss


def near_dup_peer(samples: Path, limit: int, threshold: float) -> dict:
    """LSH (as hafs uses it) against exact all-pairs Jaccard on the first `limit` samples."""
    texts = []
    for line in samples.open("rb"):
        texts.append(normalise(orjson.loads(line)).response)
        if len(texts) >= limit:
            break
    hasher = minhash.WordHasher()
    sh = [minhash.shingles(minhash.normalise_text(t), 3, hasher) for t in texts]
    t0 = time.perf_counter()
    sets = [set(s) for s in sh]
    exact = set()
    for i, j in itertools.combinations(range(len(sets)), 2):
        inter = len(sets[i] & sets[j])
        if inter / (len(sets[i]) + len(sets[j]) - inter) >= threshold:
            exact.add((i, j))
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = minhash.LSHIndex(128, 32)
    keys = [index.keys(minhash.sketch(s, 128)) for s in sh]
    for i, k in enumerate(keys):
        index.add(i, k)
    found = set()
    for i, k in enumerate(keys):
        own = set(sh[i])
        for j in index.best_candidates(k, 16):
            if j > i and minhash.jaccard_with(own, sh[i], sh[j]) >= threshold:
                found.add((i, j))
    t_lsh = time.perf_counter() - t0
    return {
        "n": len(texts),
        "exact_pairs": len(exact),
        "lsh_pairs": len(found & exact),
        "recall": len(found & exact) / len(exact) if exact else 1.0,
        "t_exact": t_exact,
        "t_lsh": t_lsh,
    }


def edit_sensitivity(threshold: float = 0.6) -> list[tuple[float, float]]:
    """Share of copies still flagged when a fraction of their words is replaced at random."""
    import random

    c = corpus_mod.build(seed=1, n_routines=100)
    texts = [
        s["output"]
        for s in c.samples
        if not s["truth"]["halluc"] and not s["truth"]["duplicate_of"]
    ]
    hasher = minhash.WordHasher()
    vocab = sorted({w for t in texts for w in t.split()})
    rng = random.Random(0)
    out = []
    for p in (0.02, 0.05, 0.08, 0.10, 0.15, 0.20):
        flagged = 0
        for t in texts:
            edited = " ".join(rng.choice(vocab) if rng.random() < p else w for w in t.split())
            a = minhash.shingles(minhash.normalise_text(t), 3, hasher)
            b = minhash.shingles(minhash.normalise_text(edited), 3, hasher)
            flagged += minhash.jaccard(a, b) >= threshold
        out.append((p, flagged / len(texts)))
    return out


def accuracy(work: Path) -> dict:
    c = corpus_mod.build(seed=1, n_routines=100)
    tree = c.write_tree(work / "acc-src")
    path = work / "acc.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in c.samples))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hafs_cli",
            "score",
            str(path),
            "--source-root",
            str(tree),
            "--only",
        ],
        capture_output=True,
        check=True,
        cwd=work,
    ).stdout
    scores = [orjson.loads(x) for x in out.splitlines()]
    counts = corpus_mod.evaluate(scores, c.samples)
    return {
        "samples": len(scores),
        **counts,
        "positives": sum(s["truth"]["halluc"] for s in c.samples),
        "duplicates": sum(s["truth"]["duplicate_of"] is not None for s in c.samples),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=34_500)
    ap.add_argument("--peer-samples", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tree, samples, longer = campaign(args.samples, work)
        for path in (samples, longer):
            outputs = [orjson.loads(x)["output"] for x in path.open("rb")]
            words = sum(len(o.split()) for o in outputs) / len(outputs)
            elapsed, cpu, n, peak = run_score(path, tree, work / "scores.jsonl")
            print(
                f"hafs score: {n} samples (~{words:.0f} words each) in {elapsed:.2f} s wall = "
                f"{n / elapsed:,.0f} samples/s; {cpu:.2f} s CPU = {n / cpu:,.0f} samples/s per core; "
                f"peak RSS {peak / 1024:.0f} MiB; load average {os.getloadavg()[0]:.1f}"
            )
        peer = near_dup_peer(samples, args.peer_samples, 0.6)
        print(
            f"near-duplicates on {peer['n']} samples: exact all-pairs {peer['t_exact']:.2f} s, "
            f"MinHash/LSH {peer['t_lsh']:.2f} s (x{peer['t_exact'] / peer['t_lsh']:.1f}); "
            f"LSH found {peer['lsh_pairs']} of {peer['exact_pairs']} exact pairs >= 0.6 (recall {peer['recall']:.4f})"
        )
        curve = ", ".join(f"{p:.0%}: {share:.0%}" for p, share in edit_sensitivity())
        print(f"copies flagged at dup_threshold 0.6 by share of words replaced: {curve}")
        acc = accuracy(work)
        print(
            f"labelled corpus: {acc['samples']} samples, {acc['positives']} hallucinated, {acc['duplicates']} near-duplicate copies"
        )
        for name in ("halluc", "near_duplicate"):
            a = acc[name]
            print(
                f"  {name}: precision {a['precision']:.4f} recall {a['recall']:.4f} (tp {a['tp']} fp {a['fp']} fn {a['fn']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
