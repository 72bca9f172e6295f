"""hafs sync, one way (push and pull), over the loopback sshd with real rsync and SFTP."""

from __future__ import annotations

import os

import pytest

from hafs_cli.schemas import validate_record
from tests.remote.conftest import tree_state

TRANSPORTS = ["rsync", "sftp"]


def ops(result) -> list[tuple[str, str, str]]:
    return sorted(
        (r["op"], r["direction"], r["path"]) for r in result.records if r["kind"] == "sync_op"
    )


def summary(result) -> dict:
    found = [r for r in result.records if r["kind"] == "summary"]
    assert len(found) == 1, result.stdout
    return found[0]


def assert_valid(result) -> None:
    for rec in result.records:
        assert validate_record(rec) == [], rec


def make_tree(local, write) -> None:
    write(local, "a.txt", "alpha")
    write(local, "dir with space/é ü ñ.txt", "unicode")
    write(local, "deep/er/still/file.bin", os.urandom(3000))
    write(local, ".git/config", "excluded")
    write(local, "node_modules/x/index.js", "excluded")
    write(local, "mod.pyc", "excluded")
    write(local, "keep.py", "print(1)")
    os.symlink("a.txt", local / "link-to-a")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_push_copies_tree_without_excluded_items(hafs, setup, write, transport):
    make_tree(setup.local, write)
    setup.profile("p", direction="push", transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert_valid(r)
    copied_files = {p for op, d, p in ops(r) if op == "copy"}
    assert {
        "a.txt",
        "dir with space/é ü ñ.txt",
        "deep/er/still/file.bin",
        "keep.py",
        "link-to-a",
    } <= copied_files
    expected = {
        k: v
        for k, v in tree_state(setup.local).items()
        if not k.startswith((".git", "node_modules")) and k != "mod.pyc"
    }
    assert tree_state(setup.remote) == expected
    assert os.readlink(setup.remote / "link-to-a") == "a.txt"
    s = summary(r)
    assert s["transport"] == transport and s["copied"] == len(copied_files) and s["errors"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_second_push_without_changes_does_nothing(hafs, setup, write, transport):
    make_tree(setup.local, write)
    setup.profile("p", direction="push", transport=transport)
    assert hafs("sync", "p").exit_code == 0
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert ops(r) == []
    assert summary(r)["copied"] == summary(r)["updated"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pull_brings_remote_changes(hafs, setup, write, transport):
    write(setup.remote, "data/train.jsonl", "{}\n" * 100)
    write(setup.remote, "report.md", "# r")
    write(setup.local, "report.md", "old", mtime=1_000_000)
    setup.profile("p", direction="pull", transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert ops(r) == [("copy", "pull", "data/train.jsonl"), ("update", "pull", "report.md")] or ops(
        r
    ) == [
        ("copy", "pull", "data"),
        ("copy", "pull", "data/train.jsonl"),
        ("update", "pull", "report.md"),
    ]
    assert (setup.local / "report.md").read_text() == "# r"
    assert tree_state(setup.local) == tree_state(setup.remote)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_push_delete_moves_extraneous_files_to_trash(hafs, setup, write, transport):
    write(setup.local, "keep", "k")
    write(setup.remote, "keep", "k")
    write(setup.remote, "old/stale.txt", "stale content")
    setup.profile("p", direction="push", delete=True, transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    deletes = [x for x in r.records if x.get("op") == "delete"]
    assert {d["path"] for d in deletes} >= {"old/stale.txt"}
    assert not (setup.remote / "old/stale.txt").exists()
    trashed = list((setup.remote / ".hafs-trash").rglob("stale.txt"))
    assert len(trashed) == 1 and trashed[0].read_text() == "stale content"
    assert_valid(r)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dry_run_changes_nothing_on_either_side(hafs, setup, write, transport):
    make_tree(setup.local, write)
    write(setup.remote, "extra", "e")
    write(setup.remote, "a.txt", "different", mtime=1_000_000)
    before = (tree_state(setup.local), tree_state(setup.remote, skip=()))
    setup.profile("p", direction="push", delete=True, transport=transport)
    r = hafs("sync", "p", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert (tree_state(setup.local), tree_state(setup.remote, skip=())) == before
    planned = ops(r)
    assert ("update", "push", "a.txt") in planned and ("delete", "push", "extra") in planned
    assert all(x["dry_run"] for x in r.records)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_empty_source_with_delete_is_refused(hafs, setup, write, transport):
    write(setup.remote, "precious.txt", "p")
    setup.profile("p", direction="push", delete=True, transport=transport)
    before = tree_state(setup.remote)
    r = hafs("sync", "p")
    assert r.exit_code == 2
    assert b"empty" in r.stderr and b"refus" in r.stderr
    assert tree_state(setup.remote) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("delete", [True, False])
@pytest.mark.parametrize("direction", ["push", "pull"])
def test_missing_source_is_refused(hafs, setup, write, transport, delete, direction):
    write(setup.local, "precious.txt", "p")
    write(setup.remote, "precious.txt", "r")
    if direction == "pull":
        keys = {"remote": f"box:{setup.remote}/not-there"}
        where = f"box:{setup.remote}/not-there"
    else:
        keys = {"local": str(setup.local / "not-there")}
        where = str(setup.local / "not-there")
    setup.profile("p", direction=direction, delete=delete, transport=transport, **keys)
    before = (tree_state(setup.local), tree_state(setup.remote))
    r = hafs("sync", "p")
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hafs: error: sync p: "), lines
    assert f"{where} does not exist; nothing was changed" in lines[0]
    assert (tree_state(setup.local), tree_state(setup.remote)) == before


@pytest.mark.parametrize("direction", ["push", "pull", "both"])
def test_a_file_where_the_local_folder_should_be_is_refused(hafs, setup, write, direction):
    file = write(setup.local, "a.txt", "not a folder")
    write(setup.remote, "r.txt", "r")
    setup.profile("p", direction=direction, local=str(file))
    before = (tree_state(setup.local), tree_state(setup.remote))
    r = hafs("sync", "p")
    assert r.exit_code == 2
    assert r.stderr.decode().splitlines() == [
        f"hafs: error: sync p: local {file} is a file, not a folder; a profile syncs folders: "
        "set local in [sync.profiles.p] to a folder"
    ]
    assert (tree_state(setup.local), tree_state(setup.remote)) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("direction", "delete"), [("pull", False), ("pull", True), ("both", False)]
)
def test_syncing_with_a_remote_file_is_refused(hafs, setup, write, transport, direction, delete):
    write(setup.remote, "a.txt", "a file, not a folder")
    remote = f"box:{setup.remote}/a.txt"
    setup.profile("p", direction=direction, delete=delete, remote=remote, transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert f"{remote} is a file, not a folder; nothing was changed" in lines[0]
    assert tree_state(setup.local) == {}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_max_delete_stops_the_run(hafs, setup, write, transport):
    write(setup.local, "keep", "k")
    for i in range(5):
        write(setup.remote, f"gone{i}", "g")
    setup.profile("p", direction="push", delete=True, transport=transport)
    r = hafs("sync", "p", "--max-delete", "2")
    assert r.exit_code == 2
    assert b"max-delete" in r.stderr or b"max_delete" in r.stderr
    remaining = [p for p in setup.remote.iterdir() if p.name.startswith("gone")]
    assert len(remaining) >= 3


def test_large_file_round_trip(hafs, setup, write):
    blob = os.urandom(1 << 20) * 24  # 24 MiB
    write(setup.local, "big.bin", blob)
    setup.profile("p", direction="push")
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert (setup.remote / "big.bin").read_bytes() == blob
    assert summary(r)["bytes"] == len(blob)


def test_non_utf8_name_round_trips_with_rsync(hafs, setup):
    raw = os.fsencode(setup.local) + b"/caf\xe9.txt"
    with open(raw, "wb") as fh:
        fh.write(b"latin-1 name")
    setup.profile("p", direction="push", transport="rsync")
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    rec = next(x for x in r.records if x["kind"] == "sync_op")
    assert rec["path_b64"] == "Y2Fm6S50eHQ="
    with open(os.fsencode(setup.remote) + b"/caf\xe9.txt", "rb") as fh:
        assert fh.read() == b"latin-1 name"


def test_unknown_profile_is_a_usage_error(hafs, setup):
    r = hafs("sync", "nope")
    assert r.exit_code == 2
    assert b"no sync profile 'nope'" in r.stderr


def test_host_without_rsync_falls_back_to_sftp_and_is_remembered(hafs, setup, write):
    write(setup.local, "a.txt", "alpha")
    with setup.config.open("a") as fh:
        fh.write('rsync_path = "/nonexistent/rsync"\n')  # still inside [hosts.box]
    setup.profile("p", direction="push")
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert summary(r)["transport"] == "sftp"
    assert (setup.remote / "a.txt").read_text() == "alpha"
    write(setup.local, "b.txt", "beta")
    r = hafs("sync", "p")
    assert [(x["path"], x["transport"]) for x in r.records if x["kind"] == "sync_op"] == [
        ("b.txt", "sftp")
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unreadable_source_directory_is_reported_and_protects_deletions(
    setup, write, hafs_cmd, transport
):
    import shutil
    import subprocess

    if not shutil.which("setpriv"):
        pytest.skip("setpriv missing")
    write(setup.local, "open/a", "a")
    write(setup.local, "closed/b", "b")
    write(setup.remote, "closed/b", "b")
    write(setup.remote, "closed/only-remote", "keep me")
    setup.profile("p", direction="push", delete=True, transport=transport)
    os.chmod(setup.local / "closed", 0)
    try:  # without CAP_DAC_OVERRIDE, root obeys permissions like everyone else
        proc = subprocess.run(
            ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *hafs_cmd, "sync", "p"],
            capture_output=True,
        )
    finally:
        os.chmod(setup.local / "closed", 0o755)
    assert proc.returncode == 3, proc.stderr
    assert b"Permission denied" in proc.stderr
    assert (setup.remote / "open/a").read_text() == "a"
    assert (setup.remote / "closed/only-remote").read_text() == "keep me"


def test_non_utf8_name_over_sftp_is_an_error_not_a_deletion(hafs, setup, write):
    write(setup.local, "d/keep", "k")
    write(setup.remote, "d/keep", "k")
    with open(os.fsencode(setup.remote) + b"/d/caf\xe9", "wb") as fh:
        fh.write(b"x")
    setup.profile("p", direction="push", delete=True, transport="sftp")
    r = hafs("sync", "p")
    assert r.exit_code == 3
    assert [e["reason"] for e in r.errors][0].endswith("use the rsync transport")
    assert os.path.exists(os.fsencode(setup.remote) + b"/d/caf\xe9")
