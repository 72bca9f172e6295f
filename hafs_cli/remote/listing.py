"""Tree listings for sync: what each side holds (path -> Entry), and the exclude rules.

Paths are bytes relative to the root with '/' separators, so names that are not UTF-8
survive. A directory that cannot be read is reported in `unreadable`: the planner must
not mistake its invisible contents for deletions.
"""

from __future__ import annotations

import calendar
import fnmatch
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

# Our own bookkeeping inside a synced root, never synced and never deleted.
SYNC_DIR = b".hafs-sync"
PART_PREFIX = b".hafs-part."  # SFTP uploads/downloads in progress (renamed when complete)


class Entry(NamedTuple):
    """One item of a tree: type 'f' (file), 'd' (directory) or 'l' (symlink)."""

    type: str
    size: int
    mtime: int  # whole seconds: what every transport can reproduce
    target: bytes = b""  # symlink target

    def same_as(self, other: Entry | None) -> bool:
        """Quick check, as rsync does it: type, size and mtime (symlinks: the target)."""
        if other is None or other.type != self.type:
            return False
        if self.type == "d":
            return True
        if self.type == "l":
            return self.target == other.target
        return self.size == other.size and self.mtime == other.mtime


@dataclass
class Listing:
    entries: dict[bytes, Entry] = field(default_factory=dict)
    unreadable: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stale_parts: list[bytes] = field(default_factory=list)
    exists: bool = True
    not_dir: bool = False  # the root is there but is a file, not a folder

    def missing(self) -> str:
        """How the root is missing, for messages."""
        return "is a file, not a folder" if self.not_dir else "does not exist"

    def add(self, rel: bytes, name: bytes, st, readlink, excludes: Excludes, stack: list) -> None:
        """Record one walked item (unless excluded); directories are queued on `stack`."""
        is_dir = stat.S_ISDIR(st.st_mode or 0)
        if excludes.excluded(rel, is_dir):
            if name.startswith(PART_PREFIX):
                self.stale_parts.append(rel)
            return
        entry = _entry_from_stat(st, readlink)
        if entry is None:
            return
        self.entries[rel] = entry
        if is_dir:
            stack.append(rel)

    def hidden(self, path: bytes) -> bool:
        """True when `path` lies in a directory this side could not read."""
        return any(path == u or path.startswith(u + b"/") for u in self.unreadable)


class Excludes:
    """rsync-style exclude patterns (a useful subset).

    `name` matches a file or directory of that name anywhere; `dir/` only directories;
    `/top` only at the root; `a/b*` is matched against the end of the path; `*`, `?` and
    `[...]` as in shell globs.
    """

    def __init__(self, patterns: Iterable[str], trash_dir: str = ".hafs-trash"):
        self.patterns = [p for p in patterns if p]
        self._rules: list[tuple[bytes, bool, bool, bool]] = []
        fixed = [f"/{trash_dir.strip('/')}/", f"/{SYNC_DIR.decode()}/", f"{PART_PREFIX.decode()}*"]
        for pattern in [*fixed, *self.patterns]:
            raw = os.fsencode(pattern)
            dir_only = raw.endswith(b"/")
            raw = raw.rstrip(b"/")
            anchored = raw.startswith(b"/")
            raw = raw.lstrip(b"/").replace(b"**", b"*")
            self._rules.append((raw, dir_only, anchored, b"/" in raw))
        self.rsync_args = [f"--exclude={p}" for p in [*fixed, *self.patterns]]

    def excluded(self, path: bytes, is_dir: bool) -> bool:
        name = path.rsplit(b"/", 1)[-1]
        for raw, dir_only, anchored, has_slash in self._rules:
            if dir_only and not is_dir:
                continue
            if anchored:
                hit = fnmatch.fnmatchcase(path, raw)
            elif has_slash:
                hit = fnmatch.fnmatchcase(path, raw) or fnmatch.fnmatchcase(path, b"*/" + raw)
            else:
                hit = fnmatch.fnmatchcase(name, raw)
            if hit:
                return True
        return False


