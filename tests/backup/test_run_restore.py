"""hafs backup init / run / list / restore against a real local restic repository."""

from __future__ import annotations

import os
from pathlib import Path

from tests.backup.conftest import assert_valid, manifest, restored_root


def make_tree(root: Path) -> None:
    (root / "nested/deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "empty").write_bytes(b"")
    (root / "nested/b.bin").write_bytes(os.urandom(300_000))
    (root / "nested/deeper/c.json").write_text('{"k": [1, 2, 3]}\n')
    (root / "ünïcode name.md").write_text("# heading\n")
    (root / "link").symlink_to("a.txt")
    (root / os.fsdecode(b"raw-\xff-name")).write_bytes(b"not utf-8 name\n")


def test_init_creates_the_repository_then_reports_it_exists(world, hafs):
    first = hafs("backup", "init")
    assert first.exit_code == 0, first.stderr
    assert first.records == [
        {
            "kind": "backup_repository",
            "repository": "default",
            "url": str(world.repo),
            "state": "created",
        }
    ]
    assert (world.repo / "config").is_file()
    again = hafs("backup", "init")
    assert again.exit_code == 0, again.stderr
    assert again.records[0]["state"] == "exists"
    assert_valid(first.records + again.records)


def test_run_emits_one_snapshot_record_per_set_from_restics_summary(ready, hafs):
    docs = ready.source("docs")
    make_tree(docs)
    notes = ready.source("notes")
    (notes / "n.txt").write_text("note\n")
    ready.add_set("docs", docs)
    ready.add_set("notes", notes)
    r = hafs("backup", "run")
    assert r.exit_code == 0, r.stderr
    assert [rec["set"] for rec in r.records] == ["docs", "notes"]
    docs_rec = r.records[0]
    assert docs_rec["kind"] == "backup_snapshot"
    assert docs_rec["files_new"] == 6  # restic counts the symlink as no file
    assert docs_rec["files_changed"] == 0
    assert docs_rec["bytes_added"] > 300_000
    assert docs_rec["paths"] == [str(docs)]
    assert docs_rec["tags"] == ["hafs-set:docs"]
    assert docs_rec["complete"] is True
    assert_valid(r.records)
    listed = hafs("backup", "list")
    assert listed.exit_code == 0
    assert [rec["snapshot_id"] for rec in listed.records] == [
        rec["snapshot_id"] for rec in r.records
    ]
    assert [rec["set"] for rec in listed.records] == ["docs", "notes"]
    assert_valid(listed.records)
    only_notes = hafs("backup", "list", "notes")
    assert [rec["set"] for rec in only_notes.records] == ["notes"]


def test_restore_is_byte_identical_to_the_source(ready, hafs, tmp_path):
    docs = ready.source("docs")
    make_tree(docs)
    ready.add_set("docs", docs)
    run = hafs("backup", "run", "docs")
    assert run.exit_code == 0, run.stderr
    target = tmp_path / "restore"
    r = hafs("backup", "restore", run.records[0]["snapshot_id"], "--target", target)
    assert r.exit_code == 0, r.stderr
    source = manifest(docs)
    assert len(source) == 7
    assert manifest(restored_root(target, docs)) == source  # 100% of files, by blake3
    assert r.records[0]["files"] == 7
    assert_valid(r.records)


def test_second_run_over_unchanged_data_adds_under_one_percent(ready, hafs):
    data = ready.source("data")
    for i in range(40):
        (data / f"f{i:02}.bin").write_bytes(os.urandom(50_000))
    ready.add_set("data", data)
    first = hafs("backup", "run")
    second = hafs("backup", "run")
    assert first.exit_code == second.exit_code == 0, second.stderr
    source_size = 40 * 50_000
    assert first.records[0]["bytes_added"] > source_size * 0.9
    assert second.records[0]["bytes_added"] < source_size * 0.01
    assert second.records[0]["files_unmodified"] == 40
    assert second.records[0]["files_new"] == second.records[0]["files_changed"] == 0


def test_restore_refuses_a_non_empty_target_without_force(ready, hafs, tmp_path):
    docs = ready.source("docs")
    (docs / "a.txt").write_text("new\n")
    ready.add_set("docs", docs)
    assert hafs("backup", "run").exit_code == 0
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    refused = hafs("backup", "restore", "latest", "--set", "docs", "--target", target)
    assert refused.exit_code == 2
    assert b"is not empty" in refused.stderr and b"--force" in refused.stderr
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    forced = hafs("backup", "restore", "latest", "--set", "docs", "--target", target, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (restored_root(target, docs) / "a.txt").read_text() == "new\n"
    assert (target / "keep.txt").read_text() == "mine\n"


def test_restore_of_one_path_restores_only_that_path_and_only_one_it_holds(ready, hafs, tmp_path):
    docs = ready.source("docs")
    make_tree(docs)
    ready.add_set("docs", docs)
    assert hafs("backup", "run").exit_code == 0
    target = tmp_path / "one"
    r = hafs(
        "backup", "restore", "latest", str(docs / "nested"), "--set", "docs", "--target", target
    )
    assert r.exit_code == 0, r.stderr
    assert manifest(restored_root(target, docs)) == {
        k: v for k, v in manifest(docs).items() if k.startswith("nested/")
    }
    assert r.records[0]["files"] == 2

    # a path the snapshot does not hold is a usage error, not "0 files restored"
    target = tmp_path / "new-target"
    r = hafs("backup", "restore", "latest", str(docs / "no-such"), "--target", target)
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and r.records == []
    assert f"{docs / 'no-such'} is not in snapshot" in lines[0]
    assert f"it holds {docs}" in lines[0] and "nothing was restored" in lines[0]
    assert not target.exists()  # the empty folders made for nothing are gone again


def test_excludes_are_the_sync_defaults_plus_the_sets_own(ready, hafs, tmp_path):
    code = ready.source("code")
    for rel in [
        "keep.py",
        ".git/HEAD",
        "pkg/node_modules/x.js",
        "pkg/mod.pyc",
        "pkg/big.ckpt",
        "build/out.o",
        "pkg/build/kept.txt",
    ]:
        (code / rel).parent.mkdir(parents=True, exist_ok=True)
        (code / rel).write_text(rel)
    ready.add_set("code", code, excludes=["*.ckpt", "/build/"])
    assert hafs("backup", "run").exit_code == 0
    target = tmp_path / "out"
    assert hafs("backup", "restore", "latest", "--target", target).exit_code == 0
    assert sorted(manifest(restored_root(target, code))) == ["keep.py", "pkg/build/kept.txt"]


def test_restore_of_an_unknown_snapshot_is_a_usage_error(ready, hafs, tmp_path):
    r = hafs("backup", "restore", "deadbeef", "--target", tmp_path / "x")
    assert r.exit_code == 2
    assert b"no snapshot 'deadbeef'" in r.stderr


def test_unknown_set_is_a_usage_error_naming_the_configured_ones(ready, hafs):
    ready.add_set("docs", ready.source("docs"))
    r = hafs("backup", "run", "dosc")
    assert r.exit_code == 2
    assert b"unknown backup set(s): dosc (configured: docs)" in r.stderr


def test_a_missing_path_is_reported_and_the_rest_backed_up(ready, hafs):
    docs = ready.source("docs")
    (docs / "a.txt").write_text("a")
    gone = ready.root / "not-mounted"
    ready.add_set("docs", docs, gone)
    r = hafs("backup", "run")
    assert r.exit_code == 2
    assert r.records[0]["paths"] == [str(docs)]
    assert [e["path"] for e in r.errors] == [str(gone)]


def test_a_failing_set_is_reported_and_the_other_sets_still_run(ready, hafs, tmp_path):
    ready.repositories["elsewhere"] = {
        "url": str(tmp_path / "never-initialised"),
        "password_file": str(ready.password_file),
    }
    a = ready.source("a")
    (a / "f").write_text("a")
    ready.add_set("a", a, repository="elsewhere")
    ready.add_set("b", a)
    r = hafs("backup", "run")
    assert r.exit_code == 2
    assert [rec["set"] for rec in r.records] == ["b"]
    assert len(r.errors) == 1 and r.errors[0]["set"] == "a"
    assert "hafs backup init --repo elsewhere" in r.errors[0]["reason"]


def test_help_shows_pipeline_examples_and_exit_statuses(hafs):
    for args in (
        ("backup", "--help"),
        ("backup", "run", "--help"),
        ("backup", "restore", "--help"),
    ):
        r = hafs(*args)
        assert r.exit_code == 0
        assert "hafs backup" in r.text and "Exit status:" in r.text


def test_two_runs_of_the_same_set_do_not_interleave(ready, hafs):
    import fcntl

    from hafs_cli.backup import sqlite_stage

    data = ready.source("data")
    (data / "f").write_text("f")
    ready.add_set("data", data)
    lock_dir = Path(os.environ["XDG_CACHE_HOME"]) / "hafs" / "backup-stage"
    lock_dir.mkdir(parents=True)
    with open(lock_dir / "data.lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a run in progress would
        r = hafs("backup", "run")
    assert r.exit_code == 3
    assert b"another 'hafs backup run' of this set is in progress" in r.stderr
    assert hafs("backup", "run").exit_code == 0
    assert sqlite_stage.STAGE_DIR == "backup-stage"


def test_latest_needs_a_set_when_several_are_configured(ready, hafs, tmp_path):
    a = ready.source("a")
    (a / "f").write_text("a")
    ready.add_set("a", a)
    ready.add_set("b", a)
    assert hafs("backup", "run").exit_code == 0
    r = hafs("backup", "restore", "latest", "--target", tmp_path / "t")
    assert r.exit_code == 2
    assert b"'latest' is ambiguous: name the set with --set (a, b)" in r.stderr
    ok = hafs("backup", "restore", "latest", "--set", "b", "--target", tmp_path / "t")
    assert ok.exit_code == 0, ok.stderr
    assert ok.records[0]["set"] == "b"


def test_a_set_with_no_existing_or_no_paths_says_where_to_fix_it(ready, hafs, tmp_path):
    ready.add_set("gone", tmp_path / "unmounted")
    r = hafs("backup", "run", "gone")
    assert r.exit_code == 2 and r.records == []
    assert [e["reason"] for e in r.errors] == [
        f"set 'gone': path does not exist: {tmp_path / 'unmounted'}",
        "set 'gone': none of its paths exist; nothing backed up. Check paths in "
        "[backup.sets.gone] (is the disk mounted?)",
    ]
    ready.add_set("empty")
    r = hafs("backup", "run", "empty")
    assert r.exit_code == 2
    assert r.stderr.decode().splitlines() == [
        'hafs: error: [backup.sets.empty] has no paths; add paths = ["~/folder", ...] to it in '
        "hafs.toml, or remove the set"
    ]


def test_naming_a_set_that_is_neither_configured_nor_stored_is_a_usage_error(ready, hafs):
    data = ready.source("data")
    (data / "f").write_text("f")
    ready.add_set("old", data)
    assert hafs("backup", "run").exit_code == 0
    ready.sets.clear()
    ready.add_set("new", data)  # "old" is no longer configured, its snapshot is still stored
    kept = hafs("backup", "list", "old")
    assert kept.exit_code == 0, kept.stderr
    assert [r["set"] for r in kept.records] == ["old"]
    typo = hafs("backup", "list", "nwe")
    assert typo.exit_code == 2 and typo.records == []
    assert typo.stderr.decode().splitlines() == [
        "hafs: error: no snapshots of set(s) nwe in repository 'default', and no such set is "
        "configured (configured: new)"
    ]
    verify = hafs("backup", "verify", "nwe")
    assert verify.exit_code == 2 and verify.records == []  # refused before restic check
    assert b"unknown backup set(s): nwe (configured: new)" in verify.stderr
