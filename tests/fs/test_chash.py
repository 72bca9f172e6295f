"""dedup's hashing with the C module (hafs_cli._chash) and without it gives the same.

The head+tail digests and full digests of real files, and the exceptions for files that
cannot be hashed (unreadable, changed since they were listed, gone), are compared
between the C threads and the pure-Python functions; every batch test runs both ways
(HAFS_NO_SPEEDUPS unset and set).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import blake3
import orjson
import pytest

from hafs_cli import speedups
from hafs_cli.fs import hashing
from hafs_cli.fs.hashing import Changed, edges_digest, edges_many, full_digest, full_many
from tests.fs.conftest import BAD_NAME, blob, run_hafs, unprivileged, write

CHASH = speedups.load("_chash")
needs_c = pytest.mark.skipif(CHASH is None, reason="hafs_cli._chash is not built here")
# sizes around every boundary of the head+tail digest (EDGE = 4096, whole file <= 8192)
SIZES = [0, 1, 7, 8, 9, 100, 4095, 4096, 4097, 6000, 8191, 8192, 8193, 12288, 65536, 65537]
SIZES += [100_003, 3 << 20]  # hashed by threads reading into a reused buffer


@pytest.fixture(params=["c", "python"])
def mode(request, monkeypatch):
    if request.param == "c":
        if CHASH is None:
            pytest.skip("hafs_cli._chash is not built here")
        monkeypatch.delenv("HAFS_NO_SPEEDUPS", raising=False)
    else:
        monkeypatch.setenv("HAFS_NO_SPEEDUPS", "1")
    return request.param


def want(path: bytes) -> tuple:
    st = os.stat(path)
    return (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def expected_edges(data: bytes) -> int:
    """The documented digest: CRC-32 of the first and of the last min(size, 4 KiB)."""
    n = min(len(data), hashing.EDGE)
    value = zlib.crc32(data[:n]) << 32 | zlib.crc32(data[len(data) - n :])
    return value - (1 << 64) if value >= 1 << 63 else value


def outcome(result) -> object:
    """A result as a comparable value: the digest, or the exception's type and details."""
    if isinstance(result, OSError):
        return ("OSError", result.errno, result.strerror, result.filename)
    if isinstance(result, Changed):
        return ("Changed", result.args)
    return result


def files(tmp_path: Path, sizes=SIZES) -> list[bytes]:
    return [write(tmp_path / f"f{i}-{n}", blob(i, n)) for i, n in enumerate(sizes)]


@needs_c
@pytest.mark.parametrize("clmul", [True, False], ids=["clmul", "table"])
@pytest.mark.parametrize("length", [*range(0, 150), 4095, 4096, 4097, 8192, 65536, 1_000_003])
def test_crc32_is_zlibs(length, clmul):
    data = blob(length, length)
    was = CHASH.set_clmul(clmul)  # the carry-less-multiply CRC where the CPU has it
    try:
        assert CHASH.crc32(data) == zlib.crc32(data)
        assert CHASH.crc32(data, 0xDEADBEEF) == zlib.crc32(data, 0xDEADBEEF)
        for skew in range(1, 8):  # unaligned starts and every remainder after the folds
            assert CHASH.crc32(memoryview(data)[skew:]) == zlib.crc32(data[skew:])
    finally:
        CHASH.set_clmul(was)


def test_edges_digest_is_the_crc_of_both_ends(tmp_path):
    for path in files(tmp_path):
        data = Path(os.fsdecode(path)).read_bytes()
        assert edges_digest(want(path)) == expected_edges(data), len(data)


def test_edges_tell_apart_what_they_should(tmp_path):
    head = blob(1, 4096)
    a = write(tmp_path / "a", head + blob(2, 5000))
    b = write(tmp_path / "b", head + blob(3, 5000))  # same head, other tail
    c = write(tmp_path / "c", blob(4, 3000))
    d = write(tmp_path / "d", blob(5, 3000))  # same size, other content, small
    e = write(tmp_path / "e", head + blob(6, 10_000) + blob(7, 4096))
    f = write(tmp_path / "f", head + blob(8, 10_000) + blob(7, 4096))  # only the middle
    digests = [edges_digest(want(p)) for p in (a, b, c, d, e, f)]
    assert len(set(digests[:4])) == 4
    assert digests[4] == digests[5]  # the full hash tells these apart


