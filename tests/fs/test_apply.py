"""hafs apply: re-verify, journal, act; undo restores the tree byte for byte."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from hafs_cli.paths import path_fields, record_path

from .conftest import BAD_NAME, assert_valid, blob, file_digest, snapshot, write

HOST = socket.gethostname()


def lines(records) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def action(kind: str, path: bytes, keeper: bytes | None = None, **extra) -> dict:
    st = os.lstat(path)
    rec = {"kind": "action", "action": kind, **path_fields(path), "host": HOST}
    rec.update(size=st.st_size, mtime_ns=st.st_mtime_ns, blake3=file_digest(path))
    if keeper is not None:
        rec["keeper"] = {**path_fields(keeper), "host": HOST}
    rec.update(extra)
    return rec


def apply_yes(hafs, acts: list[dict], journal, cwd=None, *args):
    """hafs apply --yes with a journal, records from `acts`, JSON Lines out."""
    return hafs(
        "apply",
        "--yes",
        "--journal",
        str(journal),
        "--format",
        "jsonl",
        *args,
        input=lines(acts),
        cwd=cwd,
    )


def results(r) -> list[dict]:
    return [rec for rec in r.records if rec["kind"] == "action_result"]


def summary(r) -> dict:
    return next(r for r in r.records if r["kind"] == "summary" and r["command"] == "apply")


@pytest.fixture
def pair(tmp_path):
    """A keeper and two copies of it (one under an invalid UTF-8 name)."""
    root = tmp_path / "data"
    data = blob(1, 70_000)
    keeper = write(root / "keep/photo.jpg", data)
    copy = write(root / "copies/photo (1).jpg", data)
    odd = write(os.path.join(os.fsencode(root), b"copies", BAD_NAME), data)
    os.chmod(copy, 0o640)
    os.utime(copy, ns=(1_500_000_000_000_000_000, 1_600_000_000_000_000_000))
    return {"root": os.fsencode(root), "keeper": keeper, "copy": copy, "odd": odd, "data": data}


def test_dry_run_is_the_default_and_changes_nothing(hafs, pair):
    before = snapshot(pair["root"])
    acts = [action("trash", pair["copy"], pair["keeper"])]
    r = hafs("apply", "--format", "jsonl", input=lines(acts))
    assert r.exit_code == 0, r.stderr
    (res,) = results(r)
    assert res["status"] == "planned"
    assert res["bytes_freed"] == 70_000
    assert summary(r)["dry_run"] is True
    assert snapshot(pair["root"]) == before
    assert_valid(r.records)


def test_trash_moves_into_quarantine_keeping_the_path_and_undo_restores(hafs, pair, tmp_path):
    before = snapshot(pair["root"])
    journal = tmp_path / "j.jsonl"
    acts = [action("trash", p, pair["keeper"]) for p in (pair["copy"], pair["odd"])]
    r = apply_yes(hafs, acts, journal)
    assert r.exit_code == 0, r.stderr
    done = results(r)
    assert [d["status"] for d in done] == ["done", "done"]
    assert_valid(r.records)
    for d, src in zip(done, (pair["copy"], pair["odd"]), strict=True):
        dest = record_path(d, "dest")
        assert dest.endswith(src)  # quarantine/RUN/<absolute path>
        assert not os.path.lexists(src)
        with open(dest, "rb") as fh:
            assert fh.read() == pair["data"]
    assert os.lstat(pair["keeper"])
    u = hafs("apply", "--undo", str(journal), "--format", "jsonl")
    assert u.exit_code == 0, u.stderr
    assert [x["status"] for x in results(u)] == ["undone", "undone"]
    assert snapshot(pair["root"]) == before


def test_hardlink_replaces_atomically_and_undo_gives_back_an_independent_file(hafs, pair, tmp_path):
    before = snapshot(pair["root"])
    journal = tmp_path / "j.jsonl"
    acts = [action("hardlink", pair["copy"], pair["keeper"])]
    r = apply_yes(hafs, acts, journal)
    assert [x["status"] for x in results(r)] == ["done"], r.stdout
    assert os.path.samestat(os.stat(pair["copy"]), os.stat(pair["keeper"]))
    assert not [n for n in os.listdir(os.path.dirname(pair["copy"])) if n.startswith(b".hafs-")]
    hafs("apply", "--undo", str(journal))
    assert not os.path.samestat(os.stat(pair["copy"]), os.stat(pair["keeper"]))
    assert snapshot(pair["root"]) == before  # bytes, mode and mtime


def test_symlink_points_at_the_keeper_and_undo_restores(hafs, pair, tmp_path):
    before = snapshot(pair["root"])
    journal = tmp_path / "j.jsonl"
    acts = [action("symlink", pair["odd"], pair["keeper"])]
    r = hafs("apply", "--yes", "--journal", str(journal), input=lines(acts))
    assert r.exit_code == 0, r.stderr
    assert os.readlink(pair["odd"]) == pair["keeper"]
    hafs("apply", "--undo", str(journal))
    assert snapshot(pair["root"]) == before


def test_reflink_either_shares_blocks_or_fails_leaving_the_file_untouched(hafs, pair, tmp_path):
    before = snapshot(pair["root"])
    acts = [action("reflink", pair["copy"], pair["keeper"])]
    r = apply_yes(hafs, acts, tmp_path / "j")
    (res,) = results(r)
    if res["status"] == "failed":  # ext4, tmpfs: no FICLONE
        assert r.exit_code == 3
        assert res["errno"] in (95, 18, 22, 25)  # EOPNOTSUPP, EXDEV, EINVAL, ENOTTY
        assert snapshot(pair["root"]) == before
    else:
        assert res["status"] == "done"
        assert snapshot(pair["root"]) == before  # same bytes, mode and mtime


def test_changed_file_is_skipped_with_the_reason(hafs, pair, tmp_path):
    acts = [action("trash", pair["copy"], pair["keeper"])]
    st = os.stat(pair["copy"])
    changed = bytearray(pair["data"])
    changed[35_000] ^= 1
    write(pair["copy"], bytes(changed))
    os.utime(pair["copy"], ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime
    r = apply_yes(hafs, acts, tmp_path / "j")
    (res,) = results(r)
    assert (res["status"], res["reason"]) == (
        "skipped",
        "content changed since it was hashed (blake3 differs)",
    )
    assert r.exit_code == 1
    assert os.path.exists(pair["copy"])


def test_missing_or_changed_keeper_blocks_the_action(hafs, pair, tmp_path):
    acts = [action("hardlink", pair["copy"], pair["keeper"])]
    write(pair["keeper"], blob(9, 70_000))
    r = apply_yes(hafs, acts, tmp_path / "j")
    assert results(r)[0]["reason"] == "keeper's content differs from this file's: refusing"
    os.unlink(pair["keeper"])
    r = apply_yes(hafs, acts, tmp_path / "j2")
    assert results(r)[0]["reason"] == "keeper no longer exists: refusing to remove the last copy"
    with open(pair["copy"], "rb") as fh:
        assert fh.read() == pair["data"]


def test_never_removes_the_last_copy_when_actions_point_at_each_other(hafs, pair, tmp_path):
    a, b = pair["copy"], pair["keeper"]
    acts = [action("trash", a, b), action("trash", b, a)]
    r = apply_yes(hafs, acts, tmp_path / "j")
    assert [x["status"] for x in results(r)] == ["done", "skipped"]
    assert os.path.exists(b)


def test_links_need_a_keeper(hafs, pair, tmp_path):
    acts = [action("hardlink", pair["copy"])]
    r = apply_yes(hafs, acts, tmp_path / "j")
    assert results(r)[0]["reason"] == "no keeper named: a link needs a verified keeper"


def test_os_trash_writes_trashinfo_and_undo_removes_it(hafs, pair, tmp_path):
    journal = tmp_path / "j.jsonl"
    before = snapshot(pair["root"])
    acts = [action("trash", pair["copy"], pair["keeper"])]
    r = hafs(
        "apply",
        "--yes",
        "--trash",
        "os",
        "--journal",
        str(journal),
        "--format",
        "jsonl",
        input=lines(acts),
    )
    (res,) = results(r)
    dest = record_path(res, "dest")
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash"
    assert dest == os.fsencode(trash / "files" / "photo (1).jpg")
    info = (trash / "info" / "photo (1).jpg.trashinfo").read_text()
    assert f"Path={quote(pair['copy'])}\n" in info
    hafs("apply", "--undo", str(journal))
    assert not (trash / "info" / "photo (1).jpg.trashinfo").exists()
    assert snapshot(pair["root"]) == before


def test_move_and_archive(hafs, pair, tmp_path):
    journal = tmp_path / "j.jsonl"
    before = snapshot(pair["root"])
    target = os.fsencode(tmp_path / "elsewhere/moved.jpg")
    archive = tmp_path / "archive"
    (tmp_path / "hafs.toml").write_text(f'[apply]\narchive_dir = "{archive}"\n')
    acts = [
        action("move", pair["copy"], **path_fields(target, key="target")),
        action("archive", pair["odd"]),
    ]
    r = apply_yes(hafs, acts, journal, tmp_path)
    assert [x["status"] for x in results(r)] == ["done", "done"], r.stdout
    assert Path(os.fsdecode(target)).read_bytes() == pair["data"]
    archived = record_path(results(r)[1], "dest")
    assert archived.startswith(os.fsencode(archive)) and archived.endswith(pair["odd"])
    hafs("apply", "--undo", str(journal))
    assert snapshot(pair["root"]) == before
    assert not os.path.exists(target)


def test_other_records_pass_through_and_actions_are_replaced(hafs, pair):
    other = {"kind": "dupgroup-ish", "n": 1}
    r = hafs("apply", "--format", "jsonl", input=lines([other, action("keep", pair["copy"])]))
    assert r.records[0] == other
    assert [x["kind"] for x in r.records] == ["dupgroup-ish", "action_result", "summary"]


def test_undo_twice_is_harmless(hafs, pair, tmp_path):
    journal = tmp_path / "j.jsonl"
    before = snapshot(pair["root"])
    acts = [action("trash", pair["copy"], pair["keeper"])]
    hafs("apply", "--yes", "--journal", str(journal), input=lines(acts))
    assert hafs("apply", "--undo", str(journal)).exit_code == 0
    again = hafs("apply", "--undo", str(journal), "--format", "jsonl")
    assert again.exit_code == 0
    assert results(again) == []
    assert snapshot(pair["root"]) == before


def test_pipeline_scan_dedup_suggest_apply_then_undo(hafs, tmp_path):
    root = tmp_path / "t"
    for i in range(3):
        write(root / f"d{i}/same.bin", blob(5, 30_000))
    write(root / "unique.bin", blob(6, 30_000))
    before = snapshot(os.fsencode(root))
    scan = hafs("scan", str(root), "--format", "jsonl")
    dd = hafs("dedup", "--suggest", "hardlink", "--format", "jsonl", input=scan.stdout)
    assert dd.exit_code == 0, dd.stderr
    journal = tmp_path / "j.jsonl"
    r = hafs("apply", "--yes", "--journal", str(journal), "--format", "jsonl", input=dd.stdout)
    assert r.exit_code == 0, r.stderr
    assert summary(r)["done"] == 2
    assert summary(r)["bytes_freed"] == 60_000
    inodes = {os.stat(root / f"d{i}/same.bin").st_ino for i in range(3)}
    assert len(inodes) == 1
    hafs("apply", "--undo", str(journal))
    assert snapshot(os.fsencode(root)) == before


def test_trash_across_filesystems_copies_then_undo_moves_back(hafs, pair, tmp_path):
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test tree")
    import shutil
    import tempfile

    quarantine = tempfile.mkdtemp(dir="/dev/shm", prefix="hafs-q-")
    try:
        (tmp_path / "hafs.toml").write_text(f'[apply]\nquarantine = "{quarantine}"\n')
        before = snapshot(pair["root"])
        journal = tmp_path / "j.jsonl"
        acts = [action("trash", pair["copy"], pair["keeper"])]
        r = apply_yes(hafs, acts, journal, tmp_path)
        (res,) = results(r)
        assert res["status"] == "done", res
        dest = record_path(res, "dest")
        assert dest.startswith(os.fsencode(quarantine))
        assert os.stat(dest).st_dev != os.stat(pair["keeper"]).st_dev
        assert Path(os.fsdecode(dest)).read_bytes() == pair["data"]
        assert not os.path.exists(pair["copy"])
        assert hafs("apply", "--undo", str(journal)).exit_code == 0
        assert snapshot(pair["root"]) == before  # content, mode and mtime came back
    finally:
        shutil.rmtree(quarantine)


def _apply_on_a_terminal(acts: list[dict], answer: bytes, tmp_path) -> tuple[int, bytes]:
    """Run apply with records on stdin and a pty as its terminal; answer the prompt."""
    import fcntl
    import select
    import subprocess
    import sys
    import termios

    from .conftest import REPO

    master, slave = os.openpty()
    feed = tmp_path / "actions.jsonl"
    feed.write_bytes(lines(acts))

    def controlling_tty():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    with open(feed, "rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hafs_cli", "apply", "--journal", str(tmp_path / "j")],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=slave,
            preexec_fn=controlling_tty,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
    os.close(slave)
    seen = b""
    while b"[y/N]" not in seen:
        ready, _, _ = select.select([master], [], [], 30)
        assert ready, f"no prompt; got {seen!r}"
        seen += os.read(master, 4096)
    os.write(master, answer)
    proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, seen


@pytest.mark.parametrize(("answer", "moved"), [(b"y\n", True), (b"\n", False)])
def test_without_yes_it_asks_on_the_terminal_with_counts_and_bytes(pair, tmp_path, answer, moved):
    acts = [action("trash", p, pair["keeper"]) for p in (pair["copy"], pair["odd"])]
    code, prompt = _apply_on_a_terminal(acts, answer, tmp_path)
    assert b"trash 2 files (136.7 KiB)" in prompt
    assert code == 0
    assert os.path.exists(pair["copy"]) is not moved


def test_undo_last_finds_the_newest_journal_and_cleans_the_quarantine(hafs, pair):
    before = snapshot(pair["root"])
    acts = [action("trash", pair["copy"], pair["keeper"])]
    r = hafs("apply", "--yes", "--format", "jsonl", input=lines(acts))
    (res,) = results(r)
    journal = Path(res["journal"])
    assert journal.parent == Path(os.environ["XDG_STATE_HOME"]) / "hafs/journals"
    run_dir = record_path(res, "dest")[: -len(pair["copy"])]
    assert os.path.isdir(run_dir)
    u = hafs("apply", "--undo", "last", "--format", "jsonl")
    assert [x["status"] for x in results(u)] == ["undone"]
    assert snapshot(pair["root"]) == before
    assert not os.path.exists(run_dir)  # the empty quarantine directories are gone
    assert hafs("apply", "--undo", "/nonexistent/journal").exit_code == 2


def test_a_keeper_in_the_quarantine_is_refused(hafs, pair, tmp_path):
    # an earlier run trashed a copy; a later scan found it again and named it keeper
    quarantined = write(
        os.path.join(os.environ["XDG_DATA_HOME"].encode(), b"hafs/quarantine/R/x.jpg"),
        pair["data"],
    )
    acts = [action("trash", pair["copy"], quarantined)]
    r = apply_yes(hafs, acts, tmp_path / "j")
    assert results(r)[0]["reason"] == (
        "keeper is in a trash or quarantine, where it may be purged: refusing"
    )
    assert os.path.exists(pair["copy"])


@pytest.fixture
def btrfs(tmp_path):
    """A small btrfs filesystem on a loop device (reflinks work there), unmounted after."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or not shutil.which("mkfs.btrfs"):
        pytest.skip("needs root and mkfs.btrfs (Debian btrfs-progs) for a loop mount")
    image, mnt = tmp_path / "fs.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as fh:
        fh.truncate(120 << 20)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot loop-mount here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def shared_extents(path: bytes) -> bool:
    import subprocess

    out = subprocess.run(["filefrag", "-v", path], capture_output=True, check=True).stdout
    return b"shared" in out


def test_reflink_on_btrfs_shares_extents_and_undo_gives_back_an_own_copy(hafs, btrfs, tmp_path):
    data = blob(3, 300_000)
    keeper = write(btrfs / "keep/model.bin", data)
    copy = write(btrfs / "old/model copy.bin", data)
    os.chmod(copy, 0o640)
    os.utime(copy, ns=(1_500_000_000_000_000_000, 1_600_000_000_000_000_000))
    os.sync()
    before = snapshot(os.fsencode(btrfs))
    assert not shared_extents(copy)
    journal = tmp_path / "j.jsonl"
    r = apply_yes(hafs, [action("reflink", copy, keeper)], journal)
    assert [x["status"] for x in results(r)] == ["done"], r.stdout + r.stderr
    os.sync()
    assert shared_extents(copy) and shared_extents(keeper)
    assert not os.path.samestat(os.stat(copy), os.stat(keeper))  # two files, one set of blocks
    assert snapshot(os.fsencode(btrfs)) == before  # same bytes, mode and mtime
    u = hafs("apply", "--undo", str(journal))
    assert u.exit_code == 0, u.stderr
    os.sync()
    assert not shared_extents(copy)
    assert snapshot(os.fsencode(btrfs)) == before
