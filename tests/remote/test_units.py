"""The pure parts: spec parsing, exclude rules, rsync output parsing, the two-way planner."""

from __future__ import annotations

import calendar

import pytest

from hafs_cli.exits import HafsError
from hafs_cli.remote.hosts import is_remote_spec, parse_remote
from hafs_cli.remote.listing import Entry, Excludes, Listing, parse_rsync_list, unescape_rsync
from hafs_cli.remote.manifest import Synced
from hafs_cli.remote.planner import plan_both, plan_oneway
from hafs_cli.remote.rsync import exit_message, parse_itemize
from hafs_cli.remote.sftp import parse_rate
from hafs_cli.remote.ssh import rsync_rsh, ssh_argv


def test_remote_specs():
    host, path = parse_remote("me@box.example:/srv/data", {})
    assert (host.name, host.address, host.user, path) == (
        "box.example",
        "box.example",
        "me",
        "/srv/data",
    )
    host, path = parse_remote("gpu:~/d", {"gpu": {"address": "10.0.0.5", "port": 2222}})
    assert (host.name, host.address, host.port, path) == ("gpu", "10.0.0.5", 2222, "~/d")
    host, path = parse_remote("[fe80::1]:/x", {})
    assert (host.address, path) == ("fe80::1", "/x")
    assert not is_remote_spec("C:\\Users\\me")
    assert not is_remote_spec("./local:dir")
    with pytest.raises(HafsError, match="unknown key"):
        parse_remote("h:/x", {"h": {"adress": "typo"}})


def test_ssh_argv_applies_host_settings(tmp_path):
    key = tmp_path / "id"
    key.write_text("key")
    table = {"address": "lab.ts.net", "user": "u", "port": 2200, "identity_file": str(key)}
    host, _ = parse_remote("lab:/x", {"lab": table})
    argv = ssh_argv(host, "true")
    assert argv[-2:] == ["lab.ts.net", "true"]
    assert argv[argv.index("-p") : argv.index("-p") + 2] == ["-p", "2200"]
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    assert rsync_rsh(host).startswith("ssh ") and f"-i {key}" in rsync_rsh(host)


@pytest.mark.parametrize("key", ["ssh_config", "identity_file"])
def test_a_configured_ssh_file_that_does_not_exist_is_a_usage_error(tmp_path, key):
    missing = tmp_path / "typo"
    host, _ = parse_remote("lab:/x", {"lab": {"address": "lab.ts.net", key: str(missing)}})
    with pytest.raises(HafsError) as info:
        ssh_argv(host, "true")
    assert info.value.code == 2
    assert info.value.message.startswith(f"[hosts.lab] {key} {missing} does not exist; ")


@pytest.mark.parametrize(
    ("path", "is_dir", "excluded"),
    [
        (b".git", True, True),
        (b"a/node_modules", True, True),
        (b"src/x.pyc", False, True),
        (b"src/x.py", False, False),
        (b"build", False, False),  # build/ matches directories only
        (b"build", True, True),
        (b"top.log", False, True),
        (b"sub/top.log", False, False),  # /top.log is anchored
        (b"data/raw/1.bin", False, True),  # raw/*.bin matches the end of the path
        (b".hafs-trash", True, True),
        (b"x/.hafs-part.1234.f", False, True),
    ],
)
def test_exclude_rules(path, is_dir, excluded):
    rules = Excludes([".git", "node_modules", "*.pyc", "build/", "/top.log", "raw/*.bin"])
    assert rules.excluded(path, is_dir) is excluded


def test_itemize_lines():
    item = parse_itemize(b">f+++++++++ 120 dir/new file.txt\n")
    assert (item.op, item.type, item.path, item.size) == ("copy", "file", b"dir/new file.txt", 120)
    item = parse_itemize(b"<f.st...... 7 a\n")
    assert (item.op, item.type) == ("update", "file")
    item = parse_itemize(b"*deleting   0 old/\n")
    assert (item.op, item.type, item.path) == ("delete", "dir", b"old")
    item = parse_itemize(b"cL+++++++++ 5 link -> target\n")
    assert (item.op, item.type, item.path) == ("copy", "symlink", b"link")
    assert parse_itemize(b"cd+++++++++ 4096 ./\n") is None
    assert parse_itemize(b"sending incremental file list\n") is None
    assert parse_itemize(b">f+++++++++ 3 caf\\#351\n").path == b"caf\xe9"
    assert unescape_rsync(b"a\\#012b") == b"a\nb"


