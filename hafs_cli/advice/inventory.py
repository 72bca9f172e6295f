"""What recommend knows about the scanned trees: the file, dir and dupgroup records it read.

Paths are kept as text with undecodable bytes as surrogates (os.fsdecode), so any raw
path round-trips through `os.fsencode` and posixpath works on all of them. Every key
is (host, path): the same path on two machines is two places.
"""

from __future__ import annotations

import os
import posixpath
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from hafs_cli.exits import HafsError
from hafs_cli.paths import record_path

Place = tuple[str, str]  # (host, path)


@dataclass(slots=True)
class Entry:
    """One file from the input, with the facts the rules use."""

    host: str
    path: str
    size: int
    mtime_ns: int
    atime_ns: int = 0
    digest: str | None = None  # content hash, from the record or from a dupgroup
    extra: dict | None = None  # the record's identity fields that actions repeat

    @property
    def place(self) -> Place:
        return (self.host, self.path)

    @property
    def touched_ns(self) -> int:
        """Last use we can see: the later of modification and (when scanned) access."""
        return self.mtime_ns if self.mtime_ns >= self.atime_ns else self.atime_ns


@dataclass(slots=True)
class DirStats:
    """Totals of the files below one directory (all depths); newest ignores `.git/` insides."""

    bytes: int = 0
    files: int = 0
    newest_ns: int = 0
    direct_files: int = 0


@dataclass
class DupGroup:
    digest: str
    size: int
    members: list[Entry]
    keeper: Entry | None
    keeper_rule: str | None
    record: dict


