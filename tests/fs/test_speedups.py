"""The C speed-ups of scan and dedup give exactly what the pure-Python paths give.

Each case runs twice, with the C modules and with HAFS_NO_SPEEDUPS=1, and compares
stdout, stderr and the exit status byte for byte (only elapsed times differ).
"""

from __future__ import annotations

import os
import socket

import orjson
import pytest

from hafs_cli import records, speedups
from tests.fs.conftest import BAD_NAME, write

pytestmark = pytest.mark.skipif(
    speedups.load("_cwalk") is None or speedups.load("_cdedup") is None,
    reason="the C speed-ups are not built here (CI requires them)",
)

PURE = {"HAFS_NO_SPEEDUPS": "1"}


def _without_times(data: bytes) -> list[bytes]:
    out = []
    for line in data.split(b"\n"):
        if b'"kind":"summary"' in line:
            rec = orjson.loads(line)
            rec.pop("elapsed_s", None)
            rec.pop("files_per_s", None)
            line = orjson.dumps(rec)
        out.append(line)
    return out


def both(hafs, *args, input=None, sort=False):
    """(C result, pure-Python result) of one command, checked equal; the C one."""
    fast = hafs(*args, input=input)
    pure = hafs(*args, input=input, env=PURE)
    got = [_without_times(fast.stdout), _without_times(fast.stderr)]
    want = [_without_times(pure.stdout), _without_times(pure.stderr)]
    if sort:  # the C lister writes a directory's files before its other entries
        got, want = [sorted(x) for x in got], [sorted(x) for x in want]
    assert got == want
    assert fast.exit_code == pure.exit_code
    return fast


def odd_tree(root) -> None:
    """Every kind of name and entry the C lister must hand back or format exactly."""
    r = os.fsencode(root)
    for name in [
        b"plain.TXT",
        b'q"uote.txt',
        b"back\\slash.txt",
        b"new\nline.txt",
        b"tab\there.txt",
        "ünïcode.txt".encode(),
        "FOTO.JPÉ".encode(),
        "snow\u2603man.Ab".encode(),
        BAD_NAME,
        b"\xed\xa0\x80surrogate.txt",  # UTF-8-encoded surrogate: not valid UTF-8
        b".hidden",
        b".dot.Ext",
        b"noext",
        b"a.b.c.GZ",
        b"trailing.",
        b"100%.txt",
        b"sub/inner.bin",
        b'dir"q/x.txt',
        "dïr/y.txt".encode(),
        b"dir\xff/z.txt",
        b".hid/den.txt",
    ]:
        write(os.path.join(r, name), b"same content\n")
    write(os.path.join(r, b"empty"), b"")
    write(os.path.join(r, b".gitignore"), b"*.txt\n!plain.TXT\n/sub/\n")
    write(os.path.join(r, "dïr/.gitignore".encode()), b"!y.txt\n")
    old = write(os.path.join(r, b"old.txt"), b"from 1938")
    os.utime(old, ns=(0, -1_000_000_000_123_456_789))
    future = write(os.path.join(r, b"future.txt"), b"from 2514")
    os.utime(future, ns=(0, (1 << 34) * 1_000_000_000 + 5))
    os.link(os.path.join(r, b"plain.TXT"), os.path.join(r, b"hardlink.txt"))
    # a name only Python takes, linked to names C takes: which is "first" is input order
    os.link(os.path.join(r, b"plain.TXT"), os.path.join(r, b'q"link.txt'))
    os.symlink(b"plain.TXT", os.path.join(r, b"link-to-file"))
    os.symlink(b"sub", os.path.join(r, b"link-to-dir"))
    os.symlink(b"nowhere", os.path.join(r, b"dangling"))
    os.mkfifo(os.path.join(r, b"fifo"))


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["--no-hidden"],
        ["--dirs", "--symlinks"],
        ["--follow-symlinks"],
        ["--max-depth", "1"],
        ["--one-file-system"],
        ["--exclude", "*.txt", "--exclude", "!q*", "--exclude", "dir*/", "--dirs"],
        ["--gitignore", "--symlinks"],
        ["--gitignore", "--exclude", "*.bin", "--no-hidden"],
    ],
    ids=[
        *("default", "no-hidden", "dirs-symlinks", "follow", "depth1", "one-fs"),
        *("exclude", "gitignore", "both"),
    ],
)
def test_scan_lists_the_same_records_with_and_without_c(hafs, tmp_path, flags):
    odd_tree(tmp_path)
    r = both(hafs, "scan", "--format", "jsonl", *flags, os.fspath(tmp_path), sort=True)
    listed = [x for x in r.records if x["kind"] == "file"]
    matching = "--exclude" in flags or "--gitignore" in flags
    assert len(listed) > (5 if "--max-depth" in flags or matching else 20)
    summary = next(x for x in r.records if x["kind"] == "summary")
    assert (summary["excluded"] > 0) == matching


