"""Carry out `action` records: re-verify, journal, act; and undo from a journal.

Rules that hold for every action:
- the file must still be what the record says (regular file, same size and mtime, same
  full blake3 when the record carries one); otherwise it is skipped with the reason;
- an action that replaces a file by a link needs a keeper that is still there, a regular
  file, and has the same content: nothing is ever replaced by a link to nothing;
- a trash with a keeper is skipped when the keeper is gone or changed;
- nothing is deleted: trash, archive and move put the file somewhere else;
- the journal intent is fsync'd before the file is touched.
"""

from __future__ import annotations

import os
import socket
import stat as stat_mod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hafs_cli import xdg
from hafs_cli.exits import HafsError
from hafs_cli.fs import ops, trash
from hafs_cli.fs.hashing import Changed, hash_file
from hafs_cli.fs.journal import Journal, entry_path, new_run_id, pathf, read_journal
from hafs_cli.paths import record_path

RELOCATIONS = ("trash", "archive", "move")
REPLACEMENTS = ("hardlink", "symlink", "reflink")
ACTIONS = RELOCATIONS + REPLACEMENTS + ("keep",)


class Skip(Exception):
    """The action is not carried out; the message says why."""


@dataclass(frozen=True)
class ApplyOptions:
    trash_mode: str = "quarantine"  # or "os" (the freedesktop.org trash)
    quarantine: str = ""  # "" = a directory on the file's own filesystem
    archive_dir: str = ""  # "" = XDG data dir/archive
    host: str = field(default_factory=socket.gethostname)


def result(rec: dict, status: str, reason: str = "", **extra) -> dict:
    """An `action_result` record for an action record."""
    out = {"kind": "action_result", "action": rec.get("action", "")}
    out.update({k: rec[k] for k in ("path", "path_b64") if k in rec})
    if "path" not in out:
        out["path"] = ""
    out["status"] = status
    if reason:
        out["reason"] = reason
    out.update(extra)
    for key in ("rule", "finding_id"):  # keep the trail back to whoever proposed it
        if key in rec:
            out[key] = rec[key]
    return out


