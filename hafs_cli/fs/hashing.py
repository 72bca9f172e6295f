"""Content hashes: a cheap head+tail digest to split candidates, then full blake3.

The head+tail digest only rules files out (equal digests still get a full hash), so
CRC-32 is enough: the CRC-32 of the first min(size, EDGE) bytes and of the last
min(size, EDGE) bytes, as one signed 64-bit int (head << 32 | tail; it goes into SQLite
as an INTEGER). A file up to 2 * EDGE is read whole, in one read, and covered entirely.
Only the files that still share a head+tail digest get a full blake3.

Each hashing function opens the file once and checks it against the metadata the caller
expects (size, mtime_ns, ctime_ns); a file that changed since it was listed raises
`Changed` instead of getting a hash, so no caller can pair old metadata with new content.

`edges_many` and `full_many` do a whole batch: with the optional C module hafs_cli._chash
in threads without the GIL, else in forked worker processes (hafs_cli.fs.forkpool). Both
ways give the same digests and the same exceptions per file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from zlib import crc32

from hafs_cli import speedups

# blake3, threading and forkpool (pickle) are imported where they are used: a rescan
# that reads no file needs none of them (about 8 ms of every dedup's start-up).

EDGE = 4096  # bytes hashed at each end of a file in the head+tail stage
SMALL = 2 * EDGE  # files up to this size are read whole (one read) in that stage
CHUNK = 1 << 20
# Full stage with the C module: files up to this size are read by its threads and hashed
# here (no fork, no pickling); bigger ones are hashed by threads reading into a reused
# buffer (a fresh object per file that size costs more in page faults than it saves).
READ_WHOLE_MAX = 64 << 10
READ_BATCH_BYTES = 8 << 20  # content held at once while hashing small files
BATCH = 4096  # files per call into the C module (progress and Ctrl-C between calls)

Progress = Callable[[int, int], None]  # (files done, their weight)


class Changed(Exception):
    """The file's size, mtime or ctime differ from what the caller expected."""


class Expect(NamedTuple):
    """The identity a file must still have when it is hashed."""

    path: bytes
    size: int
    mtime_ns: int
    ctime_ns: int | None = None


def _check(st: os.stat_result, want: Expect | tuple) -> None:
    if (
        st.st_size != want[1]
        or st.st_mtime_ns != want[2]
        or (want[3] is not None and st.st_ctime_ns != want[3])
    ):
        raise Changed(want[0])


# O_NONBLOCK: a name that became a FIFO since the scan must not hang the open (its fstat
# then says Changed); reads of regular files do not care.
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def _open(path: bytes) -> int:
    try:
        return os.open(path, _FLAGS)
    except ValueError:  # an embedded NUL byte: no such file can exist (C says EINVAL too)
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path) from None