def test_scan_of_a_file_root_and_a_root_ending_in_a_slash(hafs, tmp_path):
    odd_tree(tmp_path)
    both(hafs, "scan", f"{tmp_path}/", f"{tmp_path}/plain.TXT", sort=True)
    both(hafs, "scan", "/", "--max-depth", "1", sort=True)


def test_dedup_reads_scan_output_the_same_with_and_without_c(hafs, tmp_path):
    odd_tree(tmp_path)
    listing = hafs("scan", os.fspath(tmp_path)).stdout
    r = both(hafs, "dedup", "--no-cache", input=listing)
    (group,) = [x for x in r.records if x["kind"] == "dupgroup"]
    assert group["count"] >= 15
    # every input record is passed on, in order
    assert r.stdout.startswith(listing)


def _lines(tmp_path) -> list[bytes]:
    """A scan of a small tree followed by every kind of line the C filer must refuse."""
    a = write(tmp_path / "a.txt", b"duplicate\n")
    b = write(tmp_path / "b.txt", b"duplicate\n")
    host = orjson.dumps(socket.gethostname())
    fake = iter(range(10**9, 10**9 + 100))

    def shaped(path: bytes, size=b"10", host_json=host, tail=b"}") -> bytes:
        st = os.lstat(path) if os.path.exists(path) else os.lstat(a)
        ino = st.st_ino if os.path.exists(path) else next(fake)
        return (
            b'{"kind":"file","path":"' + path + b'","size":' + size + b',"mtime_ns":'
            + str(st.st_mtime_ns).encode() + b',"ctime_ns":' + str(st.st_ctime_ns).encode()
            + b',"dev":' + str(st.st_dev).encode() + b',"inode":' + str(ino).encode()
            + b',"nlink":1,"mode":33188,"extension":"txt","host":' + host_json + tail
        )  # fmt: skip

    return [
        shaped(a),
        shaped(b, tail=b"}\r"),  # CRLF: left to Python, which takes it
        b"",
        b"   ",
        shaped(b"/nowhere/\xff.txt"),  # invalid UTF-8: a bad line
        shaped(b"/nowhere/esc\\u00e9.txt"),  # an escape: Python decodes it
        shaped(b"/nowhere/zero.txt", size=b"010"),  # a leading zero: not JSON
        shaped(b"/nowhere/huge.txt", size=b"123456789012345678901234"),
        shaped(b"/nowhere/int64.txt", size=b"9223372036854775808"),
        shaped(b"/nowhere/max.txt", size=b"9223372036854775807"),
        shaped(b"/nowhere/neg.txt", size=b"-5"),
        shaped(b"/nowhere/other.txt", host_json=b'"elsewhere"'),
        shaped(b"/nowhere/space.txt", tail=b"} "),
        shaped(b"/nowhere/extra.txt", tail=b',"blake3":"00"}'),
        b'{"kind":"note","text":"passed on"}',
        b"not json at all",
        b"[1, 2]",
        shaped(b),  # the last line, listed twice: the same name once
        shaped(a, tail=b""),  # truncated: no closing brace and no newline
    ]