class Applier:
    """Verifies and carries out actions one at a time (journal is None for a dry run)."""

    def __init__(self, opts: ApplyOptions, journal: Journal | None):
        self.opts = opts
        self.journal = journal
        self._keepers: dict[bytes, tuple] = {}
        self._dry_run_id = new_run_id()  # what a real run now would be called

    # -- checks ------------------------------------------------------------------
    def _local(self, rec: dict, what: str) -> None:
        host = rec.get("host")
        if host and host != self.opts.host:
            raise Skip(f"{what} is on host {host}, not on this host ({self.opts.host})")

    def _check_file(self, path: bytes, rec: dict, full: bool) -> os.stat_result:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise Skip("file no longer exists") from None
        if not stat_mod.S_ISREG(st.st_mode):
            raise Skip("no longer a regular file")
        if isinstance(rec.get("size"), int) and st.st_size != rec["size"]:
            raise Skip(f"size changed ({rec['size']} -> {st.st_size} bytes)")
        if isinstance(rec.get("mtime_ns"), int) and st.st_mtime_ns != rec["mtime_ns"]:
            raise Skip("modified since it was scanned (mtime differs)")
        if full and rec.get("blake3"):
            try:
                st, digest = hash_file(path)
            except Changed:
                raise Skip("changed while it was being verified") from None
            if digest != rec["blake3"]:
                raise Skip("content changed since it was hashed (blake3 differs)")
        return st

    def _check_keeper(self, keeper: bytes, path: bytes, digest: str, full: bool) -> None:
        if keeper == path:
            raise Skip("the keeper is the file itself")
        try:
            st = os.lstat(keeper)
        except FileNotFoundError:
            raise Skip("keeper no longer exists: refusing to remove the last copy") from None
        if not stat_mod.S_ISREG(st.st_mode):
            raise Skip("keeper is no longer a regular file")
        if trash.in_trash(keeper, self.opts.quarantine):
            raise Skip("keeper is in a trash or quarantine, where it may be purged: refusing")
        if not full:
            return
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        known = self._keepers.get(keeper)
        if known is None or known[0] != ident:
            try:
                st, found = hash_file(keeper)
            except Changed:
                raise Skip("keeper changed while it was being verified") from None
            known = (ident, found)
            self._keepers[keeper] = known
        if known[1] != digest:
            raise Skip("keeper's content differs from this file's: refusing")

    def _keeper_of(self, rec: dict, path: bytes, required: bool) -> bytes | None:
        keeper_rec = rec.get("keeper")
        if not isinstance(keeper_rec, dict):
            if required:
                raise Skip("no keeper named: a link needs a verified keeper")
            return None
        self._local(keeper_rec, "keeper")
        if not rec.get("blake3"):
            raise Skip("no blake3 in the action: cannot prove the keeper holds the content")
        try:
            keeper = record_path(keeper_rec)
        except HafsError as exc:
            raise Skip(exc.message) from None
        return os.path.abspath(keeper)

    # -- one action ----------------------------------------------------------------
    def run(self, rec: dict) -> dict:
        """Verify and (unless dry run) carry out one action; the `action_result`."""
        kind = rec.get("action")
        if kind not in ACTIONS:
            return result(rec, "skipped", f"unknown action {kind!r}")
        if kind == "keep":
            return result(rec, "done", "nothing to do (keep)", bytes_freed=0)
        act = self.journal is not None
        try:
            self._local(rec, "file")
            path = os.path.abspath(record_path(rec))
            keeper = self._keeper_of(rec, path, required=kind in REPLACEMENTS)
            st = self._check_file(path, rec, full=act)
            if keeper is not None:
                self._check_keeper(keeper, path, rec["blake3"], full=act)
                if ops.same_file(path, keeper):
                    raise Skip("already the same file as the keeper (hard link)")
                if kind == "hardlink" and os.lstat(keeper).st_dev != st.st_dev:
                    raise Skip("keeper is on another filesystem: cannot hard link")
            if kind in RELOCATIONS:
                dest = self._destination(kind, rec, path)
                if not act:
                    freed = _freed(st) if kind != "move" else 0
                    return result(rec, "planned", **pathf("dest", dest), bytes_freed=freed)
                return self._relocate(kind, rec, path, dest, st)
            if not act:
                return result(rec, "planned", bytes_freed=_freed(st))
            return self._replace(kind, rec, path, keeper, st)  # type: ignore[arg-type]
        except Skip as exc:
            return result(rec, "skipped", str(exc))
        except HafsError as exc:
            return result(rec, "skipped", exc.message)
        except OSError as exc:
            return result(rec, "failed", f"{exc.strerror or exc}", errno=exc.errno or 0)

    def _destination(self, kind: str, rec: dict, path: bytes) -> bytes:
        run = self.journal.run if self.journal else self._dry_run_id
        if kind == "move":
            if "target" not in rec and "target_b64" not in rec:
                raise Skip("a move needs a target path")
            dest = os.path.abspath(record_path(rec, "target"))
            if ops.exists(dest):
                raise Skip("target exists: refusing to overwrite")
            return dest
        if kind == "archive":
            base = os.fsencode(self.opts.archive_dir or str(xdg.data_dir(create=False) / "archive"))
            return os.path.join(base, os.fsencode(run), path.lstrip(b"/"))
        return trash.destination(path, run, self.opts.trash_mode, self.opts.quarantine)

    def _relocate(self, kind: str, rec: dict, path: bytes, dest: bytes, st) -> dict:
        assert self.journal is not None
        tmp = dest + b".hafs-part"
        info = (
            trash.info_path_for(dest) if kind == "trash" and self.opts.trash_mode == "os" else None
        )
        seq = self.journal.intent(
            kind,
            **pathf("path", path),
            **pathf("dest", dest),
            **pathf("tmp", tmp),
            **({} if info is None else pathf("trashinfo", info)),
            blake3=rec.get("blake3"),
            size=st.st_size,
        )
        if info is not None:
            trash.write_info(path, info)
        ops.relocate(path, dest, tmp)
        self.journal.done(seq)
        return result(
            rec,
            "done",
            **pathf("dest", dest),
            bytes_freed=_freed(st) if kind != "move" else 0,
            journal=str(self.journal.path),
        )

    def _replace(self, kind: str, rec: dict, path: bytes, keeper: bytes, st) -> dict:
        assert self.journal is not None
        tmp = os.path.join(os.path.dirname(path), f".hafs-{self.journal.run}.tmp".encode())
        seq = self.journal.intent(
            kind,
            **pathf("path", path),
            **pathf("keeper", keeper),
            **pathf("tmp", tmp),
            blake3=rec["blake3"],
            size=st.st_size,
            **ops.meta_of(st),
        )
        try:
            ops.replace_with(kind, path, keeper, tmp, ops.meta_of(st))
        except OSError:
            if ops.exists(tmp):
                os.unlink(tmp)
            raise
        self.journal.done(seq)
        freed = _freed(st) if kind != "reflink" else 0
        return result(rec, "done", bytes_freed=freed, journal=str(self.journal.path))


