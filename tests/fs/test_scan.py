"""hafs scan: records, excludes, .gitignore, depth, links, errors and the parallel walk."""

from __future__ import annotations

import os
import socket
import stat
import subprocess

import orjson
import pytest

from hafs_cli.commands.scan import is_remote
from hafs_cli.paths import record_path

from .conftest import BAD_NAME, assert_valid, run_hafs, write

HOST = socket.gethostname()


def scan(hafs, *args):
    return hafs("scan", "--format", "jsonl", *[os.fsdecode(a) for a in args])


def files(result) -> set[str]:
    return {r["path"] for r in result.records if r["kind"] == "file"}


def rel(root, names) -> set[str]:
    return {os.path.join(str(root), n) for n in names}


def summary(result) -> dict:
    return next(r for r in result.records if r["kind"] == "summary")


def test_file_record_has_every_field(hafs, tmp_path):
    p = write(tmp_path / "Photo.JPG", b"12345")
    os.utime(p, ns=(1, 1_700_000_000_123_456_789))
    r = scan(hafs, tmp_path)
    assert r.exit_code == 0, r.stderr
    st = os.lstat(p)
    (rec,) = [x for x in r.records if x["kind"] == "file"]
    assert rec == {
        "kind": "file",
        "path": p.decode(),
        "size": 5,
        "mtime_ns": 1_700_000_000_123_456_789,
        "ctime_ns": st.st_ctime_ns,
        "dev": st.st_dev,
        "inode": st.st_ino,
        "nlink": 1,
        "mode": st.st_mode,
        "extension": "jpg",
        "host": HOST,
    }
    assert_valid(r.records)


def test_summary_counts_files_bytes_errors_and_rate(hafs, tmp_path):
    for i in range(5):
        write(tmp_path / f"d{i % 2}/f{i}", b"x" * i)
    s = summary(scan(hafs, tmp_path))
    assert (s["files"], s["bytes"], s["dirs"], s["errors"]) == (5, 10, 3, 0)
    assert s["elapsed_s"] >= 0 and s["files_per_s"] >= 0


def test_relative_roots_give_absolute_paths(hafs, tmp_path):
    write(tmp_path / "a/b.txt", b"b")
    r = hafs("scan", "a", "--format", "jsonl", cwd=tmp_path)
    assert files(r) == {str(tmp_path / "a/b.txt")}


def test_invalid_utf8_names_round_trip(hafs, tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), BAD_NAME)
    write(raw, b"x")
    (rec,) = [x for x in scan(hafs, tmp_path).records if x["kind"] == "file"]
    assert "\ufffd" in rec["path"]
    assert record_path(rec) == raw
    assert_valid([rec])


def test_names_with_newlines_and_spaces(hafs, tmp_path):
    write(tmp_path / "a b\nc", b"x")
    assert files(scan(hafs, tmp_path)) == {str(tmp_path / "a b\nc")}


def test_exclude_prunes_a_directory_without_descending(hafs, tmp_path):
    write(tmp_path / "src/main.c", b"int main;")
    write(tmp_path / "build/out.o", b"obj")
    write(tmp_path / "build/deep/x.o", b"obj")
    write(tmp_path / "src/notes.tmp", b"t")
    r = scan(hafs, tmp_path, "--exclude", "build/", "--exclude", "*.tmp")
    assert files(r) == rel(tmp_path, ["src/main.c"])
    s = summary(r)
    assert s["dirs"] == 2  # root and src: build/ was not entered
    assert s["excluded"] == 2


def test_excludes_from_config_add_to_flags(hafs, tmp_path):
    write(tmp_path / "t/keep.txt", b"k")
    write(tmp_path / "t/node_modules/x.js", b"x")
    write(tmp_path / "t/cache.bin", b"c")
    (tmp_path / "hafs.toml").write_text('[scan]\nexclude = ["node_modules"]\n')
    r = hafs("scan", "t", "--exclude", "*.bin", "--format", "jsonl", cwd=tmp_path)
    assert files(r) == rel(tmp_path, ["t/keep.txt"])