@pytest.mark.parametrize("chunk", [1 << 20, 7, 300], ids=["one-chunk", "tiny", "mid"])
def test_dedup_refuses_and_reports_every_odd_line_exactly_as_python(
    hafs, tmp_path, monkeypatch, chunk
):
    monkeypatch.setattr(records, "CHUNK_BYTES", chunk)
    body = b"\n".join(_lines(tmp_path))
    for data in (body, records.BOM + body + b"\n"):
        r = both(hafs, "dedup", "--no-cache", input=data)
        assert r.exit_code == 2  # the bad lines
        (group,) = [x for x in r.records if x["kind"] == "dupgroup"]
        assert group["count"] == 2
        reasons = [e["reason"] for e in r.errors]
        assert any("invalid UTF-8" in x for x in reasons)
        assert any("not JSON" in x for x in reasons)


def test_dedup_only_and_strict_with_c(hafs, tmp_path):
    body = b"\n".join(_lines(tmp_path)) + b"\n"
    only = both(hafs, "dedup", "--no-cache", "--only", input=body)
    assert {x["kind"] for x in only.records} == {"dupgroup", "summary"}
    strict = both(hafs, "dedup", "--no-cache", "--strict", input=body)
    assert strict.exit_code == 2
    assert b"stopped by --strict" in strict.stderr


def test_iter_chunks_splits_only_at_newlines():
    import io

    data = b"one\ntwo\n" + b"x" * 50 + b"\nlast"
    chunks = list(records.iter_chunks(io.BytesIO(data), 8))
    assert b"".join(c for _, c in chunks) == data
    assert all(c.endswith(b"\n") for _, c in chunks[:-1])
    assert chunks[-1][1] == b"last"
    firsts = [n for n, _ in chunks]
    assert firsts == sorted(firsts) and firsts[0] == 1
    assert firsts[-1] == 4


def test_a_rescan_groups_the_same_with_and_without_c(hafs, tmp_path):
    """Cache lookups and the grouping of fully cached sizes (C) against Python."""
    import time

    from tests.fs.conftest import blob

    odd_tree(tmp_path)  # one big group, hard links, names only Python formats
    middle = blob(7, 12_000)
    for i in range(3):  # same head and tail, different middles: only blake3 splits them
        write(tmp_path / f"edges/{i}.bin", b"H" * 4096 + middle[i:] + middle[:i] + b"T" * 4096)
    write(tmp_path / "edges/3.bin", (tmp_path / "edges/0.bin").read_bytes())
    for i in range(4):  # a size where one file will change
        write(tmp_path / f"mixed/{i}.txt", b"same-size %d\n" % (i % 2))
    time.sleep(1.1)  # out of the racy window, so the first run caches everything
    # overlapping roots: every name under sub/ is listed twice
    listing = hafs("scan", tmp_path).stdout + hafs("scan", tmp_path / "sub").stdout
    first = hafs("dedup", input=listing)
    assert summary_of(first)["cache_hits"] == 0
    write(tmp_path / "mixed/0.txt", b"same-size 1\n")  # same size, new content
    listing = hafs("scan", tmp_path).stdout + hafs("scan", tmp_path / "sub").stdout
    r = both(hafs, "dedup", "--suggest", "hardlink", input=listing)
    s = summary_of(r)
    # hashed again: the changed file, and future.txt (its mtime is past SQLite's 64 bits)
    assert s["cache_hits"] >= 25 and s["edges_hashed"] == 2
    sizes = sorted(g["count"] for g in r.records if g["kind"] == "dupgroup")
    assert sizes == [2, 3, 21]  # edges/0+3, mixed 0+1+3, the odd tree's 21 names


