"""A generated tree with a planted case for every rule, and a negative twin for each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hafs_cli.schemas import validate_record

from .conftest import (
    NOW_ARG,
    age,
    blob,
    dedup,
    findings_of,
    git_repo,
    jsonl,
    make_tar,
    make_zip,
    planted_set,
    put,
    scan,
)

# Thresholds scaled to a small tree: checkpoints from 1000 bytes, the single largest file/dir.
PLANTED_ENV = {
    "HAFS_RECOMMEND__EXPERIMENTS__CHECKPOINT_MIN_BYTES": "1000",
    "HAFS_RECOMMEND__LARGEST__COUNT": "1",
}


def build_tree(t: Path) -> set[tuple[str, frozenset[str]]]:
    """Plant every case; return the findings (rule, paths) that must come out, exactly."""
    s = str(t)
    expected: set[tuple[str, frozenset[str]]] = set()

    def want(rule: str, *paths: str) -> None:
        expected.add((rule, frozenset(f"{s}/{p}" for p in paths)))

    # duplicates: identical content; negative twin: same size, different content
    put(t / "data/a.bin", blob(1, 3000), age_days=10)
    put(t / "backup/a.bin", blob(1, 3000), age_days=5)
    put(t / "data/same-size.bin", blob(2, 3000))
    put(t / "backup/same-size.bin", blob(3, 3000))
    want("duplicates", "data/a.bin", "backup/a.bin")

    # regenerable: untracked caches in a repo, build output beside its project file
    put(t / "app/pyproject.toml", b"[project]\nname='app'\n")
    put(t / "app/app.py", blob(10, 50))
    git_repo(t / "app", ["pyproject.toml", "app.py"])
    put(t / "app/__pycache__/app.cpython-311.pyc", blob(11, 400))
    put(t / "app/.DS_Store", blob(12, 60))
    want("regenerable", "app/__pycache__")
    want("regenerable", "app/.DS_Store")
    put(t / "web/package.json", b'{"name": "web"}')
    put(t / "web/node_modules/lodash/package.json", b'{"name": "lodash"}')
    put(t / "web/node_modules/lodash/index.js", blob(13, 900))
    want("regenerable", "web/node_modules")
    put(t / "rust/Cargo.toml", b"[package]\nname='r'\n")
    put(t / "rust/target/debug/r", blob(14, 700))
    want("regenerable", "rust/target")
    # negative twins: a git-tracked build directory and .DS_Store; node_modules without package.json
    put(t / "lib/pyproject.toml", b"[project]\nname='lib'\n")
    put(t / "lib/build/out.txt", blob(15, 80))
    put(t / "lib/.DS_Store", blob(16, 61))
    git_repo(t / "lib", ["pyproject.toml", "build/out.txt", ".DS_Store"])
    put(t / "misc/node_modules/x.js", blob(17, 90))

    # temporary files, old; negative twin: a recent one
    put(t / "docs/report.tmp", blob(20, 30), age_days=30)
    put(t / "docs/~$draft.docx", blob(21, 31), age_days=30)
    put(t / "docs/fresh.temp", blob(22, 32), age_days=1)
    want("temporary", "docs/report.tmp")
    want("temporary", "docs/~$draft.docx")

    # downloads: an old file and an installer; negative twins: recent ones
    put(t / "home/Downloads/old.pdf", blob(30, 500), age_days=200)
    put(t / "home/Downloads/setup.exe", blob(31, 600), age_days=30)
    put(t / "home/Downloads/recent.pdf", blob(32, 501), age_days=2)
    put(t / "home/Downloads/new.dmg", blob(33, 601), age_days=1)
    want("old-downloads", "home/Downloads/setup.exe")
    want("old-downloads", "home/Downloads/old.pdf")

    # archives already extracted (into a folder named after it; beside it); twin: differs
    make_zip(t / "media/photos.zip", {"a.jpg": blob(40, 700), "sub/b.jpg": blob(41, 300)})
    put(t / "media/photos/a.jpg", blob(40, 700))
    put(t / "media/photos/sub/b.jpg", blob(41, 300))
    make_tar(t / "media/src.tar.gz", {"src/x.c": blob(42, 120), "src/y.h": blob(43, 40)})
    put(t / "media/src/x.c", blob(42, 120))
    put(t / "media/src/y.h", blob(43, 40))
    make_zip(t / "media/other.zip", {"o.txt": blob(44, 10)})
    put(t / "media/other/o.txt", blob(45, 11))
    want("extracted-archives", "media/photos.zip")
    want("extracted-archives", "media/src.tar.gz")
    # the extracted copies are byte-identical to nothing else, but photos/ and src/ hold
    # content equal to the zip members only inside the archive: no duplicates there.

    # scattered projects: one remote spelled two ways; one name with shared content
    put(t / "code/tool/README.md", blob(50, 40))
    git_repo(t / "code/tool", ["README.md"], remote="git@github.com:me/tool.git")
    put(t / "backup/tool-copy/README.md", blob(51, 41))
    git_repo(t / "backup/tool-copy", ["README.md"], remote="https://github.com/me/tool")
    want("scattered-projects", "code/tool", "backup/tool-copy")
    for where in ("work/site", "old/site"):
        put(t / where / "pyproject.toml", b"[project]\nname='site'\n")
        put(t / where / "main.py", blob(52, 200))
    put(t / "work/site/new.py", blob(53, 20))
    want("scattered-projects", "work/site", "old/site")
    want("duplicates", "work/site/pyproject.toml", "old/site/pyproject.toml")
    want("duplicates", "work/site/main.py", "old/site/main.py")
    # negative twin: same name, nothing shared
    put(t / "a/proj/pyproject.toml", b"[project]\nname='p1'\n")
    put(t / "b/proj/pyproject.toml", b"[project]\nname='p2'\n")

    # abandoned experiments: a stale repo, a stale training run, an old checkpoint
    put(t / "old-exp/train.py", blob(60, 100))
    git_repo(t / "old-exp", ["train.py"])
    age(t / "old-exp", 300)
    put(t / "runs/exp1/trainer_state.json", blob(61, 50), age_days=400)
    put(t / "runs/exp1/events.out.tfevents.1", blob(62, 70), age_days=400)
    put(t / "models/big.safetensors", blob(63, 5000), age_days=200)
    want("abandoned-experiments", "old-exp")
    want("abandoned-experiments", "runs/exp1")
    want("abandoned-experiments", "models/big.safetensors")
    # negative twins: a recent run, a recent checkpoint, an old but small one
    put(t / "runs/exp2/trainer_state.json", blob(64, 50), age_days=3)
    put(t / "models/recent.gguf", blob(65, 5000), age_days=3)
    put(t / "models/small.pt", blob(66, 500), age_days=300)

    # largest (count = 1): a sparse 50 MB image; its folder holds nearly all the bytes
    (t / "big").mkdir()
    with open(t / "big/huge.iso", "wb") as fh:
        fh.truncate(50 << 20)
    want("largest", "big/huge.iso")
    want("largest", "big")
    return expected


@pytest.fixture
def planted(tmp_path):
    root = tmp_path / "t"
    expected = build_tree(root)
    files = scan(root)
    return root, files + dedup(files), expected


def test_planted_tree_yields_exactly_the_planted_findings(planted, run_recommend):
    _, recs, expected = planted
    r = run_recommend(recs, "--only", env=PLANTED_ENV)
    assert r.exit_code == 0, r.stderr
    assert planted_set(r) == expected


def test_every_output_record_matches_its_schema(planted, run_recommend):
    _, recs, _ = planted
    r = run_recommend(recs, env=PLANTED_ENV)
    assert r.exit_code == 0, r.stderr
    bad = [(rec["kind"], validate_record(rec)) for rec in r.records if validate_record(rec)]
    assert bad == []


def test_every_path_in_the_output_comes_from_the_input(planted, run_recommend):
    _, recs, _ = planted
    r = run_recommend(recs, "--only", env=PLANTED_ENV)
    files = {rec["path"] for rec in recs if rec["kind"] == "file"}
    dirs = {os.path.dirname(p) for p in files}
    while True:
        more = {os.path.dirname(d) for d in dirs} - dirs
        if not more:
            break
        dirs |= more
    for rec in r.records:
        if rec["kind"] == "finding":
            assert set(rec["paths"]) <= files | dirs, rec
        elif rec["kind"] == "action":
            assert rec["path"] in files, rec
            if "keeper" in rec:
                assert rec["keeper"]["path"] in files


def test_actions_match_their_findings(planted, run_recommend):
    _, recs, _ = planted
    r = run_recommend(recs, "--only", env=PLANTED_ENV)
    findings = {f["id"]: f for f in findings_of(r)}
    actions = [a for a in r.records if a["kind"] == "action"]
    for fid, f in findings.items():
        mine = [a for a in actions if a["finding_id"] == fid]
        assert len(mine) == f["action_count"]
        assert sum(a["size"] for a in mine) == f["bytes"]
        assert all(a["action"] == f["action"] for a in mine)
    assert {a["finding_id"] for a in actions} <= set(findings)
    summary = r.records[-1]
    assert summary["kind"] == "summary"
    assert summary["bytes"] == sum(f["bytes"] for f in findings.values())
    assert summary["actions"] == len(actions)


def test_git_tracked_files_get_no_action(planted, run_recommend):
    root, recs, _ = planted
    r = run_recommend(recs, "--only", env=PLANTED_ENV)
    acted = {a["path"] for a in r.records if a["kind"] == "action" and a["action"] == "trash"}
    assert f"{root}/lib/build/out.txt" not in acted
    assert f"{root}/lib/.DS_Store" not in acted
    assert f"{root}/app/app.py" not in acted
    summary = r.records[-1]
    assert summary["skipped"]["regenerable_tracked_by_git"] == 2


def test_output_is_byte_identical_across_runs_and_hash_seeds(planted, tmp_path):
    _, recs, _ = planted
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(recs))
    outs = set()
    for seed in ("0", "1", "4242", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, **PLANTED_ENV}
        proc = subprocess.run(
            [sys.executable, "-m", "hafs_cli", "recommend", "--now", NOW_ARG, str(src)],
            capture_output=True,
            env=env,
            check=True,
        )
        outs.add(proc.stdout)
    assert len(outs) == 1
    assert b'"kind":"finding"' in outs.pop()


def test_the_order_of_the_input_does_not_change_the_advice(planted, run_recommend):
    import random

    _, recs, _ = planted
    first = run_recommend(recs, "--only", env=PLANTED_ENV)
    shuffled = list(recs)
    random.Random(7).shuffle(shuffled)
    second = run_recommend(shuffled, "--only", env=PLANTED_ENV)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