def test_gitignore_files_are_honoured_with_negation_and_nesting(hafs, tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\n/dist\n")
    write(tmp_path / "a.log", b"l")
    write(tmp_path / "keep.log", b"k")
    write(tmp_path / "dist/bundle.js", b"b")
    write(tmp_path / "sub/dist/ok.js", b"o")  # /dist is anchored to the top
    write(tmp_path / "sub/.gitignore", b"secret.txt\n!debug.log\n")
    write(tmp_path / "sub/secret.txt", b"s")
    write(tmp_path / "sub/public.txt", b"p")
    write(tmp_path / "sub/debug.log", b"d")  # *.log above, but the deeper !debug.log wins
    r = scan(hafs, tmp_path, "--gitignore")
    expected = [".gitignore", "keep.log", "sub/dist/ok.js", "sub/.gitignore", "sub/public.txt"]
    assert files(r) == rel(tmp_path, [*expected, "sub/debug.log"])
    # what git itself lists as not ignored
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert files(r) == rel(tmp_path, listed)
    # a scan started inside the work tree still obeys the .gitignore above it
    assert files(scan(hafs, tmp_path / "sub", "--gitignore")) == rel(
        tmp_path, ["sub/dist/ok.js", "sub/.gitignore", "sub/public.txt", "sub/debug.log"]
    )
    assert str(tmp_path / "a.log") in files(scan(hafs, tmp_path))


def test_hidden_files_can_be_left_out(hafs, tmp_path):
    write(tmp_path / ".cache/x", b"x")
    write(tmp_path / ".env", b"e")
    write(tmp_path / "seen", b"s")
    assert files(scan(hafs, tmp_path, "--no-hidden")) == rel(tmp_path, ["seen"])
    assert len(files(scan(hafs, tmp_path))) == 3


def test_max_depth(hafs, tmp_path):
    write(tmp_path / "1.txt", b"")
    write(tmp_path / "a/2.txt", b"")
    write(tmp_path / "a/b/3.txt", b"")
    assert files(scan(hafs, tmp_path, "--max-depth", "1")) == rel(tmp_path, ["1.txt"])
    assert files(scan(hafs, tmp_path, "--max-depth", "2")) == rel(tmp_path, ["1.txt", "a/2.txt"])
    assert len(files(scan(hafs, tmp_path, "--max-depth", "0"))) == 3


def test_dir_and_symlink_records_with_flags(hafs, tmp_path):
    write(tmp_path / "d/f", b"x")
    os.symlink("d/f", tmp_path / "link")
    os.symlink(b"nowhere-\xff", os.path.join(os.fsencode(tmp_path), b"dangling"))
    r = scan(hafs, tmp_path, "--dirs", "--symlinks")
    kinds = sorted(
        (x["kind"], os.path.basename(x["path"])) for x in r.records if x["kind"] != "summary"
    )
    assert kinds == [
        ("dir", "d"),
        ("dir", tmp_path.name),
        ("file", "f"),
        ("symlink", "dangling"),
        ("symlink", "link"),
    ]
    links = {os.path.basename(x["path"]): x for x in r.records if x["kind"] == "symlink"}
    assert links["link"]["target"] == "d/f"
    assert record_path(links["dangling"], "target") == b"nowhere-\xff"
    assert_valid(r.records)
    assert {x["kind"] for x in scan(hafs, tmp_path).records} == {"file", "summary"}


def test_follow_symlinks_lists_targets_and_detects_loops(hafs, tmp_path):
    write(tmp_path / "real/f.txt", b"x")
    os.symlink("real", tmp_path / "alias")
    os.symlink("..", tmp_path / "real/up")  # a loop back to the root
    r = scan(hafs, tmp_path, "--follow-symlinks")
    # the directory is listed once, under whichever name the walk reached first
    (listed,) = files(r)
    assert listed in rel(tmp_path, ["real/f.txt", "alias/f.txt"])
    loops = [e for e in r.errors if e["errno"] == 40]  # ELOOP
    assert [e["path"] for e in loops] == [os.path.join(os.path.dirname(listed), "up")]
    assert r.exit_code == 2


def scan_with_mode(tmp_path, directory: str, mode: int):
    """Scan tmp_path (where mode bits bind, even as root) with `directory` set to `mode`."""
    os.chmod(tmp_path / directory, mode)
    try:
        r = run_hafs(["scan", str(tmp_path), "--format", "jsonl"], unprivileged_run=True)
    finally:
        os.chmod(tmp_path / directory, 0o755)
    out = [orjson.loads(line) for line in r.stdout.splitlines()]
    errors = [orjson.loads(line) for line in r.stderr.splitlines()]
    return {x["path"] for x in out if x["kind"] == "file"}, errors, r.returncode


def test_unreadable_directory_is_an_error_and_the_walk_goes_on(tmp_path):
    write(tmp_path / "open/a.txt", b"a")
    write(tmp_path / "locked/b.txt", b"b")
    listed, errors, code = scan_with_mode(tmp_path, "locked", 0)
    assert listed == {str(tmp_path / "open/a.txt")}
    assert [(e["path"], e["errno"], e["message"]) for e in errors] == [
        (str(tmp_path / "locked"), 13, "Permission denied")
    ]
    assert code == 2


def test_missing_root_is_an_error_record(hafs, tmp_path):
    write(tmp_path / "here", b"h")
    r = scan(hafs, tmp_path / "nope", tmp_path / "here")
    assert files(r) == {str(tmp_path / "here")}
    assert [(e["path"], e["errno"]) for e in r.errors] == [(str(tmp_path / "nope"), 2)]


def test_parallel_walk_lists_exactly_what_one_process_lists(hafs, tmp_path):
    for i in range(150):
        write(tmp_path / f"d{i % 30}/e{i % 7}/f{i}.bin", b"x" * i)
    os.chmod(tmp_path / "d3/e3", stat.S_IRWXU)
    one = scan(hafs, tmp_path, "--jobs", "1")
    many = scan(hafs, tmp_path, "--jobs", "3")
    key = lambda r: sorted(orjson.dumps(x) for x in r.records if x["kind"] == "file")  # noqa: E731
    assert key(one) == key(many)
    assert len(key(one)) == 150
    s1, s3 = summary(one), summary(many)
    assert {k: s1[k] for k in ("files", "bytes", "dirs")} == {
        k: s3[k] for k in ("files", "bytes", "dirs")
    }


def test_remote_specs_are_told_apart_from_local_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_remote("nas:/srv/photos")
    assert is_remote("user@host:data")
    assert not is_remote("/abs/path")
    assert not is_remote("C:\\Users\\me")
    assert not is_remote("C:/Users")
    (tmp_path / "odd:name").mkdir()
    assert not is_remote("odd:name")  # an existing local path wins


def test_one_file_system_stays_off_other_mounts(hafs, tmp_path):
    # /dev/shm is its own tmpfs mount inside /dev on Linux; a file below it is on another fs
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat("/dev").st_dev:
        import pytest

        pytest.skip("needs /dev/shm mounted as its own filesystem")
    import tempfile

    inner = tempfile.mkdtemp(dir="/dev/shm", prefix="hafs-xfs-")
    try:
        write(os.path.join(inner, "f.txt"), b"x")
        args = ("/dev", "--max-depth", "3")
        assert os.path.join(inner, "f.txt") in files(scan(hafs, *args))
        assert not any(p.startswith("/dev/shm/") for p in files(scan(hafs, *args, "-x")))
    finally:
        import shutil

        shutil.rmtree(inner)


def test_entries_that_cannot_be_stat_ed_are_errors(tmp_path):
    # r-- without x: the names can be listed, but nothing inside can be stat'ed or opened
    write(tmp_path / "listable/secret.txt", b"s")
    write(tmp_path / "ok.txt", b"o")
    listed, errors, code = scan_with_mode(tmp_path, "listable", 0o444)
    assert listed == {str(tmp_path / "ok.txt")}
    assert [(e["path"], e["errno"]) for e in errors] == [
        (str(tmp_path / "listable/secret.txt"), 13)
    ]
    assert code == 2


def test_no_size_cap(hafs, tmp_path):
    big = tmp_path / "disk.img"
    with open(big, "wb") as fh:
        fh.truncate(10 * 1024**3)  # sparse: 10 GiB listed, nothing written
    (rec,) = [x for x in scan(hafs, tmp_path).records if x["kind"] == "file"]
    assert rec["size"] == 10 * 1024**3
    assert summary(scan(hafs, tmp_path))["bytes"] == 10 * 1024**3


def test_an_absolute_exclude_inside_the_root_is_anchored_there(hafs, tmp_path):
    write(tmp_path / "Library/cache.db", b"c")
    write(tmp_path / "Code/Library/keep.txt", b"k")
    r = scan(hafs, tmp_path, "--exclude", str(tmp_path / "Library"))
    assert files(r) == rel(tmp_path, ["Code/Library/keep.txt"])


NAMES = [
    b"plain.TXT",
    b"no-extension",
    b".hidden.Tar.GZ",
    b'quote"d.json',
    b"back\\slash.c",
    b"tab\tand\nnewline.md",
    b"percent %s %d %%.log",
    "caf\u00e9-\u65e5\u672c.JPG".encode(),
    BAD_NAME,
    b"del\x7fete.bin",
]


@pytest.mark.parametrize("pure", ["1", ""], ids=["python", "c-if-built"])
def test_preformatted_lines_are_exactly_the_records_of_the_slow_path(tmp_path, monkeypatch, pure):
    """The walk writes most `file` records by formatting bytes (%-format in Python, or
    the C lister); each line must be what serialising the record dict gives, for every
    kind of name and directory name."""
    from hafs_cli import records
    from hafs_cli.fs.walk import DirTask, ScanOptions, Walker

    monkeypatch.setenv("HAFS_NO_SPEEDUPS", pure)

    dirs = [b"ok", b'we"ird\\dir', "\u00fcml".encode(), b"bad-\xff-dir"]
    for d in dirs:
        for i, name in enumerate(NAMES):
            write(os.path.join(os.fsencode(tmp_path), d, name), b"x" * i)
    walker = Walker(ScanOptions(host='h"o%st'))
    checked = 0
    for d in dirs:
        path = os.path.join(os.fsencode(tmp_path), d)
        task = DirTask(path, d, 1, 0, (), frozenset(), os.fsencode(tmp_path))
        lines: list[bytes] = []
        assert list(walker.scan_dir(task, lambda t: None, lines)) == []
        for line in b"".join(lines).splitlines(keepends=True):
            rec = orjson.loads(line)
            raw = record_path(rec)
            st = os.lstat(raw)
            assert line == records.dumps(walker.file_record(raw, os.path.basename(raw), st))
            checked += 1
    assert checked == len(dirs) * len(NAMES)


def test_jsonl_and_json_output_carry_the_same_records(hafs, tmp_path):
    for i, name in enumerate(NAMES):
        write(os.path.join(os.fsencode(tmp_path), b"sub", name), b"y" * i)
    fast = scan(hafs, tmp_path)
    slow = hafs("scan", "--format", "json", str(tmp_path))
    assert fast.exit_code == slow.exit_code == 0
    records_of = lambda out: sorted(  # noqa: E731
        (r for r in out if r["kind"] == "file"), key=lambda r: r["path"]
    )
    assert records_of(fast.records) == records_of(orjson.loads(slow.stdout))
    assert len(records_of(fast.records)) == len(NAMES)
    assert_valid(fast.records)


def test_hash_adds_blake3_from_the_content_then_from_the_cache(hafs, tmp_path, monkeypatch):
    import time

    import blake3

    from hafs_cli.fs import addhash

    contents = {"a.txt": b"alpha\n", "b/c.bin": b"\0" * 100_000, "empty": b""}
    for name, data in contents.items():
        write(tmp_path / name, data)
    write(os.path.join(os.fsencode(tmp_path), BAD_NAME), b"odd name")
    contents[os.fsdecode(BAD_NAME)] = b"odd name"
    time.sleep(1.1)  # out of the racy window: these may be cached
    r = scan(hafs, tmp_path, "--hash")
    assert r.exit_code == 0, r.stderr
    got = {
        os.path.relpath(os.fsdecode(record_path(x)), tmp_path): x["blake3"]
        for x in r.records
        if x["kind"] == "file"
    }
    assert got == {name: blake3.blake3(data).hexdigest() for name, data in contents.items()}
    assert_valid(r.records)
    reads = []
    original = addhash._digest
    monkeypatch.setattr(addhash, "_digest", lambda rec: reads.append(rec) or original(rec))
    again = scan(hafs, tmp_path, "--hash")
    assert reads == []  # every digest came from the cache
    assert [x.get("blake3") for x in again.records] == [x.get("blake3") for x in r.records]


def test_hash_reports_an_unreadable_file_and_lists_it_without_a_hash(tmp_path):
    write(tmp_path / "open.txt", b"o")
    locked = write(tmp_path / "locked.txt", b"l")
    os.chmod(locked, 0)
    r = run_hafs(["scan", "--hash", str(tmp_path)], unprivileged_run=True)
    out = {x["path"]: x for x in map(orjson.loads, r.stdout.splitlines()) if x["kind"] == "file"}
    errors = [orjson.loads(line) for line in r.stderr.splitlines()]
    assert "blake3" in out[str(tmp_path / "open.txt")]
    assert "blake3" not in out[str(tmp_path / "locked.txt")]
    assert [(e["path"], e["reason"]) for e in errors] == [
        (str(tmp_path / "locked.txt"), "cannot hash: Permission denied")
    ]
    assert r.returncode == 2


@pytest.mark.parametrize(
    ("cpus", "pure", "want"),
    [(1, "", 1), (2, "", 2), (2, "1", 1), (4, "", 3), (8, "1", 7)],
)
def test_automatic_walk_workers(monkeypatch, cpus, pure, want):
    from hafs_cli import speedups
    from hafs_cli.fs import parwalk

    if not pure and speedups.load("_cwalk") is None:
        pytest.skip("the C lister is not built here")
    monkeypatch.setenv("HAFS_NO_SPEEDUPS", pure)
    monkeypatch.setattr(parwalk, "default_jobs", lambda: cpus)
    assert parwalk.walk_jobs(0) == want
    assert parwalk.walk_jobs(5) == 5