def test_a_rescan_writes_the_same_dupgroup_lines_with_and_without_c(hafs, tmp_path):
    """The groups C writes as JSON Lines itself (every file cached): every keeper rule,
    patterns that need JSON escapes, hard links, odd characters, and the order of
    groups from both sides (a non-UTF-8 name sends its size to Python)."""
    import time

    from tests.fs.conftest import blob

    def put(name: bytes | str, data: bytes, mtime: int | None = None) -> None:
        p = write(os.fsencode(tmp_path) + b"/" + os.fsencode(name), data)
        if mtime is not None:
            os.utime(p, ns=(mtime, mtime))

    t = 1_600_000_000_000_000_000
    put("keep/a.bin", blob(1, 5000), t)  # prefer: keep/
    put("zz/a.bin", blob(1, 5000), t - 10)
    put("x/b.bin", blob(2, 6000), t)  # avoid: a "quoted" directory
    put('av"oid/b.bin', blob(2, 6000), t - 10)
    put(".Trash-1000/files/c.bin", blob(3, 7000), t - 10)  # avoid: the built-in trash
    put("y/c.bin", blob(3, 7000), t)
    put("old/d.bin", blob(4, 3000), t - 5)  # oldest
    put("new/d.bin", blob(4, 3000), t)
    put("long-name/e.bin", blob(5, 3500), t)  # shortest path
    put("s/e.bin", blob(5, 3500), t)
    put("p1/f.bin", blob(6, 4000), t)  # path order (same age, same length)
    put("p2/f.bin", blob(6, 4000), t)
    put("p0/f.bin", blob(6, 4000), t)
    put("del\x7f/g.bin", blob(7, 900), t)  # odd characters JSON keeps as they are
    put("sep\u2028/g.bin", blob(7, 900), t - 1)
    put("links/h.bin", blob(8, 2500), t)
    for name in ("links/h3.bin", "links/h2.bin", "links/h1.bin"):  # links, sorted
        os.link(tmp_path / "links/h.bin", tmp_path / name)
    put("links/other.bin", blob(8, 2500), t)
    put(b"py/bad-\xff.bin", blob(9, 8000), t)  # a size C leaves to Python
    put("py/good.bin", blob(9, 8000), t)
    put("py/big1.bin", blob(10, 9000), t)
    put("py/big2.bin", blob(10, 9000), t)
    time.sleep(1.1)  # out of the racy window, so the first run caches everything
    listing = hafs("scan", tmp_path).stdout
    hafs("dedup", input=listing)
    args = ("dedup", "--only", "--prefer", "keep/", "--avoid", 'av"oid/')
    r = both(hafs, *args, input=listing)
    groups = [g for g in r.records if g["kind"] == "dupgroup"]
    assert summary_of(r)["cache_hits"] == summary_of(r)["candidates"] > 20
    assert {g["keeper_rule"] for g in groups} == {
        "prefer",
        "avoid",
        "oldest",
        "shortest_path",
        "path_order",
    }
    assert {g.get("keeper_pattern") for g in groups} >= {"keep/", 'av"oid/', ".Trash-*/"}
    linked = next(g for g in groups if any("links" in m for m in g["members"]))
    assert [m.get("links") for m in linked["members"]].count(
        [str(tmp_path / f"links/h{i}.bin") for i in (1, 2, 3)]
    ) == 1
    assert [g["waste"] for g in groups] == sorted((g["waste"] for g in groups), reverse=True)


