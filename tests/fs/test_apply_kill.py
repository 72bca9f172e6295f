"""Fault injection: SIGKILL `hafs apply` (and `--undo`) at random points.

After every kill each file is either untouched or fully processed with its intent in the
journal, and undo then restores the tree byte-identical (content, mode, mtime, names).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import orjson
import pytest

from hafs_cli.paths import record_path

from .conftest import REPO, blob, snapshot, write

FILES = 40  # 20 groups of two copies each
TRIALS = 10


def make_tree(root: bytes) -> None:
    if os.path.exists(root):
        shutil.rmtree(root)
    for g in range(FILES // 2):
        data = blob(100 + g, 3000 + 997 * g)
        for copy in range(2):
            p = write(os.path.join(root, b"g%02d" % g, b"copy %d.bin" % copy), data)
            os.utime(p, ns=(1_000_000_000 * (g + 1), 1_000_000_000 * (g + 1 + copy)))


def hafs_proc(args: list[str], stdin=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "hafs_cli", *args],
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def intents(journal: str) -> list[dict]:
    try:
        with open(journal, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n"):
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # torn last line
        if entry.get("op") == "intent":
            out.append(entry)
    return out


def kill_after_intents(proc: subprocess.Popen, journal: str, n: int, rng: random.Random) -> None:
    """SIGKILL once the journal holds n intents (plus a random few hundred microseconds)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if len(intents(journal)) >= n:
            time.sleep(rng.uniform(0, 0.004))
            break
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def check_each_file_untouched_or_done(before: dict, root: bytes, journal: str, mode: str) -> int:
    """Assert the invariant after a kill; return how many files were processed."""
    now = snapshot(root)
    by_path = {record_path(e): e for e in intents(journal)}
    processed = 0
    for path, entry in before.items():
        if entry[0] != "file" or now.get(path) == entry:
            continue
        intent = by_path.get(path)
        assert intent is not None, f"{path!r} changed without a journal intent"
        if mode == "trash":
            assert path not in now, f"{path!r} changed in place"
            with open(record_path(intent, "dest"), "rb") as fh:
                assert fh.read() == entry[3]
        else:
            keeper = record_path(intent, "keeper")
            if mode == "hardlink":
                assert os.path.samestat(os.lstat(path), os.lstat(keeper))
            else:
                assert os.readlink(path) == keeper
            with open(path, "rb") as fh:
                assert fh.read() == entry[3]
        processed += 1
    return processed


@pytest.mark.parametrize("mode", ["trash", "hardlink", "symlink"])
def test_kill_9_at_random_points_then_undo_restores_everything(hafs, tmp_path, mode):
    rng = random.Random(f"hafs-{mode}")
    root = os.fsencode(tmp_path / "tree")
    make_tree(root)
    r = hafs(
        "dedup", os.fsdecode(root), "--only", "--suggest", mode, "--no-cache", "--format", "jsonl"
    )
    actions = [rec for rec in r.records if rec["kind"] == "action"]
    assert len(actions) == FILES // 2
    actions_file = tmp_path / "actions.jsonl"
    actions_file.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in actions))
    processed_counts = []
    for trial in range(TRIALS):
        make_tree(root)
        before = snapshot(root)
        journal = str(tmp_path / f"journal-{trial}.jsonl")
        with open(actions_file, "rb") as stdin:
            proc = hafs_proc(["apply", "--yes", "--journal", journal], stdin=stdin)
            kill_after_intents(proc, journal, rng.randint(1, len(actions) - 1), rng)
        processed_counts.append(check_each_file_untouched_or_done(before, root, journal, mode))
        if trial % 2:  # also kill the undo part-way, then finish it
            undo = hafs_proc(["apply", "--undo", journal])
            time.sleep(rng.uniform(0.05, 0.4))
            undo.send_signal(signal.SIGKILL)
            undo.wait()
        finish = hafs_proc(["apply", "--undo", journal])
        _, err = finish.communicate(timeout=120)
        assert finish.returncode == 0, err
        assert snapshot(root) == before, f"trial {trial}: undo did not restore the tree"
    # The kills landed part-way, not only before the first or after the last action.
    assert any(0 < n < len(actions) for n in processed_counts), processed_counts
