"""Content hashes: a cheap head+tail digest to split candidates, then full blake3.

The head+tail digest only rules files out (equal digests still get a full hash), so a
CRC-32 of each end is enough; files up to 8 KiB are read whole and get their blake3.

Each hashing function opens the file once and checks it against the metadata the caller
expects (size, mtime_ns, ctime_ns); a file that changed since it was listed raises
`Changed` instead of getting a hash, so no caller can pair old metadata with new content.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import NamedTuple

import blake3

EDGE = 4096  # bytes hashed at each end of a file in the head+tail stage
SMALL = 2 * EDGE  # files up to this size are read whole in the first stage
CHUNK = 1 << 20
_EDGES = struct.Struct(">II")


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


def edges_digest(want: Expect | tuple) -> tuple[bytes, bytes | None]:
    """(head+tail digest, full digest when the file is small enough to be read whole)."""
    path, size = want[0], want[1]
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(os.fstat(fd), want)
        if size <= SMALL:
            data = os.pread(fd, size + 1, 0)
            if len(data) != size:
                raise Changed(path)
            full = blake3.blake3(data).digest()
            return full[:16], full
        # Only a filter before the full hash: CRC-32 of each end is plenty and cheap.
        head = zlib.crc32(os.pread(fd, EDGE, 0))
        tail = zlib.crc32(os.pread(fd, EDGE, size - EDGE))
        return _EDGES.pack(head, tail), None
    finally:
        os.close(fd)


def full_digest(want: Expect | tuple) -> bytes:
    """The full blake3 digest (32 bytes); `Changed` if the file changes while it is read."""
    path, size = want[0], want[1]
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(os.fstat(fd), want)
        hasher = blake3.blake3()
        buf = bytearray(min(CHUNK, max(size, 1)))
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