def test_batches_give_the_per_file_results(tmp_path, mode):
    paths = files(tmp_path)
    wants = [want(p) for p in paths]
    assert edges_many(wants, jobs=2) == [edges_digest(w) for w in wants]
    assert full_many(wants, jobs=2) == [full_digest(w) for w in wants]
    for path, digest in zip(paths, full_many(wants), strict=True):
        assert digest == blake3.blake3(Path(os.fsdecode(path)).read_bytes()).digest()


def test_many_files_in_order_with_more_threads_than_items_and_none(tmp_path, mode):
    paths = [write(tmp_path / f"n{i}", b"%d" % (i % 700)) for i in range(1100)]
    wants = [want(p) for p in paths]
    digests = edges_many(wants, jobs=2)  # over the fork threshold without the C module
    assert digests == [expected_edges(b"%d" % (i % 700)) for i in range(1100)]
    few = wants[:3]
    assert edges_many(few, jobs=64) == digests[:3]
    assert full_many(few, jobs=64) == [full_digest(w) for w in few]
    assert edges_many([], jobs=4) == []
    assert full_many([], jobs=0) == []


def test_progress_counts_every_file_once(tmp_path, mode, monkeypatch):
    monkeypatch.setattr(hashing, "BATCH", 7)
    monkeypatch.setattr(hashing, "READ_BATCH_BYTES", 20_000)  # several reads of content
    paths = files(tmp_path)
    wants = [want(p) for p in paths]
    weights = [w[1] for w in wants]
    for many, one in ((edges_many, edges_digest), (full_many, full_digest)):
        seen = []
        out = many(wants, 2, weights, lambda n, b, seen=seen: seen.append((n, b)))
        assert out == [one(w) for w in wants]
        assert sum(n for n, _ in seen) == len(wants)
        assert sum(b for _, b in seen) == sum(weights)


