"""What recommend knows about the scanned trees: the file, dir and dupgroup records it read.

Paths are kept as text with undecodable bytes as surrogates (os.fsdecode), so any raw
path round-trips through `os.fsencode` and string operations work on all of them. Every
key is (host, path): the same path on two machines is two places.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterable
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
    # identity fields that action records repeat so `hafs apply` can re-verify the file
    ctime_ns: int | None = None
    dev: int | None = None
    inode: int | None = None
    listed: bool = False  # a file record was read for it (not only a dupgroup member)

    @property
    def place(self) -> Place:
        return (self.host, self.path)

    @property
    def touched_ns(self) -> int:
        """Last use we can see: the later of modification and (when scanned) access."""
        return self.mtime_ns if self.mtime_ns >= self.atime_ns else self.atime_ns

    def identity(self) -> dict:
        out = {"mtime_ns": self.mtime_ns} if self.mtime_ns else {}
        for key in ("ctime_ns", "dev", "inode"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def parent_of(path: str) -> str:
    """posixpath.dirname for the normalised paths scan writes, several times faster."""
    i = path.rfind("/")
    if i > 0:
        return path[:i]
    return "/" if i == 0 else ""


def nearest_ancestor(
    host: str, start: str, memo: dict[Place, str | None], test: Callable[[str], bool]
) -> str | None:
    """The nearest directory at or above `start` that passes `test`, memoised per directory
    (so a whole tree costs one test per directory)."""
    chain = []
    cur = start
    found = None
    while cur:
        key = (host, cur)
        if key in memo:
            found = memo[key]
            break
        chain.append(key)
        if test(cur):
            found = cur
            break
        parent = parent_of(cur)
        if parent == cur:
            break
        cur = parent
    for key in chain:
        memo[key] = found
    return found


def basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]


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


@dataclass
class Inventory:
    """The input, indexed for the rules; built once by `ingest`, then read-only."""

    local_host: str = field(default_factory=socket.gethostname)
    files: dict[Place, Entry] = field(default_factory=dict)
    dirs: set[Place] = field(default_factory=set)
    dupgroups: list[DupGroup] = field(default_factory=list)
    # (host, dir) -> the files directly in it; file name -> the files of that name
    by_dir: dict[Place, list[Entry]] = field(default_factory=dict)
    by_name: dict[str, list[Entry]] = field(default_factory=dict)
    # directories whose name the regenerable rule watches: (host, dir) -> files below it
    named_dirs: dict[Place, list[Entry]] = field(default_factory=dict)
    # a `.git` seen in the input marks its parent as a repository root
    git_roots_seen: set[Place] = field(default_factory=set)
    _dirstats: dict[Place, DirStats] | None = None

    def is_local(self, host: str) -> bool:
        return host in ("", self.local_host)

    def add_file(self, rec: dict, watch_names: frozenset[str]) -> None:
        get = rec.get
        host = get("host") or ""
        if not isinstance(host, str):
            raise ValueError(f"host must be a string, not {host!r}")
        path = get("path")
        if "path_b64" in rec or not isinstance(path, str):
            path = os.fsdecode(record_path(rec))
        size, mtime_ns = get("size"), get("mtime_ns")
        if not _is_int(size) or size < 0 or not _is_int(mtime_ns):
            # a missing age would read as 1970: every temporary file would look abandoned
            raise ValueError(
                "needs an integer size (not negative) and mtime_ns (as 'hafs scan' writes them); "
                "without them its age and size are unknown, so no rule can judge it"
            )
        digest = get("blake3")
        ctime_ns, dev, inode = get("ctime_ns"), get("dev"), get("inode")
        entry = Entry(
            host,
            path,
            size,
            mtime_ns,
            int(get("atime_ns") or 0),
            digest if isinstance(digest, str) else None,
            None if ctime_ns is None else int(ctime_ns),
            _id_or_none(dev, "dev"),
            _id_or_none(inode, "inode"),
        )
        known = self.files.get((host, path))
        if known is not None:
            # Named earlier by a dupgroup (or listed twice): the file record's facts win,
            # and the dupgroup keeps pointing at the same object.
            digest_seen = known.digest
            listed = known.listed
            for slot in Entry.__slots__:
                setattr(known, slot, getattr(entry, slot))
            known.digest = known.digest or digest_seen
            if listed:
                return
            entry = known
        else:
            self._index(entry)
        entry.listed = True
        if "/.git/" in path:
            self.git_roots_seen.add((host, path[: path.index("/.git/")] or "/"))
        if watch_names:
            probe = "/" + path
            if any(n in probe for n in _needles(watch_names)):
                parts = path.split("/")
                for i, part in enumerate(parts[:-1]):
                    if part in watch_names:
                        key = (host, "/".join(parts[: i + 1]))
                        self.named_dirs.setdefault(key, []).append(entry)

    def _index(self, entry: Entry) -> None:
        host, path = entry.host, entry.path
        self.files[(host, path)] = entry
        i = path.rfind("/")
        parent = (host, path[:i] if i > 0 else ("/" if i == 0 else ""))
        siblings = self.by_dir.get(parent)
        if siblings is None:
            self.by_dir[parent] = [entry]
        else:
            siblings.append(entry)
        name = path[i + 1 :]
        namesakes = self.by_name.get(name)
        if namesakes is None:
            self.by_name[name] = [entry]
        else:
            namesakes.append(entry)

    def named(self, match) -> list[Entry]:
        """Files whose name satisfies `match` (tested once per distinct name)."""
        return [e for name, entries in self.by_name.items() if match(name) for e in entries]

    def add_dir(self, rec: dict) -> None:
        host, path = place_of(rec)
        self.dirs.add((host, path))
        if basename(path) == ".git":
            self.git_roots_seen.add((host, parent_of(path)))

    def add_dupgroup(self, rec: dict) -> None:
        """Attach a dupgroup to the files it names (members missing from the input are added)."""
        digest = str(rec.get("blake3") or "")
        group_host = str(rec.get("host") or "")
        members: list[Entry] = []
        new: dict[Place, Entry] = {}  # indexed only once the whole record proved usable
        for m in rec.get("members") or []:
            host, path = place_of(m, default_host=group_host)
            entry = self.files.get((host, path)) or new.get((host, path))
            if entry is None:
                entry = Entry(
                    host,
                    path,
                    int(m.get("size") or rec.get("size") or 0),
                    int(m.get("mtime_ns") or 0),
                    dev=_id_or_none(m.get("dev"), "dev"),
                    inode=_id_or_none(m.get("inode"), "inode"),
                )
                new[entry.place] = entry
            members.append(entry)
        if len(members) < 2:
            raise ValueError("a dupgroup needs at least two members")
        size = int(rec.get("size") or members[0].size)
        if size < 0 or any(m.size < 0 for m in members):
            raise ValueError("a dupgroup's size cannot be negative")
        for entry in new.values():
            self._index(entry)
        for entry in members:
            entry.digest = digest or entry.digest
        keeper = None
        if isinstance(rec.get("keeper"), dict):
            kp = place_of(rec["keeper"], default_host=group_host)
            keeper = next((e for e in members if e.place == kp), None)
        self.dupgroups.append(DupGroup(digest, size, members, keeper, rec.get("keeper_rule")))

    # -- directory totals ---------------------------------------------------------
    def dirstats(self) -> dict[Place, DirStats]:
        """Totals for every directory that holds input files (at any depth), computed once."""
        if self._dirstats is not None:
            return self._dirstats
        total: dict[Place, DirStats] = {}
        for place, entries in self.by_dir.items():
            st = total[place] = DirStats(
                bytes=sum(e.size for e in entries), files=len(entries), direct_files=len(entries)
            )
            # git's own files change on fetch and gc; the work is what counts as a change
            if "/.git/" not in place[1] + "/":
                st.newest_ns = max(e.touched_ns for e in entries)
        # Roll each directory into its parent once, deepest first.
        by_depth: dict[int, list[Place]] = {}
        for place in total:
            by_depth.setdefault(place[1].count("/"), []).append(place)
        for depth in range(max(by_depth, default=0), 0, -1):
            for host, d in by_depth.get(depth, []):
                parent = parent_of(d)
                if parent == d or not d:
                    continue
                st = total[(host, d)]
                up = total.get((host, parent))
                if up is None:
                    up = total[(host, parent)] = DirStats()
                    by_depth.setdefault(parent.count("/"), []).append((host, parent))
                up.bytes += st.bytes
                up.files += st.files
                if st.newest_ns > up.newest_ns:
                    up.newest_ns = st.newest_ns
        self._dirstats = total
        return total


@functools.cache
def _needles(names: frozenset[str]) -> tuple[str, ...]:
    return tuple(f"/{n}/" for n in names)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id_or_none(value: object, name: str) -> int | None:
    """dev or inode: absent, or an integer that is not negative (as the file schema says)."""
    if value is None:
        return None
    if not _is_int(value) or value < 0:  # type: ignore[operator]
        raise ValueError(f"{name} must be an integer that is not negative, not {value!r}")
    return value  # type: ignore[return-value]


def place_of(rec: dict, default_host: str = "") -> Place:
    """(host, path) of a record, the path decoded losslessly."""
    host = rec.get("host") or default_host
    path = rec.get("path")
    if "path_b64" in rec or not isinstance(path, str):
        path = os.fsdecode(record_path(rec))
    return (str(host), path)


def ingest(records: Iterable[dict], watch_names: frozenset[str], forward, on_bad) -> Inventory:
    """Read the stream: index file/dir/dupgroup records and forward every record unchanged.

    A file/dir/dupgroup record recommend cannot use is reported through `on_bad` and
    still forwarded (it is not recommend's to drop).
    """
    inv = Inventory()
    add = {
        "file": lambda r: inv.add_file(r, watch_names),
        "dir": inv.add_dir,
        "dupgroup": inv.add_dupgroup,
    }
    for rec in records:
        handler = add.get(rec.get("kind"))
        if handler is not None:
            try:
                handler(rec)
            except (HafsError, TypeError, ValueError, AttributeError, KeyError) as exc:
                on_bad(rec, getattr(exc, "message", None) or str(exc))
        forward(rec)
    return inv
