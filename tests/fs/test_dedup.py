"""hafs dedup: the groups are exactly the duplicates, found in stages, cached safely."""

from __future__ import annotations

import os
import socket
import time

import orjson
import pytest

from hafs_cli.paths import path_fields, record_path

from .conftest import (
    BAD_NAME,
    assert_valid,
    blob,
    dupgroup_paths,
    file_digest,
    groups_by_inode,
    jdupes_groups,
    run_hafs,
    write,
)

HOST = socket.gethostname()


def lines(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def scan(hafs, root, *args) -> list[dict]:
    r = hafs("scan", os.fsdecode(root), "--format", "jsonl", *args)
    assert r.exit_code == 0, r.stderr
    return r.records


def dedup(hafs, records, *args):
    return hafs("dedup", "--format", "jsonl", *args, input=lines(records))


def groups_of(result) -> list[dict]:
    return [r for r in result.records if r["kind"] == "dupgroup"]


def summary_of(result) -> dict:
    return next(r for r in result.records if r["kind"] == "summary")


def test_groups_are_exactly_the_known_duplicates(hafs, tree):
    r = dedup(hafs, scan(hafs, tree["root"]), "--only")
    assert r.exit_code == 0, r.stderr
    found = [dupgroup_paths(g) for g in groups_of(r)]
    assert groups_by_inode(found) == groups_by_inode(tree["groups"])
    assert_valid(r.records)


def test_groups_are_exactly_jdupes_groups(hafs, tree):
    r = dedup(hafs, scan(hafs, tree["root"]), "--only")
    ours = groups_by_inode(dupgroup_paths(g) for g in groups_of(r))
    theirs = groups_by_inode(jdupes_groups(tree["root"]))
    assert ours == theirs
    assert len(ours) == 3


def test_dupgroup_record_names_size_waste_members_and_keeper(hafs, tmp_path):
    old = write(tmp_path / "old.txt", b"same bytes\n")
    new = write(tmp_path / "sub/new.txt", b"same bytes\n")
    os.utime(old, ns=(1_000_000_000, 1_000_000_000))
    os.utime(new, ns=(2_000_000_000, 2_000_000_000))
    r = hafs("dedup", str(tmp_path), "--only", "--format", "jsonl")
    (group,) = groups_of(r)
    assert group["blake3"] == file_digest(old)
    assert group["size"] == 11
    assert group["count"] == 2
    assert group["waste"] == 11
    assert [m["path"] for m in group["members"]] == [old.decode(), new.decode()]
    assert group["keeper"]["path"] == old.decode()
    assert group["keeper_rule"] == "oldest"
    assert group["members"][0]["host"] == HOST
    assert group["members"][0]["mtime_ns"] == 1_000_000_000


def test_hard_links_of_one_file_are_not_duplicates(hafs, tmp_path):
    a = write(tmp_path / "a", blob(1, 9000))
    os.link(a, tmp_path / "b")
    os.link(a, tmp_path / "c")
    r = hafs("dedup", str(tmp_path), "--only", "--format", "jsonl")
    assert groups_of(r) == []
    assert summary_of(r)["hard_links"] == 2
    assert summary_of(r)["edges_hashed"] == 0  # a size group of one file is never read


def test_hard_link_names_are_listed_on_their_member(hafs, tree):
    r = dedup(hafs, scan(hafs, tree["root"]), "--only")
    mid = next(g for g in groups_of(r) if g["size"] == 20_000)
    names = {n for m in mid["members"] for n in [m["path"], *m.get("links", [])]}
    root = tree["root"].decode()
    assert names == {f"{root}/a/mid.dat", f"{root}/d/mid-copy.dat", f"{root}/d/mid-hardlink.dat"}


def test_empty_files_only_with_empty_flag(hafs, tree):
    records = scan(hafs, tree["root"])
    assert all(g["size"] > 0 for g in groups_of(dedup(hafs, records, "--only")))
    with_empty = groups_of(dedup(hafs, records, "--only", "--empty"))
    empty = [g for g in with_empty if g["size"] == 0]
    assert len(empty) == 1
    assert {os.path.basename(m["path"]) for m in empty[0]["members"]} == {"empty-1", "empty-2"}


def test_symlinks_are_never_members(hafs, tree):
    records = scan(hafs, tree["root"], "--symlinks")
    assert any(r["kind"] == "symlink" for r in records)
    r = dedup(hafs, records, "--only")
    members = {m["path"] for g in groups_of(r) for m in g["members"]}
    assert not any("link-to" in p for p in members)


def test_stages_read_only_what_they_must(hafs, tree):
    r = dedup(hafs, scan(hafs, tree["root"]), "--only", "--no-cache")
    s = summary_of(r)
    # size groups with >1 file: big(3) small(2) mid(2) same-size(2) head(2) edges(2) = 13
    assert s["candidates"] == 13
    assert s["edges_hashed"] == 13
    # full hash only where head+tail matched: big(3) small(2) mid(2) edges(2); the head
    # files and the same-size files (different content within 8 KiB) stop at head+tail
    assert s["full_hashed"] == 9
    assert s["groups"] == 3


def test_size_limits(hafs, tree):
    records = scan(hafs, tree["root"])
    sizes = {g["size"] for g in groups_of(dedup(hafs, records, "--only", "--min-size", "100"))}
    assert sizes == {300_000, 20_000}
    sizes = {g["size"] for g in groups_of(dedup(hafs, records, "--only", "--max-size", "20000"))}
    assert sizes == {16, 20_000}


def test_every_input_record_is_passed_on_in_order(hafs, tree):
    records = scan(hafs, tree["root"]) + [{"kind": "mystery", "x": [1, 2]}]
    r = dedup(hafs, records)
    passed = [
        rec for rec in r.records if rec["kind"] != "dupgroup" and rec.get("command") != "dedup"
    ]
    assert passed == records


def test_invalid_utf8_member_round_trips(hafs, tree):
    r = dedup(hafs, scan(hafs, tree["root"]), "--only")
    small = next(g for g in groups_of(r) if g["size"] == 16)
    raw = {record_path(m) for m in small["members"]}
    assert os.path.join(tree["root"], b"b", BAD_NAME) in raw


def test_second_run_hashes_nothing(hafs, tree):
    records = scan(hafs, tree["root"])
    time.sleep(1.1)  # out of the racy window: files changed <1 s ago are not cached
    first = dedup(hafs, records, "--only")
    second = dedup(hafs, records, "--only")
    assert summary_of(first)["edges_hashed"] == 13
    s = summary_of(second)
    assert (s["edges_hashed"], s["full_hashed"], s["bytes_hashed"]) == (0, 0, 0)
    assert s["cache_hits"] == 13
    assert groups_of(second) == groups_of(first)


def test_a_rescan_writes_nothing_to_the_cache(hafs, tree):
    """An unchanged tree: one read of the cache, no transaction, not a byte changed."""
    from hafs_cli.fs import hashcache

    records = scan(hafs, tree["root"])
    time.sleep(1.1)
    dedup(hafs, records, "--only")
    db = hashcache.default_path()
    files = [db, db.with_name(db.name + "-wal")]

    def state():  # a write shows in the bytes or, when it rewrote the same bytes, the mtime
        return [(p.read_bytes(), p.stat().st_mtime_ns) if p.exists() else None for p in files]

    before = state()
    time.sleep(0.05)
    s = summary_of(dedup(hafs, records, "--only"))
    assert s["cache_hits"] == 13
    assert state() == before


def test_same_size_rewrite_with_restored_mtime_is_not_served_a_stale_hash(hafs, tmp_path):
    a = write(tmp_path / "a.bin", blob(1, 50_000))
    b = write(tmp_path / "b.bin", blob(1, 50_000))
    time.sleep(1.1)
    assert len(groups_of(hafs("dedup", str(tmp_path), "--only", "--format", "jsonl"))) == 1
    st = os.stat(b)
    changed = bytearray(blob(1, 50_000))
    changed[25_000] ^= 0xFF  # same size, same head and tail
    write(b, bytes(changed))
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(b).st_mtime_ns == st.st_mtime_ns
    r = hafs("dedup", str(tmp_path), "--only", "--format", "jsonl")
    assert groups_of(r) == []
    assert summary_of(r)["full_hashed"] == 1
    assert summary_of(r)["cache_hits"] == 1  # a.bin, unchanged
    assert file_digest(a) != file_digest(b)


def test_records_changed_since_scan_are_reported_not_hashed(hafs, tmp_path):
    write(tmp_path / "a.bin", blob(1, 9000))
    b = write(tmp_path / "b.bin", blob(1, 9000))
    records = scan(hafs, tmp_path)
    write(b, blob(2, 9000))
    r = dedup(hafs, records, "--only")
    assert groups_of(r) == []
    assert [e["reason"] for e in r.errors] == ["file changed since it was scanned; scan again"]
    assert r.exit_code == 2


def test_records_with_a_hash_from_another_host_join_local_groups(hafs, tmp_path):
    data = blob(3, 40_000)
    local = write(tmp_path / "photo.jpg", data)
    records = scan(hafs, tmp_path)
    remote = {
        "kind": "file",
        "path": "/srv/photos/photo.jpg",
        "host": "nas",
        "size": len(data),
        "mtime_ns": 5,
        "dev": 1,
        "inode": 1,
        "blake3": file_digest(local),
    }
    other = dict(remote, path="/srv/photos/other.jpg", inode=2, blake3="0" * 64)
    unhashed = dict(remote, path="/srv/photos/x.jpg", inode=3, blake3=None)
    del unhashed["blake3"]
    r = dedup(hafs, records + [remote, other, unhashed], "--only")
    (group,) = groups_of(r)
    assert {(m["host"], m["path"]) for m in group["members"]} == {
        (HOST, local.decode()),
        ("nas", "/srv/photos/photo.jpg"),
    }
    assert summary_of(r)["remote_unhashed"] == 1
    assert_valid(r.records)


@pytest.mark.parametrize(
    ("args", "keeper", "rule"),
    [
        ((), "Downloads/x.bin", "oldest"),
        (("--prefer", "Code"), "Code/proj/x.bin", "prefer"),
        (("--avoid", "Downloads"), "Code/proj/x.bin", "avoid"),
    ],
)
def test_keeper_rules(hafs, tmp_path, args, keeper, rule):
    code = write(tmp_path / "Code/proj/x.bin", b"payload")
    dl = write(tmp_path / "Downloads/x.bin", b"payload")
    os.utime(dl, ns=(10, 10))
    os.utime(code, ns=(20, 20))
    (group,) = groups_of(hafs("dedup", str(tmp_path), "--only", "--format", "jsonl", *args))
    assert group["keeper"]["path"] == str(tmp_path / keeper)
    assert group["keeper_rule"] == rule


def test_a_pattern_that_is_not_utf8_is_refused_with_a_message(hafs, tmp_path):
    write(tmp_path / "a/x.bin", b"payload")
    write(tmp_path / "b/x.bin", b"payload")
    for option in ("--prefer", "--avoid"):  # argv bytes of another encoding: surrogates
        r = hafs("dedup", str(tmp_path), "--only", option, "caf\udce9/")
        assert r.exit_code == 2 and not r.stdout
        assert f"{option} 'caf\ufffd/': the pattern is not valid UTF-8" in r.stderr.decode()
    r = hafs("dedup", str(tmp_path), "--only", "--prefer", "café/")  # UTF-8 is fine
    assert r.exit_code == 0 and len(groups_of(r)) == 1


def test_keeper_rule_prefer_from_config_with_home(hafs, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "Code/x.bin", b"payload")
    write(tmp_path / "backup/deep/er/x.bin", b"payload")
    os.utime(tmp_path / "Code/x.bin", ns=(50, 50))
    os.utime(tmp_path / "backup/deep/er/x.bin", ns=(10, 10))
    (tmp_path / "hafs.toml").write_text('[dedup]\nprefer = ["~/Code"]\n')
    r = hafs(
        "dedup",
        str(tmp_path / "Code"),
        str(tmp_path / "backup"),
        "--only",
        "--format",
        "jsonl",
        cwd=tmp_path,
    )
    (group,) = groups_of(r)
    assert group["keeper"]["path"] == str(tmp_path / "Code/x.bin")
    assert (group["keeper_rule"], group["keeper_pattern"]) == ("prefer", "~/Code")


def test_shortest_path_then_path_order_break_ties(hafs, tmp_path):
    for name in ("bb/x", "a/x", "ccc/x"):
        write(tmp_path / name, b"tie")
        os.utime(tmp_path / name, ns=(7, 7))
    (group,) = groups_of(hafs("dedup", str(tmp_path), "--only", "--format", "jsonl"))
    assert group["keeper"]["path"] == str(tmp_path / "a/x")
    assert group["keeper_rule"] == "shortest_path"
    os.rename(tmp_path / "bb", tmp_path / "b")
    (group,) = groups_of(hafs("dedup", str(tmp_path), "--only", "--format", "jsonl"))
    assert group["keeper_rule"] == "path_order"


def test_suggest_emits_valid_actions_for_every_removable_name(hafs, tree):
    r = dedup(hafs, scan(hafs, tree["root"]), "--only", "--suggest", "trash")
    actions = [rec for rec in r.records if rec["kind"] == "action"]
    assert_valid(actions)
    # big: 2 copies, small: 1, mid: copy (the hard-linked pair is one copy or the keeper)
    groups = groups_of(r)
    keepers = {record_path(g["keeper"]) for g in groups}
    assert not keepers & {record_path(a) for a in actions}
    assert len(actions) in (4, 5)
    for action in actions:
        assert action["blake3"] == file_digest(record_path(action))
        assert action["keeper"]["path"] != action["path"]


def test_unreadable_files_become_errors_and_jdupes_agrees(tmp_path):
    root = tmp_path / "t"
    write(root / "ok-1", b"readable twin")
    write(root / "ok-2", b"readable twin")
    locked = write(root / "locked", b"readable twin")
    os.chmod(locked, 0)
    r = run_hafs(["dedup", str(root), "--only", "--format", "jsonl"], unprivileged_run=True)
    out = [orjson.loads(line) for line in r.stdout.splitlines()]
    errors = [orjson.loads(line) for line in r.stderr.splitlines() if line.startswith(b"{")]
    assert r.returncode == 2, r.stderr
    assert [(e["path"], e["errno"]) for e in errors] == [(locked.decode(), 13)]
    (group,) = [g for g in out if g["kind"] == "dupgroup"]
    ours = {record_path(m) for m in group["members"]}
    assert ours == {os.fsencode(root / "ok-1"), os.fsencode(root / "ok-2")}
    assert jdupes_groups(os.fsencode(root), unprivileged_run=True) == [ours]


def test_paths_fields_helper_matches_records():
    assert path_fields(b"\xff")["path_b64"] == "/w=="


def test_a_cache_from_another_format_version_is_dropped(hafs, tree):
    import sqlite3

    from hafs_cli.fs.hashcache import VERSION, default_path

    records = scan(hafs, tree["root"])
    time.sleep(1.1)
    dedup(hafs, records, "--only")
    db = sqlite3.connect(default_path())
    db.execute("UPDATE hashes SET edges = x'00'")  # what an older format might have stored
    db.execute(f"PRAGMA user_version = {VERSION - 1}")
    db.commit()
    db.close()
    r = dedup(hafs, records, "--only")
    assert summary_of(r)["cache_hits"] == 0
    assert len(groups_of(r)) == 3


def test_table_output_for_people(hafs, tree):
    r = hafs("dedup", os.fsdecode(tree["root"]), "--format", "table", "--suggest", "trash")
    assert r.exit_code == 0, r.stderr
    text = r.stdout.decode()
    assert "duplicate groups" in text and "suggested actions" in text
    assert "585.9 KiB" in text  # the big group's waste: 2 x 300,000 bytes
    assert "(oldest)" in text or "(shortest_path)" in text or "(path_order)" in text


def test_copies_in_a_trash_or_quarantine_are_kept_last(hafs, tmp_path):
    old = write(tmp_path / "mnt/.Trash-1000/files/x.bin", b"payload")
    new = write(tmp_path / "home/x.bin", b"payload")
    os.utime(old, ns=(1, 1))  # older, and would otherwise be kept
    os.utime(new, ns=(9, 9))
    (group,) = groups_of(hafs("dedup", str(tmp_path), "--only", "--format", "jsonl"))
    assert group["keeper"]["path"] == new.decode()
    assert (group["keeper_rule"], group["keeper_pattern"]) == ("avoid", ".Trash-*/")


def test_overlapping_scan_roots_do_not_make_a_file_its_own_duplicate(hafs, tmp_path):
    write(tmp_path / "a/x.bin", b"same")
    write(tmp_path / "a/sub/y.bin", b"same")
    records = scan(hafs, tmp_path / "a") + scan(hafs, tmp_path / "a/sub")
    (group,) = groups_of(dedup(hafs, records, "--only"))
    assert group["count"] == 2
    assert all("links" not in m for m in group["members"])


def test_cache_entries_expire(hafs, tree, monkeypatch):
    import sqlite3

    from hafs_cli.fs import hashcache

    records = scan(hafs, tree["root"])
    time.sleep(1.1)
    dedup(hafs, records, "--only")
    db = sqlite3.connect(hashcache.default_path())
    db.execute(
        "UPDATE hashes SET stored_s = stored_s - ? WHERE size = 20000", (hashcache.MAX_AGE_S + 1,)
    )
    db.commit()
    db.close()
    write(tree["root"] + b"/new-1", b"n" * 9999)  # anything to store makes it prune
    write(tree["root"] + b"/new-2", b"n" * 9999)
    time.sleep(1.1)
    s = summary_of(dedup(hafs, scan(hafs, tree["root"]), "--only"))
    assert s["cache_hits"] == 11  # the two expired mid.dat entries were forgotten
    assert s["edges_hashed"] == 4  # ...and hashed again, with the two new files


def test_on_a_terminal_without_input_it_says_what_to_give(tmp_path):
    import subprocess
    import sys

    from .conftest import REPO

    for args in (["dedup"], ["apply"]):
        master, slave = os.openpty()
        try:
            r = subprocess.run(
                [sys.executable, "-m", "hafs_cli", *args],
                stdin=slave,
                capture_output=True,
                env=dict(os.environ, PYTHONPATH=str(REPO)),
                timeout=60,
            )
        finally:
            os.close(slave)
            os.close(master)
        assert r.returncode == 2
        assert r.stderr.startswith(b"hafs: error: nothing to read: ")


def test_keeper_pattern_prefilter_agrees_with_pathspec(tmp_path, monkeypatch):
    """The combined regex only says "no pattern can match" where pathspec agrees."""
    from hafs_cli.fs.keeper import KeeperRules

    monkeypatch.setenv("HOME", str(tmp_path))
    rules = KeeperRules(
        prefer=("~/Code", "/srv/photos/**/*.jpg", "!/srv/photos/tmp", "*.keep"),
        avoid=("Downloads/", "**/node_modules/", "/tmp/x?/"),
    )
    paths = [
        f"{tmp_path}/Code/a.c",
        f"{tmp_path}/Codex/a.c",
        "/srv/photos/2024/a.jpg",
        "/srv/photos/a.png",
        "/srv/photos/tmp",
        "/home/u/Downloads/x.iso",
        "/home/u/Downloads",
        "/w/node_modules/p/i.js",
        "/tmp/x1/f",
        "/tmp/x12/f",
        "/a/.Trash-1000/files/f",
        "/a/Trash/files/f",
        "/a/.hafs-quarantine-3/f",
        "/data/b.keep",
        "/data/b.keeper",
    ]
    trash_only = KeeperRules()  # only the built-in trash patterns: a hard-coded prefilter
    for text in paths:
        raw = text.encode()
        for r in (rules, trash_only):
            for prefer in (True, False):
                assert (r._maybe_prefer if prefer else r._maybe_avoid) is not None
                exact = KeeperRules._first_text(r.specs(prefer), text.lstrip("/"))
                assert r.match(prefer, raw) == exact, text
    # indices(): match() for a batch of paths (as dedup's C groups give them), or None
    texts = [t.lstrip("/") for t in paths]
    for r in (rules, trash_only):
        for prefer in (True, False):
            got = r.indices(prefer, texts)
            want = [r.match(prefer, t.encode()) for t in paths]
            none = len(r.prefer if prefer else r.avoid)
            assert got == (None if all(w == none for w in want) else want), (r, prefer)
    assert trash_only.indices(True, texts) is None  # no prefer patterns
    assert trash_only.indices(False, texts) is not None  # paths in a trash
    assert trash_only.indices(False, texts[:10] + texts[13:]) is None
    avoided = len(rules.avoid)
    exact_avoid = rules.specs(False)
    hits = [t for t in paths if KeeperRules._first_text(exact_avoid, t.lstrip("/")) < avoided]
    assert hits == [  # the comparison above was not vacuous
        "/home/u/Downloads/x.iso",
        "/w/node_modules/p/i.js",
        "/tmp/x1/f",
        "/a/.Trash-1000/files/f",
        "/a/Trash/files/f",
        "/a/.hafs-quarantine-3/f",
    ]
    preferred = [t for t in paths if rules.match(True, t.encode()) < 4]
    assert preferred == [f"{tmp_path}/Code/a.c", "/srv/photos/2024/a.jpg", "/data/b.keep"]


def test_records_without_device_and_inode_are_hashed_not_looked_up(hafs, tree):
    records = scan(hafs, tree["root"])
    time.sleep(1.1)
    first = dedup(hafs, records, "--only")  # fills the cache
    # files with one name lose their identity (hard links keep theirs, to be folded)
    bare = [
        {k: v for k, v in r.items() if r.get("nlink") != 1 or k not in ("dev", "inode")}
        for r in records
    ]
    r = dedup(hafs, bare, "--only")
    assert r.exit_code == 0, r.stderr
    s = summary_of(r)
    assert s["edges_hashed"] > 0 and s["cache_hits"] < summary_of(first)["edges_hashed"]
    assert groups_by_inode(dupgroup_paths(g) for g in groups_of(r)) == groups_by_inode(
        dupgroup_paths(g) for g in groups_of(first)
    )


def test_hash_cache_lookup_matches_whole_keys_across_devices(tmp_path):
    """HashCache.lookup (also used by remote scans): an entry serves only its exact key."""
    from hafs_cli.fs.hashcache import HashCache

    cache = HashCache(tmp_path / "c.sqlite3")
    old = 1_000_000_000_000_000_000  # ctime long before now: outside the racy window
    cache.store(
        [
            ((1, 10, 100, old, old), b"e1", b"f1"),
            ((1, 11, 100, old, old), b"e2", None),
            ((2, 10, 200, old, old), None, b"f3"),
        ]
    )
    keys = [
        (2, 10, 200, old, old),  # another device, same inode number
        (1, 10, 100, old, old),
        (1, 10, 100, old + 1, old),  # mtime changed
        (1, 11, 100, old, old + 1),  # ctime changed
        (1, 11, 101, old, old),  # size changed
        (1, 12, 100, old, old),  # never stored
        (1, 10, 100, old, old),  # the same key twice (two names of one file)
    ]
    assert cache.lookup(keys) == {0: (None, b"f3"), 1: (b"e1", b"f1"), 6: (b"e1", b"f1")}
    assert cache.hits == 3
    cache.close()


def test_the_built_in_trash_regexes_are_what_pathspec_makes():
    import pathspec

    from hafs_cli.fs.ignore import _NAMED_GROUP
    from hafs_cli.fs.keeper import TRASH_REGEXES
    from hafs_cli.fs.trash import TRASH_PATTERNS

    made = tuple(
        _NAMED_GROUP.sub("(?:", p.regex.pattern)
        for t in TRASH_PATTERNS
        for p in pathspec.GitIgnoreSpec.from_lines([t]).patterns
    )
    assert made == TRASH_REGEXES
    # every match holds one of TRASH_WORDS (what lets KeeperRules.indices skip the regexes)
    import re

    from hafs_cli.fs.keeper import TRASH_WORDS

    prefix = "^(?:.+/)?"
    for regex in TRASH_REGEXES:
        assert regex.startswith(prefix), regex
        literal = re.split(r"[\[(*+?{|]", regex[len(prefix) :].replace("\\", ""))[0]
        assert any(w in literal for w in TRASH_WORDS), regex