def walk_local(root: bytes, excludes: Excludes) -> Listing:
    """List a local tree (no symlinks followed)."""
    listing = Listing()
    if not os.path.isdir(root):
        listing.exists = False
        return listing
    stack: list[bytes] = [b""]
    while stack:
        rel_dir = stack.pop()
        full_dir = os.path.join(root, rel_dir) if rel_dir else root
        try:
            with os.scandir(full_dir) as it:
                items = list(it)
        except OSError as exc:
            listing.unreadable.append(rel_dir)
            listing.errors.append(f"{os.fsdecode(full_dir)}: {exc.strerror}")
            continue
        for item in items:
            rel = rel_dir + b"/" + item.name if rel_dir else item.name
            try:
                st = item.stat(follow_symlinks=False)
            except OSError as exc:
                listing.errors.append(f"{os.fsdecode(item.path)}: {exc.strerror}")
                listing.unreadable.append(rel)
                continue
            listing.add(rel, item.name, st, lambda p=item.path: os.readlink(p), excludes, stack)
    return listing


def _entry_from_stat(st, readlink) -> Entry | None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return Entry("d", 0, int(st.st_mtime))
    if stat.S_ISLNK(mode):
        target = os.fsencode(readlink())
        return Entry("l", len(target), int(st.st_mtime), target)
    if stat.S_ISREG(mode):
        return Entry("f", st.st_size, int(st.st_mtime))
    return None  # sockets, fifos, devices: not synced


def unescape_rsync(name: bytes) -> bytes:
    """Undo rsync's `\\#ooo` escaping of unprintable bytes in names."""
    if b"\\#" not in name:
        return name
    out = bytearray()
    i = 0
    while i < len(name):
        if name[i : i + 2] == b"\\#" and name[i + 2 : i + 5].isdigit():
            out.append(int(name[i + 2 : i + 5], 8))
            i += 5
        else:
            out.append(name[i])
            i += 1
    return bytes(out)


def parse_rsync_list(output: bytes, excludes: Excludes) -> dict[bytes, Entry]:
    """Entries from `rsync -r --list-only --no-h` output (times printed in UTC)."""
    entries: dict[bytes, Entry] = {}
    for line in output.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 5 or len(parts[0]) != 10:
            continue
        perms, size, day, clock, name = parts
        kind = {ord("d"): "d", ord("l"): "l", ord("-"): "f"}.get(perms[0])
        if kind is None:
            continue
        target = b""
        if kind == "l":
            name, _, target = name.partition(b" -> ")
            target = unescape_rsync(target)
        name = unescape_rsync(name)
        if name == b".":
            continue
        stamp = time.strptime(f"{day.decode()} {clock.decode()}", "%Y/%m/%d %H:%M:%S")
        mtime = calendar.timegm(stamp)  # list_remote runs rsync with TZ=UTC
        if excludes.excluded(name, kind == "d"):
            continue
        entries[name] = Entry(kind, int(size) if kind == "f" else len(target), mtime, target)
    return entries


def sftp_list_error(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        # paramiko decodes names as UTF-8 and cannot list such a directory at all
        return (
            "holds a name that is not UTF-8, which SFTP cannot list here; use the rsync transport"
        )
    if isinstance(exc, OSError) and exc.errno and exc.strerror:
        return os.strerror(exc.errno)  # paramiko's own text is "[Errno 2] No such file"
    return str(exc)


def walk_sftp(sftp, root: str, excludes: Excludes) -> Listing:
    """List a remote tree over SFTP (paramiko), without following symlinks."""
    listing = Listing()
    try:
        st = sftp.stat(root)
    except OSError:
        listing.exists = False
        return listing
    if not stat.S_ISDIR(st.st_mode or 0):
        listing.exists = False
        listing.not_dir = True
        return listing
    stack: list[bytes] = [b""]
    base = os.fsencode(root)
    while stack:
        rel_dir = stack.pop()
        full_dir = base + b"/" + rel_dir if rel_dir else base
        try:
            items = sftp.listdir_attr(full_dir)
        except (OSError, UnicodeDecodeError) as exc:
            listing.unreadable.append(rel_dir)
            listing.errors.append(f"{os.fsdecode(full_dir)}: {sftp_list_error(exc)}")
            continue
        for attr in items:
            name = attr.filename
            name = name if isinstance(name, bytes) else os.fsencode(name)
            rel = rel_dir + b"/" + name if rel_dir else name
            full = full_dir + b"/" + name
            listing.add(rel, name, attr, lambda p=full: sftp.readlink(p), excludes, stack)
    return listing