def test_a_waste_past_64_bit_integers_is_written_the_same_with_and_without_c(hafs):
    """Three cached copies of a 4 EiB (sparse) file: the waste needs Python's integers."""
    from hafs_cli.fs.hashcache import HashCache

    host = socket.gethostname()
    size, old = (1 << 62) + 1, 1_500_000_000_000_000_000  # long out of the racy window
    cache = HashCache()
    lines = b""
    for inode in (11, 12, 13):
        cache.store([((5, inode, size, old, old), 77, b"\x42" * 32)])
        lines += (
            orjson.dumps(
                {
                    "kind": "file",
                    "path": f"/huge/{inode}.img",
                    "size": size,
                    "mtime_ns": old,
                    "ctime_ns": old,
                    "dev": 5,
                    "inode": inode,
                    "nlink": 1,
                    "mode": 33188,
                    "extension": "img",
                    "host": host,
                }
            )
            + b"\n"
        )
    cache.close()
    r = both(hafs, "dedup", "--only", input=lines)
    (group,) = [g for g in r.records if g["kind"] == "dupgroup"]
    assert group["waste"] == 2 * size > (1 << 63) and summary_of(r)["cache_hits"] == 3


def summary_of(result) -> dict:
    return next(x for x in result.records if x["kind"] == "summary" and x["command"] == "dedup")


def test_c_folds_every_plain_size_itself(hafs, tmp_path, monkeypatch):
    """With C, _candidates runs only for sizes with records from elsewhere."""
    import time

    from hafs_cli.fs.dupes import DupFinder

    for i in range(6):
        write(tmp_path / f"d{i % 2}/{i}.txt", b"copy %d\n" % (i % 3))
    os.link(tmp_path / "d0/0.txt", tmp_path / "d0/link.txt")
    time.sleep(1.1)
    listing = hafs("scan", tmp_path).stdout
    sizes = []
    original = DupFinder._candidates
    monkeypatch.setattr(
        DupFinder,
        "_candidates",
        lambda self, size, e: sizes.append(size) or original(self, size, e),
    )
    first = hafs("dedup", "--only", input=listing)
    rescan = hafs("dedup", "--only", input=listing)
    assert sizes == []
    for r in (first, rescan):
        assert sorted(g["count"] for g in r.records if g["kind"] == "dupgroup") == [2, 2, 2]
    assert summary_of(rescan)["cache_hits"] == 6 and summary_of(first)["cache_hits"] == 0
    remote = b'{"kind":"file","path":"/x","size":7,"host":"nas","blake3":"' + b"0" * 64 + b'"}\n'
    hafs("dedup", "--only", input=listing + remote)
    assert sizes == [7]  # the size with another host's record went to Python


def test_dedup_of_paths_walks_and_groups_as_scan_piped_into_dedup(hafs, tmp_path):
    odd_tree(tmp_path / "t")
    write(tmp_path / "elsewhere/copy.txt", b"same content\n")
    roots = [str(tmp_path / "t"), str(tmp_path / "elsewhere/copy.txt")]
    walked = both(hafs, "dedup", "--no-cache", *roots, sort=True)
    piped = hafs("dedup", "--no-cache", input=hafs("scan", *roots).stdout)
    groups = [names_in_groups(r) for r in (walked, piped)]
    assert groups[0] == groups[1] and len(groups[0][0]) == 24  # 22 files, 2 more names
    assert sorted(x["path"] for x in walked.records if x["kind"] == "file") == sorted(
        x["path"] for x in piped.records if x["kind"] == "file"
    )


def names_in_groups(result) -> list[list[str]]:
    """Each group's names, hard links included: which name of a hard-linked file is listed
    first (and so is the member's path) follows the walk's order, which scan's workers
    may change."""
    out = []
    for g in result.records:
        if g["kind"] == "dupgroup":
            out.append(sorted(n for m in g["members"] for n in [m["path"], *m.get("links", [])]))
    return sorted(out)