def _read(fd: int, n: int, offset: int) -> bytes:
    """Up to n bytes at offset; fewer only at the end of the file."""
    data = os.pread(fd, n, offset)
    while len(data) < n:
        more = os.pread(fd, n - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data


def edges_digest(want: Expect | tuple) -> int:
    """The head+tail digest (CRC-32 of each end); `Changed` if the file changed."""
    path, size = want[0], want[1]
    fd = _open(path)
    try:
        _check(os.fstat(fd), want)
        if size <= SMALL:
            data = _read(fd, size + 1, 0)  # one byte more: a file that grew is Changed
            if len(data) != size:
                raise Changed(path)
            if size <= EDGE:
                head = tail = crc32(data)
            else:
                view = memoryview(data)
                head, tail = crc32(view[:EDGE]), crc32(view[size - EDGE :])
        else:
            data = _read(fd, EDGE, 0)
            if len(data) != EDGE:
                raise Changed(path)
            head = crc32(data)
            data = _read(fd, EDGE + 1, size - EDGE)
            if len(data) != EDGE:
                raise Changed(path)
            tail = crc32(data)
        digest = head << 32 | tail
        return digest - (1 << 64) if digest >= 1 << 63 else digest  # signed, as in SQLite
    finally:
        os.close(fd)


_local = None  # a threading.local, made on first use


def _buffer() -> bytearray:
    """This thread's read buffer (CHUNK bytes): a fresh one per file costs page faults."""
    global _local
    if _local is None:
        import threading

        _local = threading.local()
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = bytearray(CHUNK)
    return buf


def full_digest(want: Expect | tuple) -> bytes:
    """The full blake3 digest (32 bytes); `Changed` if the file changes while it is read."""
    path, size = want[0], want[1]
    fd = _open(path)
    try:
        _check(os.fstat(fd), want)
        from blake3 import blake3

        hasher = blake3()
        buf = _buffer()
        view = memoryview(buf)
        total = 0
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            hasher.update(view[:n])
            total += n
        if total != size:
            raise Changed(path)
        _check(os.fstat(fd), want)
        return hasher.digest()
    finally:
        os.close(fd)


def hash_file(path: bytes) -> tuple[os.stat_result, str]:
    """(lstat, blake3 hex) of a file as it is now, verified unchanged while read (for apply).

    A symlink never matches: its lstat size is not the size of what open() reads.
    """
    st = os.lstat(path)
    return st, full_digest((path, st.st_size, st.st_mtime_ns, st.st_ctime_ns)).hex()


# -- batches ------------------------------------------------------------------------


def _failure(code: int, path: bytes, changed: int) -> Exception:
    """The exception the Python function raises for the C module's error code."""
    if code == changed:
        return Changed(path)
    return OSError(code, os.strerror(code), path)


def _threads(jobs: int) -> int:
    from hafs_cli.fs import forkpool

    return jobs if jobs > 0 else forkpool.default_jobs()


def _in_c(
    call: Callable[[Sequence[tuple], int], list],
    wants: Sequence[tuple],
    threads: int,
    changed: int,
    parts: Sequence[range],
    finish: Callable[[Any], Any] | None,
    weights: Sequence[int] | None,
    on_done: Progress | None,
) -> list[Any]:
    out: list[Any] = []
    for part in parts:
        batch = wants[part.start : part.stop]
        results, failures = call(batch, threads)
        if finish is not None:
            results = [None if res is None else finish(res) for res in results]
        for i, code in failures:
            results[i] = _failure(code, batch[i][0], changed)
        out += results
        if on_done is not None:
            on_done(len(batch), sum(weights[part.start : part.stop]) if weights else 0)
    return out


def edges_many(
    wants: Sequence[tuple],
    jobs: int = 0,
    weights: Sequence[int] | None = None,
    on_done: Progress | None = None,
) -> list[Any]:
    """[edges_digest(want) or the exception it raised] for (path, size, mtime_ns, ctime_ns)
    items, in order; `jobs` threads or processes (0: one per CPU)."""
    chash = speedups.load("_chash")
    if chash is None:
        from hafs_cli.fs import forkpool

        return forkpool.fork_map(edges_digest, wants, jobs, weights, on_done)
    parts = [range(i, min(i + BATCH, len(wants))) for i in range(0, len(wants), BATCH)]
    return _in_c(chash.edges, wants, _threads(jobs), chash.CHANGED, parts, None, weights, on_done)


def _blake3(data: bytes) -> bytes:
    from blake3 import blake3

    return blake3(data).digest()


def _safe_full(want: tuple) -> Any:
    try:
        return full_digest(want)
    except Exception as exc:  # returned, as fork_map does: the caller decides per file
        return exc


def full_many(
    wants: Sequence[tuple],
    jobs: int = 0,
    weights: Sequence[int] | None = None,
    on_done: Progress | None = None,
) -> list[Any]:
    """[full_digest(want) or the exception it raised] for every item, in order.

    With the C module, files up to READ_WHOLE_MAX are read by its threads and hashed here
    (no fork, no pickling); bigger ones are hashed by `jobs` threads here, each reading
    into its own buffer (blake3 and reads release the GIL for inputs that size).
    Without it, worker processes do it all.
    """
    chash = speedups.load("_chash")
    if chash is None:
        from hafs_cli.fs import forkpool

        return forkpool.fork_map(full_digest, wants, jobs, weights, on_done)
    small = [i for i, w in enumerate(wants) if w[1] <= READ_WHOLE_MAX]
    big = [i for i, w in enumerate(wants) if w[1] > READ_WHOLE_MAX]
    out: list[Any] = [None] * len(wants)
    threads = _threads(jobs)
    if small:
        few = [wants[i] for i in small]
        parts = []
        start = total = 0
        for i, want in enumerate(few):
            total += want[1]
            if i > start and (total > READ_BATCH_BYTES or i - start >= BATCH):
                parts.append(range(start, i))
                start, total = i, want[1]
        parts.append(range(start, len(few)))
        some = [weights[i] for i in small] if weights else None
        results = _in_c(
            chash.read_whole, few, threads, chash.CHANGED, parts, _blake3, some, on_done
        )
        for i, res in zip(small, results, strict=True):
            out[i] = res
    if big:
        from concurrent.futures import ThreadPoolExecutor  # only here: start-up time

        with ThreadPoolExecutor(max_workers=min(threads, len(big))) as pool:
            for i, res in zip(big, pool.map(_safe_full, [wants[i] for i in big]), strict=True):
                out[i] = res
                if on_done is not None:
                    on_done(1, weights[i] if weights else 0)
    return out
