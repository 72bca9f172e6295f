"""`hafs scan HOST:PATH` against the loopback sshd: remote hafs, SFTP fallback, cross-host dedup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hafs_cli.schemas import validate_record
from tests.remote.test_host_keys import untrusting_config


def files_of(result) -> dict[str, dict]:
    return {r["path"]: r for r in result.records if r["kind"] == "file"}


def test_remote_scan_runs_hafs_there_and_hashes_files(hafs, setup, write):
    write(setup.remote, "a.txt", "alpha")
    write(setup.remote, "sub dir/ü.txt", "unicode")
    write(setup.remote, "skip/me.log", "no")
    r = hafs("scan", f"box:{setup.remote}", "--exclude", "skip")
    assert r.exit_code == 0, r.stderr
    got = files_of(r)
    assert set(got) == {f"{setup.remote}/a.txt", f"{setup.remote}/sub dir/ü.txt"}
    import blake3

    for path, rec in got.items():
        assert rec["host"] == "box"
        assert rec["blake3"] == blake3.blake3(Path(path).read_bytes()).hexdigest()
        assert validate_record(rec) == []
    assert sum(1 for x in r.records if x["kind"] == "summary") == 1


def test_cross_host_duplicates_are_found_without_copying(hafs, setup, write):
    write(setup.remote, "model.bin", b"\x01" * 50_000)
    write(setup.local, "copy-of-model.bin", b"\x01" * 50_000)
    write(setup.local, "other.bin", b"\x02" * 50_000)
    scan = hafs("scan", f"box:{setup.remote}", str(setup.local))
    assert scan.exit_code == 0, scan.stderr
    dedup = hafs("dedup", "--only", input=scan.stdout)
    assert dedup.exit_code == 0, dedup.stderr
    groups = [g for g in dedup.records if g["kind"] == "dupgroup"]
    assert len(groups) == 1
    members = {(m.get("host"), m["path"]) for m in groups[0]["members"]}
    assert ("box", f"{setup.remote}/model.bin") in members
    assert any(p == f"{setup.local}/copy-of-model.bin" for _, p in members)


def test_without_remote_hafs_the_tree_is_walked_over_sftp(hafs, setup, write):
    write(setup.remote, "a.txt", "alpha")
    write(setup.remote, "d/b.bin", b"12345")
    os.symlink("a.txt", setup.remote / "link")
    setup.config.write_text(
        setup.config.read_text().replace("hafs_command = ", 'hafs_command = "no-such-hafs"\n#')
    )
    r = hafs("scan", f"box:{setup.remote}", "--symlinks")
    assert r.exit_code == 0, r.stderr
    got = files_of(r)
    assert set(got) == {f"{setup.remote}/a.txt", f"{setup.remote}/d/b.bin"}
    rec = got[f"{setup.remote}/d/b.bin"]
    assert rec["size"] == 5 and rec["host"] == "box" and "blake3" not in rec
    links = [x for x in r.records if x["kind"] == "symlink"]
    assert [(x["path"], x["target"]) for x in links] == [(f"{setup.remote}/link", "a.txt")]
    for x in r.records:
        assert validate_record(x) == [], x


def test_remote_scan_refuses_unknown_host_key(hafs, setup, write, tmp_path):
    write(setup.remote, "a.txt", "alpha")
    config = untrusting_config(setup.server, tmp_path)
    setup.config.write_text(
        f'[hosts.stranger]\naddress = "{setup.server.alias}"\nssh_config = "{config}"\n'
    )
    r = hafs("scan", f"stranger:{setup.remote}")
    assert r.exit_code == 3
    assert b"is not known" in r.stderr and b"SHA256:" in r.stderr
    assert files_of(r) == {}


def test_remote_hashes_go_into_the_remote_hash_cache(hafs, setup, write, sshd):
    import sqlite3
    import time

    path = write(setup.remote, "cached.bin", b"c" * 10_000)
    time.sleep(1.1)  # the cache skips files changed within the last second
    r = hafs("scan", f"box:{setup.remote}")
    assert r.exit_code == 0, r.stderr
    cache = os.path.join(sshd.env["XDG_CACHE_HOME"], "hafs", "hashes.sqlite3")
    with sqlite3.connect(cache) as db:
        rows = db.execute(
            "SELECT hex(full) FROM hashes WHERE inode = ?", (os.stat(path).st_ino,)
        ).fetchall()
    assert [row[0].lower() for row in rows] == [files_of(r)[str(path)]["blake3"]]


def test_older_remote_hafs_without_hashing_still_lists_files(hafs, setup, write, tmp_path):
    import sys

    old = tmp_path / "old-hafs"
    old.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--hash*) echo "Error: No such option: --hash" >&2; exit 2;; esac\n'
        f'exec {sys.executable} -m hafs_cli "$@"\n'
    )
    old.chmod(0o755)
    setup.config.write_text(
        setup.config.read_text().replace("hafs_command = ", f'hafs_command = "{old}"\n#')
    )
    write(setup.remote, "a.txt", "alpha")
    r = hafs("scan", f"box:{setup.remote}")
    assert r.exit_code == 2  # the missing hashes are reported
    assert [e["reason"] for e in r.errors if "cannot hash" in e["reason"]]
    got = files_of(r)
    assert list(got) == [f"{setup.remote}/a.txt"] and "blake3" not in got[f"{setup.remote}/a.txt"]


@pytest.mark.parametrize("remote_hafs", [True, False])
def test_a_file_root_and_a_missing_root_behave_as_in_a_local_scan(hafs, setup, write, remote_hafs):
    write(setup.remote, "a.txt", "alpha")
    if not remote_hafs:
        setup.config.write_text(
            setup.config.read_text().replace("hafs_command = ", 'hafs_command = ""\n#')
        )
    r = hafs("scan", f"box:{setup.remote}/a.txt")
    assert r.exit_code == 0, r.stderr
    assert [(x["path"], x["size"], x["host"]) for x in r.records if x["kind"] == "file"] == [
        (f"{setup.remote}/a.txt", 5, "box")
    ]
    missing = hafs("scan", f"box:{setup.remote}/not-there")
    assert missing.exit_code == 2
    assert [(e["reason"], e["path"], e["host"]) for e in missing.errors] == [
        ("cannot scan: No such file or directory", f"{setup.remote}/not-there", "box")
    ]
    for x in r.records + missing.records + missing.errors:
        assert validate_record(x) == [], x