def test_rsync_list_parsing():
    out = (
        b"drwxr-xr-x          4096 2026/01/02 03:04:05 .\n"
        b"-rw-r--r--            12 2026/01/02 03:04:05 a b.txt\n"
        b"lrwxrwxrwx             5 2026/01/02 03:04:05 link -> a b.txt\n"
        b"drwxr-xr-x          4096 2026/01/02 03:04:05 .git\n"
    )
    got = parse_rsync_list(out, Excludes([".git"]))
    stamp = calendar.timegm((2026, 1, 2, 3, 4, 5, 0, 0, 0))
    assert got == {
        b"a b.txt": Entry("f", 12, stamp),
        b"link": Entry("l", 7, stamp, b"a b.txt"),
    }


def test_exit_codes_and_rates():
    assert "max-delete" in exit_message(25)
    assert "vanished" in exit_message(24)
    assert parse_rate("5M") == 5 * 1024**2
    assert parse_rate("500") == 500 * 1024
    assert parse_rate("") == 0


def listing(**files: Entry) -> Listing:
    return Listing(entries={k.encode(): v for k, v in files.items()})


F0, F1, F2 = Entry("f", 1, 100), Entry("f", 2, 200), Entry("f", 3, 300)


def test_oneway_plan_copies_updates_and_deletes():
    plan = plan_oneway(listing(a=F0, b=F1), listing(b=F0, c=F2), "push", delete=True)
    assert [(o.op, o.path) for o in plan.ops] == [
        (("copy"), b"a"),
        ("update", b"b"),
        ("delete", b"c"),
    ]
    plan = plan_oneway(listing(a=F0), listing(c=F2), "push", delete=False)
    assert [(o.op, o.path) for o in plan.ops] == [("copy", b"a")]


def test_two_way_plan_table():
    manifest = {
        k.encode(): Synced(F0, F0)
        for k in ("same", "lchg", "rchg", "ldel", "rdel", "both", "ldel_rchg")
    }
    local = listing(same=F0, lchg=F1, rchg=F0, rdel=F0, both=F1, ldel_rchg=None or F0, lnew=F2)
    del local.entries[b"ldel_rchg"]
    remote = listing(same=F0, lchg=F0, rchg=F1, ldel=F0, both=F2, ldel_rchg=F1, rnew=F2)
    plan = plan_both(local, remote, manifest, "laptop", "server", "T")
    got = {(o.path.decode(), o.op, o.direction) for o in plan.ops}
    assert got == {
        ("lchg", "update", "push"),
        ("rchg", "update", "pull"),
        ("ldel", "delete", "push"),
        ("rdel", "delete", "pull"),
        ("both", "conflict", "pull"),  # remote is newer: local becomes the conflict copy
        ("ldel_rchg", "copy", "pull"),
        ("lnew", "copy", "push"),
        ("rnew", "copy", "pull"),
    }
    conflict = next(o for o in plan.ops if o.op == "conflict")
    assert conflict.loser == "local" and conflict.conflict_copy == b"both.conflict-laptop-T"


def test_two_way_plan_never_deletes_inside_unreadable_directory():
    manifest = {b"d/f": Synced(F0, F0)}
    local = Listing(entries={b"d": Entry("d", 0, 1)}, unreadable=[b"d"])
    remote = listing(**{"d": Entry("d", 0, 5), "d/f": F0})
    plan = plan_both(local, remote, manifest, "l", "r", "T")
    assert [(o.op, o.path, o.reason) for o in plan.ops] == [("skip", b"d/f", "unreadable on local")]


@pytest.mark.parametrize(
    ("rate", "ok"),
    [
        ("abc", False),
        ("-5", False),
        ("5M", True),
        ("1.5m", True),
        ("100", True),
        ("5MiB", True),
        ("", True),
    ],
)
def test_bandwidth_limit_is_checked_before_any_transport_runs(rate, ok):
    from hafs_cli.remote.profile import load_profile

    profiles = {"profiles": {"p": {"local": "/tmp/x", "remote": "box:/y", "bwlimit": rate}}}
    if ok:
        assert load_profile("p", profiles, {}, {}).bwlimit == rate
        return
    with pytest.raises(HafsError, match=r"sync p: bad bandwidth limit .*500K or 5M") as info:
        load_profile("p", profiles, {}, {})
    assert info.value.code == 2
