"""Which files to scan and how to read them: walk paths, skip excluded, binary and huge files."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator

DEFAULT_MAX_BYTES = 2 * 1024 * 1024


def excluded(path: bytes, patterns: Iterable[str]) -> bool:
    """True when any path component or the whole path matches an exclude glob."""
    text = os.fsdecode(path)
    parts = text.replace(os.sep, "/").split("/")
    return any(
        fnmatch.fnmatch(text, p) or any(fnmatch.fnmatch(c, p) for c in parts) for p in patterns
    )


def walk(paths: Iterable[str | bytes], exclude: Iterable[str]) -> Iterator[bytes]:
    """Regular files under `paths` (files named directly are always included), sorted per folder."""
    patterns = list(exclude)
    for top in paths:
        top_b = os.fsencode(top)
        if not os.path.isdir(top_b):
            yield top_b
            continue
        for root, dirs, files in os.walk(top_b):
            dirs[:] = sorted(d for d in dirs if not excluded(d, patterns))
            for name in sorted(files):
                full = os.path.normpath(os.path.join(root, name))
                if not excluded(full, patterns) and _regular(full):
                    yield full


def _regular(path: bytes) -> bool:
    """A regular file, not a symlink, FIFO, socket or device (reading a FIFO would block)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return True  # vanished or unreadable: let read_text report it


def read_text(path: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str | None, str | None]:
    """(text, None), or (None, why it was skipped) for binary or oversized files.

    Raises OSError for unreadable files (the caller reports them).
    """
    # O_NONBLOCK: opening a FIFO named on the command line must not wait for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "not a regular file"
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        return None, f"larger than {max_bytes} bytes (secrets.max_file_bytes)"
    if b"\0" in data[:8192]:
        return None, "binary"
    return data.decode("utf-8", "replace"), None
