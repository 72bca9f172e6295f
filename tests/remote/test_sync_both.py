"""hafs sync, both ways: manifest-driven changes, conflicts, deletions into the trash."""

from __future__ import annotations

import os
import random
import shutil

import orjson
import pytest

from hafs_cli.remote.profile import ProfileLock
from hafs_cli.schemas import validate_record
from tests.remote.conftest import tree_state

TRANSPORTS = ["rsync", "sftp"]
OLD, NEW = 1_600_000_000, 1_700_000_000


def ops(result) -> list[tuple[str, str, str]]:
    return sorted(
        (r["op"], r["direction"], r["path"]) for r in result.records if r["kind"] == "sync_op"
    )


def synced(hafs, name="p"):
    r = hafs("sync", name)
    assert r.exit_code == 0, r.stderr
    for rec in r.records:
        assert validate_record(rec) == [], rec
    return r


def trash_files(root) -> dict[str, str]:
    trash = root / ".hafs-trash"
    if not trash.exists():
        return {}
    return {
        str(p.relative_to(trash)).split("/", 1)[1]: p.read_text()
        for p in trash.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_first_sync_is_a_union_with_conflicts_for_differing_content(hafs, setup, write, transport):
    write(setup.local, "only-local", "L")
    write(setup.remote, "only-remote/r.txt", "R")
    write(setup.local, "same", "same", mtime=OLD)
    write(setup.remote, "same", "same", mtime=OLD)
    write(setup.local, "both", "local version", mtime=NEW)
    write(setup.remote, "both", "remote version", mtime=OLD)
    setup.profile("p", direction="both", delete=True, transport=transport)
    r = synced(hafs)
    assert ops(r) == [
        ("conflict", "push", "both"),
        ("copy", "pull", "only-remote"),
        ("copy", "pull", "only-remote/r.txt"),
        ("copy", "push", "only-local"),
    ]
    conflict = next(x for x in r.records if x.get("op") == "conflict")
    copy_name = conflict["conflict_copy"]
    assert copy_name.startswith("both.conflict-box-")
    for side in (setup.local, setup.remote):
        assert (side / "both").read_text() == "local version"  # newer wins the name
        assert (side / copy_name).read_text() == "remote version"  # the other is kept
    assert tree_state(setup.local) == tree_state(setup.remote)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_changes_and_deletions_flow_both_ways(hafs, setup, write, transport):
    for name in ("a", "b", "c", "d"):
        write(setup.local, name, f"{name}0", mtime=OLD)
    setup.profile("p", direction="both", delete=True, transport=transport)
    synced(hafs)
    write(setup.local, "a", "a1 changed locally", mtime=NEW)
    write(setup.remote, "b", "b1 changed remotely", mtime=NEW)
    (setup.local / "c").unlink()
    (setup.remote / "d").unlink()
    r = synced(hafs)
    assert ops(r) == [
        ("delete", "pull", "d"),
        ("delete", "push", "c"),
        ("update", "pull", "b"),
        ("update", "push", "a"),
    ]
    assert tree_state(setup.local) == tree_state(setup.remote)
    assert (setup.remote / "a").read_text() == "a1 changed locally"
    assert (setup.local / "b").read_text() == "b1 changed remotely"
    assert trash_files(setup.remote) == {"c": "c0"}
    assert trash_files(setup.local) == {"d": "d0"}
    assert ops(synced(hafs)) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edit_on_both_sides_keeps_both_versions(hafs, setup, write, transport):
    write(setup.local, "notes.md", "v0", mtime=OLD)
    setup.profile("p", direction="both", transport=transport)
    synced(hafs)
    write(setup.local, "notes.md", "edited on the laptop", mtime=NEW)
    write(setup.remote, "notes.md", "edited on the server", mtime=NEW + 60)
    r = synced(hafs)
    (conflict,) = [x for x in r.records if x["kind"] == "sync_op"]
    assert conflict["op"] == "conflict" and conflict["direction"] == "pull"
    copy_name = conflict["conflict_copy"]
    for side in (setup.local, setup.remote):
        assert (side / "notes.md").read_text() == "edited on the server"
        assert (side / copy_name).read_text() == "edited on the laptop"
    assert ops(synced(hafs)) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_identical_edits_on_both_sides_are_not_a_conflict(hafs, setup, write, transport):
    write(setup.local, "f", "v0", mtime=OLD)
    setup.profile("p", direction="both", transport=transport)
    synced(hafs)
    write(setup.local, "f", "v1", mtime=NEW)
    write(setup.remote, "f", "v1", mtime=NEW + 5)
    r = synced(hafs)
    assert [x for x in r.records if x.get("op") == "conflict"] == []
    assert sorted(p.name for p in setup.local.iterdir()) == ["f"]


def test_deleted_here_but_changed_there_is_restored(hafs, setup, write):
    write(setup.local, "f", "v0", mtime=OLD)
    setup.profile("p", direction="both", delete=True)
    synced(hafs)
    (setup.local / "f").unlink()
    write(setup.remote, "f", "v1 edited", mtime=NEW)
    r = synced(hafs)
    assert ops(r) == [("copy", "pull", "f")]
    assert (setup.local / "f").read_text() == "v1 edited"


def test_emptied_side_is_not_propagated(hafs, setup, write):
    for i in range(3):
        write(setup.local, f"f{i}", "x")
    setup.profile("p", direction="both", delete=True)
    synced(hafs)
    for p in setup.local.iterdir():
        p.unlink()
    r = hafs("sync", "p")
    assert r.exit_code == 2
    assert b"empty" in r.stderr
    assert sorted(p.name for p in setup.remote.iterdir()) == ["f0", "f1", "f2"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dry_run_both_ways_leaves_both_trees_unchanged(hafs, setup, write, transport):
    write(setup.local, "a", "a0", mtime=OLD)
    write(setup.local, "b", "b0", mtime=OLD)
    setup.profile("p", direction="both", delete=True, transport=transport)
    synced(hafs)
    write(setup.local, "a", "a1", mtime=NEW)
    write(setup.remote, "a", "a2", mtime=NEW)
    (setup.remote / "b").unlink()
    write(setup.remote, "new", "n")
    before = (tree_state(setup.local, skip=()), tree_state(setup.remote, skip=()))
    r = hafs("sync", "p", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert ops(r) == [("conflict", "push", "a"), ("copy", "pull", "new"), ("delete", "pull", "b")]
    assert (tree_state(setup.local, skip=()), tree_state(setup.remote, skip=())) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_three_cycles_with_deletes_lose_nothing(hafs, setup, write, transport):
    rng = random.Random(8)
    setup.profile("p", direction="both", delete=True, transport=transport)
    expected: dict[str, str] = {}  # what must exist on both sides afterwards
    for i in range(12):
        side = setup.local if i % 2 else setup.remote
        write(side, f"d{i % 3}/f{i}.txt", f"initial {i}", mtime=OLD)
        expected[f"d{i % 3}/f{i}.txt"] = f"initial {i}"
    deleted: dict[str, str] = {}
    for cycle in range(3):
        synced(hafs)
        assert {k: (setup.local / k).read_text() for k in expected} == expected
        assert tree_state(setup.local) == tree_state(setup.remote)
        names = sorted(expected)
        for name in rng.sample(names, 2):  # delete on a random side
            side = rng.choice([setup.local, setup.remote])
            (side / name).unlink()
            deleted[name] = expected.pop(name)
        for name in rng.sample(sorted(expected), 2):  # edit on a random side
            side = rng.choice([setup.local, setup.remote])
            expected[name] = f"edit {cycle} of {name}"
            write(side, name, expected[name], mtime=NEW + cycle)
        new = f"d{cycle}/new{cycle}.txt"
        expected[new] = f"new in cycle {cycle}"
        write(rng.choice([setup.local, setup.remote]), new, expected[new], mtime=NEW)
    synced(hafs)
    for side in (setup.local, setup.remote):
        state = {k: (side / k).read_text() for k, v in tree_state(side).items() if v != "/"}
        assert state == expected
        nested = [k for k in tree_state(side) if k.startswith(("local", "remote"))]
        assert nested == []
    trashed = {**trash_files(setup.local), **trash_files(setup.remote)}
    assert {k: trashed[k] for k in deleted} == {
        k: v for k, v in deleted.items()
    }  # every deleted file is recoverable


def test_second_sync_of_the_same_profile_waits_for_the_lock(hafs, setup, write):
    write(setup.local, "f", "x")
    setup.profile("p", direction="both")
    with ProfileLock("p"):
        r = hafs("sync", "p")
    assert r.exit_code == 3
    assert b"already running" in r.stderr
    assert not (setup.remote / "f").exists()
    assert synced(hafs).exit_code == 0


def test_unreadable_directory_is_skipped_not_deleted(hafs_cmd, setup, write, tmp_path):
    """Without read permission on a local directory its files must not be deleted remotely."""
    import subprocess

    if not shutil.which("setpriv"):
        pytest.skip("setpriv missing")
    write(setup.local, "open/a", "a", mtime=OLD)
    write(setup.local, "closed/b", "b", mtime=OLD)
    setup.profile("p", direction="both", delete=True)
    run = lambda: subprocess.run(  # noqa: E731
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *hafs_cmd, "sync", "p"],
        capture_output=True,
    )
    assert run().returncode == 0
    os.chmod(setup.local / "closed", 0)
    try:
        proc = run()
    finally:
        os.chmod(setup.local / "closed", 0o755)
    assert proc.returncode == 3, proc.stderr
    assert b"closed: Permission denied" in proc.stderr
    skips = [r for r in map(orjson.loads, proc.stdout.splitlines()) if r.get("op") == "skip"]
    assert [(s["path"], s["reason"]) for s in skips] == [("closed/b", "unreadable on local")]
    assert (setup.remote / "closed/b").read_text() == "b"


@pytest.mark.parametrize("deleted_on", ["local", "remote"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_deleted_directory_with_excluded_leftovers_goes_to_trash(
    hafs, setup, write, transport, deleted_on
):
    write(setup.local, "pkg/mod.py", "code", mtime=OLD)
    write(setup.local, "README", "stays", mtime=OLD)
    setup.profile("p", direction="both", delete=True, transport=transport)
    synced(hafs)
    gone, other = (
        (setup.local, setup.remote) if deleted_on == "local" else (setup.remote, setup.local)
    )
    write(other, "pkg/__pycache__/mod.cpython-311.pyc", "bytecode")  # excluded, never synced
    shutil.rmtree(gone / "pkg")
    r = synced(hafs)
    direction = "push" if deleted_on == "local" else "pull"
    assert ops(r) == [("delete", direction, "pkg"), ("delete", direction, "pkg/mod.py")]
    assert not (other / "pkg").exists()
    trashed = list((other / ".hafs-trash").rglob("*"))
    assert {p.name for p in trashed if p.is_file()} == {"mod.py", "mod.cpython-311.pyc"}
    assert ops(synced(hafs)) == []