def test_a_hard_linked_file_is_named_by_its_smallest_path_in_any_input_order(hafs, tmp_path):
    write(tmp_path / "m/b.txt", b"twin\n")
    write(tmp_path / "z/copy.txt", b"twin\n")
    for name in ("a-link.txt", 'q"link.txt', "c-link.txt"):  # q"...: a name only Python takes
        os.link(tmp_path / "m/b.txt", tmp_path / "m" / name)
    lines = [x for x in hafs("scan", tmp_path).stdout.splitlines(keepends=True) if b'"file"' in x]
    outputs = []
    for ordered in (lines, lines[::-1], sorted(lines)):
        r = both(hafs, "dedup", "--no-cache", "--only", input=b"".join(ordered))
        outputs.append([g for g in r.records if g["kind"] != "summary"])
        (group,) = [g for g in r.records if g["kind"] == "dupgroup"]
        linked = next(m for m in group["members"] if "links" in m)
        assert linked["path"] == str(tmp_path / "m/a-link.txt")
        assert linked["links"] == [
            str(tmp_path / "m" / n) for n in ("b.txt", "c-link.txt", 'q"link.txt')
        ]
    assert outputs[0] == outputs[1] == outputs[2]


def _index_of(listing: bytes):
    from hafs_cli import speedups as sp

    index = sp.load("_cdedup").FileIndex()
    taken, lines, slow = index.add_lines(
        listing, socket.gethostname().encode(), 1, (1 << 63) - 1, 0
    )
    assert taken > 10
    return index


def test_the_c_connection_to_the_cache_agrees_with_pythons(tmp_path):
    """lookup_cache/store_cache (SQLite through the library Python loaded) against
    pending/match/rows through Python's sqlite3: the same hits, groups and rows."""
    import time

    from hafs_cli.fs.hashcache import HashCache
    from hafs_cli.fs.hashing import edges_many

    odd_tree(tmp_path / "t")
    from tests.fs.conftest import blob

    for i in range(40):  # one size, no two alike: head+tail tells them apart (C's rows)
        write(tmp_path / f"n/{i}.bin", blob(i, 300))
    time.sleep(1.1)  # out of the racy window
    listing = subprocess_scan(tmp_path)
    caches = []
    for direct in (True, False):
        cache = HashCache(tmp_path / f"cache-{direct}.sqlite3")
        index = _index_of(listing)
        assert index.open_cache(str(cache.path)) is True
        _mixed, wants, _counts = index.prepare({})
        assert len(wants) > 10
        results = edges_many(wants)
        finished = index.finish(results, direct, 8192)
        if direct:
            assert finished[1] is None
            rows = index.rows()
            written = index.store_cache(*cache.store_params())
            assert written == len(rows) > 10
            cache.stored_elsewhere(written)
        else:
            cache.store_rows(finished[1])
        caches.append(cache)
    dumps = [
        c.db.execute(
            "SELECT dev, inode, size, mtime_ns, ctime_ns, edges, full FROM hashes ORDER BY 1, 2"
        ).fetchall()
        for c in caches
    ]
    assert dumps[0] == dumps[1] and len(dumps[0]) > 10
    # a rescan's lookups: the same hits and the same groups both ways
    outcomes = []
    for direct in (True, False):
        cache = caches[0]
        index = _index_of(listing)
        index.open_cache(str(cache.path))
        if direct:
            hits = index.lookup_cache(cache.min_stored_s())
        else:
            hits = sum(
                index.match(dev, cache.entries_json(dev, inodes))
                for dev, inodes in index.pending().items()
            )
        mixed, wants, counts = index.prepare({})
        groups = index.set_paths()  # the content groups found in the cache
        outcomes.append((hits, groups, mixed, wants, counts))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == len(dumps[0])  # every stored file found again
    # what is left to read: the duplicates, whose full digests this test never stored
    assert {w[0] for w in outcomes[0][3]} <= {w[0] for w in wants}


