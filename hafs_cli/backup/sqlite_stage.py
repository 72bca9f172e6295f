"""Consistent copies of live SQLite databases, made before restic reads a set.

restic reads a file while it may be written to; a database caught half-way through a
transaction restores as garbage. So every SQLite file in a set is first copied with
SQLite's online backup API (one read transaction: a consistent state) into a staging
directory, restic backs up the staged copy instead of the live file (and its -wal,
-shm and -journal companions), and a manifest in the staging directory says where each
copy belongs. `hafs backup restore` puts the copies back in place.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from hafs_cli import exits, xdg
from hafs_cli.backup.restic import escape_pattern
from hafs_cli.backup.sets import BackupSet
from hafs_cli.exits import HafsError

MAGIC = b"SQLite format 3\x00"
MANIFEST = ".hafs-sqlite-manifest.json"
STAGE_DIR = "backup-stage"
COMPANIONS = ("-wal", "-shm", "-journal")


@dataclass
class Staged:
    root: str  # the staging directory restic backs up in addition to the set's paths
    originals: list[str]  # live database paths, in the order they were copied
    excludes: list[str]  # restic --exclude patterns for the live files
    seconds: float

    @property
    def count(self) -> int:
        return len(self.originals)


def stage_root(set_name: str) -> str:
    return os.path.join(xdg.cache_dir(), STAGE_DIR, set_name)


@contextlib.contextmanager
def run_lock(set_name: str) -> Iterator[None]:
    """Hold this set's staging directory for one run (two runs of a set must not interleave)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; runs are not expected to overlap there
        yield
        return
    base = os.path.join(xdg.cache_dir(), STAGE_DIR)
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, f"{set_name}.lock"), "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HafsError(
                f"set '{set_name}': another 'hafs backup run' of this set is in progress on this "
                "machine; try again when it ends",
                exits.RUNTIME,
            ) from None
        yield


def is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == MAGIC
    except OSError:
        return False


def find_databases(bset: BackupSet, patterns: list[str]) -> Iterator[str]:
    """SQLite files in the set's paths: name matches a pattern and the header says SQLite."""
    skip = os.path.join(xdg.cache_dir(create=False), STAGE_DIR)
    for root in bset.paths:
        if os.path.isfile(root):
            name = os.path.basename(root)
            if any(fnmatch.fnmatchcase(name, p) for p in patterns) and is_sqlite(root):
                yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not bset.is_excluded(root, os.path.join(dirpath, d))
                and os.path.join(dirpath, d) != skip
            )
            for name in sorted(filenames):
                if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or bset.is_excluded(root, path):
                    continue
                if is_sqlite(path):
                    yield path


def copy_database(source: str, dest: str) -> None:
    """Copy a live database with SQLite's online backup API (never writes to the source)."""
    import sqlite3

    tmp = dest + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    src = sqlite3.connect(f"file:{_uri_path(source)}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # pages=-1: the whole database in one step, one read transaction
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(tmp, dest)


def _uri_path(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def stage_databases(bset: BackupSet, patterns: list[str]) -> Staged:
    """Copy every database of the set into its (emptied) staging directory."""
    started = time.monotonic()
    root = stage_root(bset.name)
    if os.path.exists(root):
        shutil.rmtree(root)
    originals: list[str] = []
    excludes: list[str] = []
    if patterns:
        for db in find_databases(bset, patterns):
            dest = staged_path(root, db)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            import sqlite3  # only once a database is found: most runs never need it

            try:
                copy_database(db, dest)
            except (sqlite3.Error, OSError) as exc:
                raise StageError(db, str(exc)) from None
            st = os.stat(db)
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
            originals.append(db)
            excludes.append(escape_pattern(db))
            excludes += [escape_pattern(db + suffix) for suffix in COMPANIONS]
    if originals:
        manifest = {
            "version": 1,
            "set": bset.name,
            "stage_root": root,
            "databases": [
                {"original": db, "staged": os.path.relpath(staged_path(root, db), root)}
                for db in originals
            ],
        }
        with open(os.path.join(root, MANIFEST), "wb") as fh:
            fh.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return Staged(root if originals else "", originals, excludes, time.monotonic() - started)


def staged_path(root: str, original: str) -> str:
    """Where the copy of `original` lives: its absolute path mirrored below the stage root."""
    drive, rest = os.path.splitdrive(os.path.abspath(original))
    return os.path.join(root, drive.replace(":", ""), rest.lstrip(os.sep))


class StageError(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def is_stage_path(snapshot_path: str, set_name: str) -> bool:
    """Whether a snapshot's top-level path is a hafs staging directory for `set_name`."""
    parts = snapshot_path.rstrip("/").split("/")
    return len(parts) >= 2 and parts[-2:] == [STAGE_DIR, set_name]


def unstage_restored(target: str, stage_paths: list[str]) -> list[dict]:
    """After a restore into `target`, move staged database copies to their original places.

    Returns one entry per database moved: original path, restored path, quick_check result.
    """
    moved: list[dict] = []
    for stage in stage_paths:
        restored_stage = os.path.join(target, stage.lstrip("/"))
        manifest_file = os.path.join(restored_stage, MANIFEST)
        if not os.path.isfile(manifest_file):
            continue
        with open(manifest_file, "rb") as fh:
            manifest = orjson.loads(fh.read())
        for entry in manifest.get("databases", []):
            src = os.path.join(restored_stage, entry["staged"])
            if not os.path.exists(src):
                continue  # a partial restore (PATH) that did not include this database
            dest = os.path.join(target, entry["original"].lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(src, dest)
            moved.append({"original": entry["original"], "path": dest, "check": quick_check(dest)})
        os.unlink(manifest_file)
        _remove_empty_dirs(restored_stage, stop=target)
    return moved


def quick_check(path: str) -> str:
    """SQLite's PRAGMA quick_check of a restored database ("ok" when sound)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{_uri_path(path)}?immutable=1", uri=True)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"error: {exc}"
    return "; ".join(str(r[0]) for r in rows[:5])


def _remove_empty_dirs(top: str, stop: str) -> None:
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass
    parent = os.path.dirname(top)
    stop = os.path.abspath(stop)
    while parent.startswith(stop) and parent != stop:
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = os.path.dirname(parent)
