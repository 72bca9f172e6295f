"""Which files to validate: expand directories, and keep only the include roots."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

SUFFIXES = (".asm", ".s", ".inc", ".65s", ".a65")
_INCSRC = re.compile(
    r"""^[ \t]*(?:incsrc|@include)[ \t]+(?:"([^"]+)"|(\S+))""", re.IGNORECASE | re.MULTILINE
)


def expand(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Files named, plus assembly files under named directories (sorted, no duplicates)."""
    out: list[str] = []
    seen: set[str] = set()
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = []
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found += [
                    os.path.join(dirpath, f)
                    for f in filenames
                    if f.lower().endswith(SUFFIXES) and not _special(os.path.join(dirpath, f))
                ]
            files = sorted(found)
        else:
            files = [p]
        for f in files:
            key = os.path.normpath(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def _special(path: str) -> bool:
    """A FIFO, socket or device (reading a FIFO would block); a dangling link is not special."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def roots(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The given files that no other given file includes (each checked with its includes)."""
    files = expand(paths)
    if len(files) < 2:
        return files
    real = {os.path.realpath(f): f for f in files}
    included: set[str] = set()
    for f in files:
        try:
            text = Path(f).read_text("utf-8", errors="replace")
        except OSError:
            continue
        base = os.path.dirname(f)
        for m in _INCSRC.finditer(text):
            target = (m.group(1) or m.group(2)).strip()
            included.add(os.path.realpath(os.path.join(base, target)))
    kept = [f for r, f in real.items() if r not in included]
    # a cycle of files that all include each other: keep the first so nothing is skipped
    return kept or files[:1]
