"""Walk directory trees into `file`, `dir`, `symlink` and `error` records.

Paths are bytes from start to finish so that names which are not valid UTF-8 round-trip
(records carry them as path + path_b64). Paths in records are absolute (not resolved):
apply may run from another directory than scan did.
"""

from __future__ import annotations

import errno as errno_mod
import os
import re
import socket
import stat as stat_mod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from hafs_cli import records, speedups
from hafs_cli.fs.ignore import Excluder, Scope, compile_patterns, outer_gitignores, read_gitignore
from hafs_cli.paths import path_fields


@dataclass(frozen=True)
class ScanOptions:
    """What the walk lists and where it stops (see `hafs scan --help`)."""

    excludes: tuple[str, ...] = ()
    gitignore: bool = False
    one_file_system: bool = False
    max_depth: int | None = None
    follow_symlinks: bool = False
    hidden: bool = True
    dirs: bool = False
    symlinks: bool = False
    host: str = field(default_factory=socket.gethostname)


@dataclass
class ScanStats:
    """Counters for the end-of-run summary."""

    files: int = 0
    bytes: int = 0
    dirs: int = 0
    symlinks: int = 0
    other: int = 0
    excluded: int = 0
    errors: int = 0

    def add(self, other: ScanStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class DirTask(NamedTuple):
    """One directory still to be listed (a tuple: one is made per directory)."""

    path: bytes
    rel: bytes  # relative to its scan root (b"" for the root itself)
    depth: int  # the root is depth 0
    root_dev: int
    scopes: tuple[Scope, ...] = ()
    ancestors: frozenset = frozenset()  # (dev, inode) of the directories above (follow mode)
    root: bytes = b""  # the scan root this directory belongs to


# Bytes that keep a name off the fast path: JSON escapes, and non-ASCII (UTF-8 to check).
_UNSAFE = re.compile(rb'[\x00-\x1f"\\\x80-\xff]').search


def _text_path(p: bytes) -> dict:
    try:
        return {"path": p.decode()}
    except UnicodeDecodeError:
        return path_fields(p)


def extension(name: bytes) -> str:
    """The lower-case file name extension without the dot ("" when there is none)."""
    dot = name.rfind(b".")
    if dot <= 0:
        return ""
    return name[dot + 1 :].decode("utf-8", "replace").lower()


def error_record(path: bytes, exc: OSError, what: str) -> dict:
    """An `error` record for an OSError at `path` (the walk goes on)."""
    message = exc.strerror or str(exc)
    return {
        "kind": "error",
        "reason": f"{what}: {message}",
        **_text_path(path),
        "errno": exc.errno or 0,
        "message": message,
    }


def rebased(pattern: str, root: bytes) -> str:
    """An exclude pattern for one root: an absolute path inside it becomes anchored there.

    `--exclude ~/Library` reaches us as /home/me/Library; relative to the root /home/me
    that is the gitignore pattern /Library. Other patterns (including /build, anchored
    at the root) are kept as they are.
    """
    neg = "!" if pattern.startswith("!") else ""
    body = pattern[len(neg) :]
    top = os.fsdecode(root).rstrip("/")
    if not body.startswith("/") or not top:
        return pattern
    if body.rstrip("/").startswith(top + "/"):
        return neg + body[len(top) :]
    return pattern


class Walker:
    """Lists directory trees; `walk` for one process, `scan_dir` for a share of the work."""

    def __init__(self, opts: ScanOptions):
        self.opts = opts
        self.stats = ScanStats()
        self._excluders: dict[bytes, Excluder] = {}
        self._match = bool(opts.excludes) or opts.gitignore
        self._visited: set[tuple[int, int]] = set()
        # A `file` record as JSON, filled in by %-formatting: the same bytes as
        # records.dumps(file_record(...)) for names that need no escaping.
        self._host_json = orjson.dumps(opts.host)
        self._cwalk = speedups.load("_cwalk")
        host = self._host_json.replace(b"%", b"%%")
        self._line = (
            b'{"kind":"file","path":"%s","size":%d,"mtime_ns":%d,"ctime_ns":%d,"dev":%d,'
            b'"inode":%d,"nlink":%d,"mode":%d,"extension":"%s","host":' + host + b"}\n"
        )

    # -- records -----------------------------------------------------------------
    def _stat_record(self, kind: str, path: bytes, st: os.stat_result) -> dict:
        rec = {"kind": kind}
        rec.update(_text_path(path))
        rec["size"] = st.st_size
        rec["mtime_ns"] = st.st_mtime_ns
        rec["ctime_ns"] = st.st_ctime_ns
        rec["dev"] = st.st_dev
        rec["inode"] = st.st_ino
        rec["nlink"] = st.st_nlink
        rec["mode"] = st.st_mode
        return rec

    def file_record(self, path: bytes, name: bytes, st: os.stat_result) -> dict:
        # The hot path of every scan: one dict literal, no helper calls for UTF-8 names.
        stats = self.stats
        stats.files += 1
        stats.bytes += st.st_size
        raw = None
        try:
            text = path.decode()
        except UnicodeDecodeError:
            fields = path_fields(path)
            text, raw = fields["path"], fields["path_b64"]
        rec = {
            "kind": "file",
            "path": text,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns,
            "dev": st.st_dev,
            "inode": st.st_ino,
            "nlink": st.st_nlink,
            "mode": st.st_mode,
            "extension": extension(name),
            "host": self.opts.host,
        }
        if raw is not None:
            rec["path_b64"] = raw
        return rec

    def _dir_record(self, path: bytes, st: os.stat_result) -> dict:
        rec = self._stat_record("dir", path, st)
        rec["host"] = self.opts.host
        return rec

    def _symlink_record(self, path: bytes) -> dict:
        st = os.lstat(path)
        target = os.readlink(path)
        self.stats.symlinks += 1
        rec = self._stat_record("symlink", path, st)
        rec.update(path_fields(target, key="target"))
        rec["host"] = self.opts.host
        return rec

    def _error(self, path: bytes, exc: OSError, what: str) -> dict:
        self.stats.errors += 1
        return error_record(path, exc, what)

    # -- roots -------------------------------------------------------------------
    def start(self, roots: list[bytes]) -> Iterator[dict | DirTask]:
        """Records for roots that are files, tasks for roots that are directories.

        A root given as a symlink is followed (like find -H).
        """
        for root in roots:
            path = os.path.abspath(root)
            try:
                st = os.stat(path)
            except OSError as exc:
                yield self._error(path, exc, "cannot scan")
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                scopes = outer_gitignores(path) if self.opts.gitignore else ()
                self.stats.dirs += 1
                if self.opts.dirs:
                    yield self._dir_record(path, st)
                if self.opts.max_depth is None or self.opts.max_depth > 0:
                    ancestors = frozenset({(st.st_dev, st.st_ino)})
                    self._visited.add((st.st_dev, st.st_ino))
                    yield DirTask(path, b"", 0, st.st_dev, scopes, ancestors, path)
            elif stat_mod.S_ISREG(st.st_mode):
                yield self.file_record(path, os.path.basename(path), st)
            else:
                self.stats.other += 1

    def walk(self, roots: list[bytes]) -> Iterator[dict]:
        """Every record under `roots`, depth first, in one process."""
        stack: list[DirTask] = []
        for item in self.start(roots):
            if isinstance(item, DirTask):
                stack.append(item)
            else:
                yield item
        while stack:
            yield from self.scan_dir(stack.pop(), stack.append)

    # -- one directory -----------------------------------------------------------
    def scan_dir(
        self, task: DirTask, push: Callable[[DirTask], None], lines: list[bytes] | None = None
    ) -> Iterator[dict]:
        """Records for the entries of one directory; subdirectories go to `push`.

        With `lines`, `file` records are appended to it as JSON Lines (bytes objects of
        one or more whole lines; `stats.files` counts them) instead of being yielded; the
        other kinds are still yielded as dicts.
        """
        opts = self.opts
        if lines is not None and self._cwalk is not None:
            yield from self._scan_dir_c(task, push, lines)
            return
        try:
            with os.scandir(task.path) as it:
                entries = list(it)
        except OSError as exc:
            yield self._error(task.path, exc, "cannot read directory")
            return
        scopes = self._scopes(task)
        depth = task.depth + 1
        descend = opts.max_depth is None or depth < opts.max_depth
        hidden = opts.hidden
        match = self._match
        safe_dir = lines is not None and not _UNSAFE(task.path)
        line = self._line
        unsafe = _UNSAFE
        append = lines.append if lines is not None else None
        files = size_sum = 0
        for entry in entries:
            name = entry.name
            if not hidden and name[:1] == b".":
                continue
            try:
                rel = b""
                if match:
                    rel = task.rel + b"/" + name if task.rel else name
                    if self._skip(
                        task.root, scopes, rel, name, entry.is_dir(follow_symlinks=False)
                    ):
                        self.stats.excluded += 1
                        continue
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    if lines is None:
                        yield self.file_record(entry.path, name, st)
                    elif safe_dir and not unsafe(name):
                        # The hot path: one lstat, one %-format, no dict.
                        dot = name.rfind(b".")
                        size = st.st_size
                        files += 1
                        size_sum += size
                        append(
                            line
                            % (
                                entry.path,
                                size,
                                st.st_mtime_ns,
                                st.st_ctime_ns,
                                st.st_dev,
                                st.st_ino,
                                st.st_nlink,
                                st.st_mode,
                                name[dot + 1 :].lower() if dot > 0 else b"",
                            )
                        )
                    else:
                        lines.append(records.dumps(self.file_record(entry.path, name, st)))
                elif entry.is_dir(follow_symlinks=False):
                    yield from self._subdir(
                        task, scopes, entry.path, rel or name, depth, descend, push
                    )
                elif entry.is_symlink():
                    yield from self._symlink(
                        task, scopes, entry.path, name, rel or name, depth, push
                    )
                else:
                    self.stats.other += 1
            except OSError as exc:
                yield self._error(entry.path, exc, "cannot stat")
        self.stats.files += files
        self.stats.bytes += size_sum

    def _scopes(self, task: DirTask) -> tuple[Scope, ...]:
        """The task's .gitignore scopes, with this directory's own .gitignore added."""
        if self.opts.gitignore:
            spec = read_gitignore(task.path + b"/.gitignore")
            if spec is not None:
                return task.scopes + ((task.rel.decode("utf-8", "surrogateescape"), spec),)
        return task.scopes

    def _scan_dir_c(
        self, task: DirTask, push: Callable[[DirTask], None], lines: list[bytes]
    ) -> Iterator[dict]:
        """scan_dir through the C lister: the same records, with no Python per plain file
        (only the exclude check, when there are patterns).

        C formats the `file` records it can (as _line would); everything else comes back
        as (name, code, errno) and takes the Python path below.
        """
        opts = self.opts
        stats = self.stats
        match = self._match
        scopes = self._scopes(task)
        try:
            listed = self._cwalk.list_dir(  # type: ignore[union-attr]
                task.path, self._host_json, opts.hidden, match
            )
        except OSError as exc:
            yield self._error(task.path, exc, "cannot read directory")
            return
        blob, files, size_sum, rest = listed[:4]
        prefix = task.rel + b"/" if task.rel else b""
        if match and files:
            kept, pos = [], 0
            for name, start, end, size in listed[4]:
                if self._skip(task.root, scopes, prefix + name, name, False):
                    stats.excluded += 1
                    files -= 1
                    size_sum -= size
                    kept.append(blob[pos:start])
                    pos = end
            if pos:
                kept.append(blob[pos:])
                blob = b"".join(kept)
        if blob:
            lines.append(blob)
            stats.files += files
            stats.bytes += size_sum
        if not rest:
            return
        depth = task.depth + 1
        descend = opts.max_depth is None or depth < opts.max_depth
        base = task.path if task.path.endswith(b"/") else task.path + b"/"
        for name, code, err in rest:
            path = base + name
            rel = prefix + name if match else name
            if match and self._skip(task.root, scopes, rel, name, code == "d"):
                stats.excluded += 1
                continue
            try:
                if code == "d":
                    yield from self._subdir(task, scopes, path, rel, depth, descend, push)
                elif code == "l":
                    yield from self._symlink(task, scopes, path, name, rel, depth, push)
                elif code == "f":  # a name C does not format: the dict path
                    st = os.lstat(path)
                    if stat_mod.S_ISREG(st.st_mode):
                        lines.append(records.dumps(self.file_record(path, name, st)))
                    else:
                        stats.other += 1  # replaced since it was listed
                elif code == "e":
                    raise OSError(err, os.strerror(err), path)
                else:
                    stats.other += 1
            except OSError as exc:
                yield self._error(path, exc, "cannot stat")

    def _skip(
        self, root: bytes, scopes: tuple[Scope, ...], rel: bytes, name: bytes, is_dir: bool
    ) -> bool:
        if self.opts.gitignore and is_dir and name == b".git":
            return True
        excluder = self._excluders.get(root)
        if excluder is None:
            patterns = [rebased(p, root) for p in self.opts.excludes]
            excluder = Excluder(compile_patterns(patterns), self.opts.gitignore)
            self._excluders[root] = excluder
        return excluder.excluded(scopes, rel.decode("utf-8", "surrogateescape"), is_dir)

    def _subdir(
        self,
        task: DirTask,
        scopes: tuple[Scope, ...],
        path: bytes,
        rel: bytes,
        depth: int,
        descend: bool,
        push: Callable[[DirTask], None],
        st: os.stat_result | None = None,
    ) -> Iterator[dict]:
        opts = self.opts
        self.stats.dirs += 1
        if st is None and (opts.dirs or opts.one_file_system or opts.follow_symlinks):
            st = os.lstat(path)
        if opts.dirs and st is not None:
            yield self._dir_record(path, st)
        if not descend:
            return
        if st is not None and opts.one_file_system and st.st_dev != task.root_dev:
            return
        ancestors = task.ancestors
        if opts.follow_symlinks and st is not None:
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                yield self._error(
                    path, OSError(errno_mod.ELOOP, "file system loop detected"), "not descending"
                )
                return
            if ident in self._visited:
                return  # reached twice through symlinks: listed once
            self._visited.add(ident)
            ancestors = ancestors | {ident}
        push(DirTask(path, rel, depth, task.root_dev, scopes, ancestors, task.root))

    def _symlink(
        self,
        task: DirTask,
        scopes: tuple[Scope, ...],
        path: bytes,
        name: bytes,
        rel: bytes,
        depth: int,
        push: Callable[[DirTask], None],
    ) -> Iterator[dict]:
        opts = self.opts
        if opts.follow_symlinks:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None  # a dangling link: nothing to follow
            if st is not None and stat_mod.S_ISREG(st.st_mode):
                yield self.file_record(path, name, st)
                return
            if st is not None and stat_mod.S_ISDIR(st.st_mode):
                descend = opts.max_depth is None or depth < opts.max_depth
                yield from self._subdir(task, scopes, path, rel, depth, descend, push, st)
                return
        if opts.symlinks:
            yield self._symlink_record(path)
        else:
            self.stats.symlinks += 1