def failing_cases(tmp_path: Path) -> list[tuple]:
    """(path, size, mtime_ns, ctime_ns) items that must each fail in a known way."""
    cases = []
    same = write(tmp_path / "rewritten", b"A" * 5000)
    st = os.stat(same)
    write(tmp_path / "rewritten", b"B" * 5000)
    os.utime(same, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, mtime put back
    cases.append((same, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    grown = write(tmp_path / "grown", b"x" * 10)
    cases.append((grown, 9, os.stat(grown).st_mtime_ns, None))  # listed 9, is 10
    big = write(tmp_path / "big", blob(1, 20_000))
    cases.append((big, 20_000, os.stat(big).st_mtime_ns + 1, None))  # other mtime
    huge = write(tmp_path / "huge", blob(2, hashing.READ_WHOLE_MAX + 1))  # hashed by threads
    st = os.stat(huge)
    cases.append((huge, st.st_size, st.st_mtime_ns, st.st_ctime_ns + 1))  # other ctime
    cases.append((os.fsencode(tmp_path / "huge-gone"), st.st_size + 5, 0, 0))
    cases.append((os.fsencode(tmp_path / "vanished"), 10, 0, 0))
    cases.append((os.fsencode(tmp_path / "big") + b"/below", 10, 0, 0))  # ENOTDIR
    cases.append((b"nul\0in-name", 10, 0, 0))
    cases.append((os.fsencode(tmp_path), 4096, 0, None))  # a directory: EISDIR or Changed
    # outside what a file can have: never matches, never crashes
    odd = write(tmp_path / "odd", b"odd")
    cases.append((odd, 3, 1 << 70, None))
    cases.append((odd, -3, 0, None))
    return cases


def test_failures_are_the_same_exceptions_both_ways(tmp_path, monkeypatch):
    cases = failing_cases(tmp_path)
    py = [[outcome(f(c)) for c in cases] for f in (_catch(edges_digest), _catch(full_digest))]
    assert py[0][0] == ("Changed", (cases[0][0],))  # the same-size rewrite
    assert py[0][3] == py[1][3] == ("Changed", (cases[3][0],))  # a big file's new ctime
    assert py[0][4][:2] == py[1][4][:2] == ("OSError", errno.ENOENT)
    assert py[0][5][:2] == ("OSError", errno.ENOENT)
    assert py[0][6][:2] == ("OSError", errno.ENOTDIR)
    assert py[0][7] == ("OSError", errno.EINVAL, os.strerror(errno.EINVAL), b"nul\0in-name")
    for row in py:
        assert all(o[0] in ("Changed", "OSError") for o in row)
    for env in ("", "1"):
        monkeypatch.setenv("HAFS_NO_SPEEDUPS", env)
        assert [outcome(r) for r in edges_many(cases, 2)] == py[0]
        assert [outcome(r) for r in full_many(cases, 2)] == py[1]


def _catch(fn):
    def call(item):
        try:
            return fn(item)
        except Exception as exc:
            return exc

    return call


THP = b"/sys/kernel/mm/transparent_hugepage/enabled"


@pytest.mark.skipif(not os.access(THP, os.R_OK), reason="needs sysfs")
def test_a_read_shorter_than_fstat_says_is_a_change(mode):
    item = want(THP)  # sysfs says 4096 bytes; a read gives a few dozen
    assert item[1] == 4096 and len(Path(os.fsdecode(THP)).read_bytes()) < 4096
    (edges,) = edges_many([item], 1)
    (full,) = full_many([item], 1)
    assert isinstance(edges, Changed) and isinstance(full, Changed)


UNREADABLE = """
import orjson, os, sys
from hafs_cli.fs.hashing import edges_many, full_many
path = sys.argv[1].encode()
st = os.stat(path)
item = (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
out = []
for many in (edges_many, full_many):
    (r,) = many([item], 2)
    out.append([type(r).__name__, getattr(r, "errno", None), getattr(r, "strerror", None)])
print(orjson.dumps(out).decode())
"""


def test_unreadable_file_is_the_same_oserror_both_ways(tmp_path):
    locked = write(tmp_path / "locked", b"secret")
    os.chmod(locked, 0)
    results = []
    for env in ({}, {"HAFS_NO_SPEEDUPS": "1"}):
        full_env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env}
        r = subprocess.run(
            [*unprivileged(), sys.executable, "-c", UNREADABLE, locked],
            capture_output=True,
            env=full_env,
            check=True,
        )
        results.append(orjson.loads(r.stdout))
    eacces = ["PermissionError", errno.EACCES, os.strerror(errno.EACCES)]
    assert results == [[eacces, eacces], [eacces, eacces]]


def dedup_errors(r) -> list:
    return sorted(
        (e["reason"], e["path"], e.get("path_b64"), e.get("errno"), e.get("message"))
        for e in r.errors
    )


def test_dedup_error_records_are_the_same_both_ways(hafs, tmp_path):
    """Files changed, rewritten in place or gone after the scan: the same error records
    and the same groups with the C module and without it."""
    root = tmp_path / "t"
    keep = [write(root / f"keep-{i}", b"twin content\n") for i in range(2)]
    big = [write(root / f"big-{i}", blob(9, 50_000)) for i in range(3)]
    gone = write(root / "gone", b"twin content\n")
    changed = write(os.path.join(os.fsencode(root), BAD_NAME), b"twin content\n")
    rewritten = big[2]
    listing = hafs("scan", os.fspath(root)).stdout
    os.unlink(gone)
    write(changed, b"twin content, longer now\n")
    st = os.stat(rewritten)
    write(rewritten, blob(10, 50_000))
    os.utime(rewritten, ns=(st.st_atime_ns, st.st_mtime_ns))
    fast = hafs("dedup", "--no-cache", "--only", input=listing)
    pure = hafs("dedup", "--no-cache", "--only", input=listing, env={"HAFS_NO_SPEEDUPS": "1"})
    assert [r for r in fast.records if r["kind"] == "dupgroup"] == [
        r for r in pure.records if r["kind"] == "dupgroup"
    ]
    assert dedup_errors(fast) == dedup_errors(pure)
    reasons = {(e[0], e[3]) for e in dedup_errors(pure)}
    assert reasons == {
        ("cannot read file: No such file or directory", errno.ENOENT),
        ("file changed since it was scanned; scan again", None),
    }
    assert len(pure.errors) == 3
    groups = [r for r in pure.records if r["kind"] == "dupgroup"]
    members = [{m["path"] for m in g["members"]} for g in groups]
    assert sorted(members, key=len) == [
        {os.fsdecode(p) for p in big[:2]},
        {os.fsdecode(p) for p in keep},
    ]
    assert fast.exit_code == pure.exit_code == 2


def test_unreadable_member_is_the_same_error_record_both_ways(tmp_path):
    root = tmp_path / "t"
    data = blob(4, 70_000)  # past the whole-file size: head and tail reads
    *_, locked = [write(root / name, data) for name in ("ok-1", "sub/ok-2", "sub/locked")]
    os.chmod(locked, 0)
    outs = []
    for env in ({}, {"HAFS_NO_SPEEDUPS": "1"}):
        r = run_hafs(["dedup", str(root), "--only", "--no-cache"], env=env, unprivileged_run=True)
        assert r.returncode == 2, r.stderr
        errors = [orjson.loads(x) for x in r.stderr.splitlines() if x.startswith(b"{")]
        groups = [x for x in r.stdout.splitlines() if b'"kind":"dupgroup"' in x]
        outs.append((groups, [(e["path"], e["errno"], e["message"]) for e in errors]))
    assert outs[0] == outs[1] and len(outs[0][0]) == 1
    assert outs[0][1] == [(os.fsdecode(locked), errno.EACCES, os.strerror(errno.EACCES))]


def test_cache_written_one_way_serves_the_other(hafs, tmp_path):
    root = tmp_path / "t"
    for i in range(3):
        write(root / f"small-{i}", b"same small\n")
        write(root / f"big-{i}", blob(3, 30_000))
    write(root / "other-small", b"diff small\n")
    listing = hafs("scan", os.fspath(root)).stdout
    time.sleep(1.1)  # out of the racy window: files changed <1 s ago are not cached
    first = hafs("dedup", "--only", input=listing, env={"HAFS_NO_SPEEDUPS": "1"})
    again = hafs("dedup", "--only", input=listing)  # the C module where it is built
    groups = [r for r in first.records if r["kind"] == "dupgroup"]
    assert len(groups) == 2
    assert [r for r in again.records if r["kind"] == "dupgroup"] == groups
    (summary,) = [r for r in again.records if r["kind"] == "summary"]
    assert (summary["edges_hashed"], summary["full_hashed"], summary["cache_hits"]) == (0, 0, 7)


def test_cache_rows_need_a_key_and_an_old_enough_ctime(tmp_path):
    from hafs_cli.fs.hashcache import RACY_NS, HashCache

    cache = HashCache(tmp_path / "c.sqlite3")
    old = time.time_ns() - 2 * RACY_NS
    cache.store_rows(
        [
            (7, 1, 10, old, old, 11, None),
            (7, 2, 10, old, time.time_ns(), 12, None),  # changed just now: racy
            (None, None, 10, old, old, 13, None),  # no identity
            (7, 3, 10, old, None, 14, None),  # no ctime
            (7, 4, 20, old, old, None, b"f" * 32),  # full digest only (remote scans)
            (7, 4, 20, old, old, 15, b"f" * 32),  # the same file twice: sorted by key
        ]
    )
    rows = cache.db.execute("SELECT dev, inode, edges, full FROM hashes ORDER BY inode")
    assert rows.fetchall() == [(7, 1, 11, None), (7, 4, 15, b"f" * 32)]
    assert cache.lookup([(7, 1, 10, old, old), (7, 4, 20, old, old), (7, 2, 10, old, old)]) == {
        0: (11, None),
        1: (15, b"f" * 32),
    }


def test_a_fifo_in_a_files_place_is_a_change_not_a_hang(tmp_path, mode):
    path = write(tmp_path / "was-a-file", b"content\n")
    item = want(path)
    os.unlink(path)
    os.mkfifo(path)  # nobody writes: a blocking open would wait forever
    (edges,) = edges_many([item], 1)
    (full,) = full_many([item], 1)
    assert isinstance(edges, Changed) and isinstance(full, Changed)