def test_lookups_by_range_scan_find_what_point_lookups_find(tmp_path):
    """lookup_cache merges sorted keys with the cache's rows, seeking again past long runs
    of other trees' rows: against pending/match, on a cache crowded with such rows, with
    stale rows, hard links, several devices and batches."""
    from hafs_cli.fs.hashcache import HashCache

    host = socket.gethostname()
    old = 1_500_000_000_000_000_000
    full = b"\x33" * 32

    def line(path: str, dev: int, inode: int, mtime: int = old) -> bytes:
        size = 8192 if inode in (5001, 160) else 16384 if path.startswith("/c/") else 4096
        rec = {"kind": "file", "path": path, "size": size, "mtime_ns": mtime}
        rec |= {"ctime_ns": old, "dev": dev, "inode": inode, "nlink": 1, "mode": 33188}
        rec |= {"extension": "bin", "host": host}
        return orjson.dumps(rec) + b"\n"

    wanted = [(7, 100), (7, 101), (7, 102), (7, 150), (7, 5000), (7, 5001), (7, 1 << 40)]
    wanted += [(8, 100), (9, 3)]
    chunks = [  # with names never stored: before, among and after the stored rows
        b"".join(line(f"/c/{ino}", 7, ino) for ino in (30, 7000, 7001))
        + b"".join(line(f"/a/{dev}-{ino}", dev, ino) for dev, ino in wanted[:4]),
        b"".join(line(f"/b/{dev}-{ino}", dev, ino) for dev, ino in wanted[4:])
        + line("/b/link-to-7-101", 7, 101)  # a second name of one file
        + line("/b/changed", 7, 160, mtime=old + 1),  # its row is stale
    ]
    cache = HashCache(tmp_path / "c.sqlite3")
    rows = [(dev, ino, 4096, old, old, 5, full) for dev, ino in wanted if ino != 5001]
    rows.append((7, 160, 8192, old, old, 5, full))
    taken = {(dev, ino) for dev, ino, *_ in rows}
    for dev in (6, 7, 8):  # other trees' rows all around (runs of 40 and 4,000)
        rows += [(dev, i, 1, old, old, 1, None) for i in range(60, 6000) if (dev, i) not in taken]
    cache.store_rows(rows)
    outcomes = []
    for direct in (True, False):
        index = sp_index()
        assert index.open_cache(str(cache.path))
        hits, seq = 0, 0
        for chunk in chunks:  # two batches, each looked up before the next comes
            got = index.add_lines(chunk, host.encode(), 1, (1 << 63) - 1, seq)
            seq += got[1]
            if direct:
                hits += index.lookup_cache(cache.min_stored_s())
            else:
                for dev, inodes in index.pending().items():
                    hits += index.match(dev, cache.entries_json(dev, inodes))
        mixed, wants, counts = index.prepare({})
        paths = index.set_paths()
        lines = index.dupgroups(orjson.dumps(host), None, None, [], [])
        outcomes.append((hits, mixed, wants, counts, paths, lines))
    assert outcomes[0] == outcomes[1]
    hits, _mixed, wants, _counts, paths, lines = outcomes[0]
    assert hits == 9  # every stored name but the stale one (the link is a second name)
    assert sorted(w[0] for w in wants) == [
        b"/b/7-5001",
        b"/b/changed",
        b"/c/30",
        b"/c/7000",
        b"/c/7001",
    ]
    assert len(lines) == 1 and len(paths) == 8  # one group of 8 files (the link folded)
    assert b'"links":["/b/link-to-7-101"]' in lines[0][3]


def sp_index():
    from hafs_cli import speedups as sp

    return sp.load("_cdedup").FileIndex()


def test_no_cache_file_means_no_c_connection(tmp_path):
    odd_tree(tmp_path / "t")
    index = _index_of(subprocess_scan(tmp_path))
    assert index.open_cache(str(tmp_path / "missing.sqlite3")) is False
    assert index.lookup_cache(0) is None  # Python's connection does the lookups then
    assert index.store_cache(0, 0, 0) is None


def subprocess_scan(root) -> bytes:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "hafs_cli", "scan", str(root)], capture_output=True, check=True
    ).stdout