@dataclass
class Inventory:
    """The input, indexed for the rules; built once by `ingest`, then read-only."""

    local_host: str = field(default_factory=socket.gethostname)
    files: dict[Place, Entry] = field(default_factory=dict)
    dirs: set[Place] = field(default_factory=set)
    dupgroups: list[DupGroup] = field(default_factory=list)
    # directories whose name the regenerable rule watches: (host, dir) -> files below it
    named_dirs: dict[Place, list[Entry]] = field(default_factory=dict)
    # a `.git` seen in the input marks its parent as a repository root
    git_roots_seen: set[Place] = field(default_factory=set)
    skipped: int = 0
    _dirstats: dict[Place, DirStats] | None = None

    def is_local(self, host: str) -> bool:
        return host in ("", self.local_host)

    def add_file(self, rec: dict, watch_names: frozenset[str]) -> None:
        host, path = place_of(rec)
        size = int(rec.get("size") or 0)
        mtime_ns = int(rec.get("mtime_ns") or 0)
        atime_ns = int(rec.get("atime_ns") or 0)
        digest = rec.get("blake3") or rec.get("hash")
        entry = Entry(
            host, path, size, mtime_ns, atime_ns, digest if isinstance(digest, str) else None
        )
        entry.extra = {k: rec[k] for k in _IDENTITY if k in rec}
        self.files[(host, path)] = entry
        if "/.git/" in path:
            self.git_roots_seen.add((host, path[: path.index("/.git/")] or "/"))
        parts = path.split("/")
        if not watch_names.isdisjoint(parts[:-1]):
            for i, part in enumerate(parts[:-1]):
                if part in watch_names and i > 0:
                    self.named_dirs.setdefault((host, "/".join(parts[: i + 1])), []).append(entry)

    def add_dir(self, rec: dict) -> None:
        host, path = place_of(rec)
        self.dirs.add((host, path))
        if posixpath.basename(path) == ".git":
            self.git_roots_seen.add((host, posixpath.dirname(path)))

    def add_dupgroup(self, rec: dict) -> DupGroup | None:
        """Attach a dupgroup to the files it names (members missing from the input are added)."""
        digest = str(rec.get("blake3") or rec.get("hash") or "")
        members: list[Entry] = []
        for m in rec.get("members") or []:
            if isinstance(m, str):
                m = {"path": m}
            if not isinstance(m, dict) or ("path" not in m and "path_b64" not in m):
                continue
            host, path = place_of(m, default_host=str(rec.get("host") or ""))
            entry = self.files.get((host, path))
            if entry is None:
                entry = Entry(
                    host,
                    path,
                    int(m.get("size") or rec.get("size") or 0),
                    int(m.get("mtime_ns") or 0),
                )
                entry.extra = {k: m[k] for k in _IDENTITY if k in m}
                self.files[(host, path)] = entry
            entry.digest = digest or entry.digest
            members.append(entry)
        if len(members) < 2:
            self.skipped += 1
            return None
        keeper = None
        if rec.get("keeper") is not None:
            k = rec["keeper"]
            k = {"path": k} if isinstance(k, str) else k
            if isinstance(k, dict):
                kp = place_of(k, default_host=str(rec.get("host") or ""))
                keeper = next((e for e in members if e.place == kp), None)
        group = DupGroup(
            digest,
            int(rec.get("size") or members[0].size),
            members,
            keeper,
            rec.get("keeper_rule") or rec.get("rule"),
            rec,
        )
        self.dupgroups.append(group)
        return group

    def exists(self, host: str, path: str) -> bool:
        return (host, path) in self.files or (host, path) in self.dirs

    # -- directory totals ---------------------------------------------------------
    def dirstats(self) -> dict[Place, DirStats]:
        """Totals for every directory that holds input files, computed once."""
        if self._dirstats is not None:
            return self._dirstats
        direct: dict[Place, DirStats] = {}
        for (host, path), e in self.files.items():
            parent = (host, posixpath.dirname(path))
            st = direct.get(parent)
            if st is None:
                st = direct[parent] = DirStats()
            st.bytes += e.size
            st.files += 1
            st.direct_files += 1
            # git's own files change on fetch and gc; the work is what counts as a change
            if e.touched_ns > st.newest_ns and "/.git/" not in path:
                st.newest_ns = e.touched_ns
        total: dict[Place, DirStats] = {}
        for (host, d), st in direct.items():
            cur = d
            while True:
                agg = total.get((host, cur))
                if agg is None:
                    agg = total[(host, cur)] = DirStats()
                agg.bytes += st.bytes
                agg.files += st.files
                if cur == d:
                    agg.direct_files = st.direct_files
                if st.newest_ns > agg.newest_ns:
                    agg.newest_ns = st.newest_ns
                parent = posixpath.dirname(cur)
                if parent == cur:
                    break
                cur = parent
        self._dirstats = total
        return total

    def files_under(self, host: str, directory: str) -> list[Entry]:
        """Input files below a directory (a linear pass; used for a handful of directories)."""
        prefix = directory.rstrip("/") + "/"
        return [e for (h, p), e in self.files.items() if h == host and p.startswith(prefix)]


# Fields of a file record that let `hafs apply` re-verify the file before acting.
_IDENTITY = ("dev", "inode", "mtime_ns", "ctime_ns", "size", "blake3", "host")


def place_of(rec: dict, default_host: str = "") -> Place:
    """(host, path) of a record, the path decoded losslessly."""
    host = rec.get("host") or default_host
    if "path_b64" in rec:
        path = os.fsdecode(record_path(rec))
    else:
        path = rec.get("path")
        if not isinstance(path, str):
            path = os.fsdecode(record_path(rec))
    return (str(host), path)


def ingest(records: Iterable[dict], watch_names: frozenset[str], forward, on_bad) -> Inventory:
    """Read the stream: index file/dir/dupgroup records and forward every record unchanged.

    A file/dir/dupgroup record recommend cannot use is reported through `on_bad` and
    still forwarded (it is not recommend's to drop).
    """
    inv = Inventory()
    add = {"file": lambda r: inv.add_file(r, watch_names), "dir": inv.add_dir}
    add["dupgroup"] = inv.add_dupgroup
    for rec in records:
        handler = add.get(rec.get("kind"))
        if handler is not None:
            try:
                handler(rec)
            except (HafsError, TypeError, ValueError, AttributeError) as exc:
                on_bad(rec, getattr(exc, "message", None) or str(exc))
        forward(rec)
    return inv