def _freed(st: os.stat_result) -> int:
    # A file with other hard links frees nothing until its last name goes. For trash the
    # space comes back when the quarantine is emptied; a move frees nothing.
    return st.st_size if st.st_nlink <= 1 else 0


# -- undo ------------------------------------------------------------------------------
def undo(journal_path: Path) -> Iterator[dict]:
    """Reverse every intent of a journal, newest first; `action_result` records.

    Safe to run again after an interrupted undo: finished entries are skipped.
    """
    entries = list(read_journal(journal_path))
    run = next((e.get("run") for e in entries if e.get("op") == "begin"), None)
    if not run:
        raise HafsError(f"{journal_path}: not a hafs apply journal (no 'begin' line)")
    undone = {e["seq"] for e in entries if e.get("op") == "undo" and e.get("status") == "undone"}
    intents = [e for e in entries if e.get("op") == "intent" and e.get("seq") not in undone]
    journal = Journal.reopen(journal_path, run)
    try:
        for entry in reversed(intents):
            rec = {"action": entry.get("action", "")}
            rec.update({k: entry[k] for k in ("path", "path_b64") if k in entry})
            try:
                what = _undo_one(entry)
            except (OSError, Skip) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                journal.write(
                    {"op": "undo", "seq": entry["seq"], "status": "conflict", "reason": reason}
                )
                yield result(rec, "failed", reason, journal=str(journal_path))
                continue
            journal.write({"op": "undo", "seq": entry["seq"], "status": "undone", "reason": what})
            yield result(rec, "undone", what, journal=str(journal_path))
    finally:
        journal.close(end=False)


def _undo_one(entry: dict) -> str:
    kind = entry.get("action")
    path = entry_path(entry, "path")
    tmp = entry_path(entry, "tmp")
    if path is None or tmp is None:
        raise Skip("journal entry lacks its paths")
    if kind in RELOCATIONS:
        dest = entry_path(entry, "dest")
        if dest is None:
            raise Skip("journal entry lacks its destination")
        what = ops.relocate_back(path, dest, tmp, path + b".hafs-undo")
        info = entry_path(entry, "trashinfo")
        if info is not None and ops.exists(info):
            os.unlink(info)
        elif kind != "move" and dest.endswith(path):
            # quarantine/RUN/abs/path: drop the directories hafs made, up to RUN
            ops.prune_empty_dirs(os.path.dirname(dest), dest[: -len(path)])
        return what
    if kind in REPLACEMENTS:
        keeper = entry_path(entry, "keeper")
        if keeper is None:
            raise Skip("journal entry lacks its keeper")
        if ops.exists(tmp):
            os.unlink(tmp)
        if kind == "reflink":
            # The bytes never changed, only their sharing: give back blocks of its own,
            # unless the file was rewritten since (then it is already its own).
            if not ops.exists(path) or _digest_of(path) != entry.get("blake3"):
                return "content changed since apply: left as it is"
        elif not ops.is_link_to(kind, path, keeper):
            return "content was not replaced"
        return _restore_from_keeper(entry, path, keeper, tmp)
    raise Skip(f"unknown action {kind!r} in the journal")


def _digest_of(path: bytes) -> str | None:
    try:
        return hash_file(path)[1]
    except (OSError, Changed):
        return None


def _restore_from_keeper(entry: dict, path: bytes, keeper: bytes, tmp: bytes) -> str:
    try:
        _, digest = hash_file(keeper)
    except Changed:
        raise Skip("keeper changed while it was being read") from None
    if digest != entry.get("blake3"):
        raise Skip("keeper's content changed since apply: cannot restore the original bytes")
    ops.restore_copy(path, keeper, tmp, entry)
    return "restored an independent copy"
