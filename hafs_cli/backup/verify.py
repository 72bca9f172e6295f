"""`hafs backup verify`: restic check, then a sample restore compared against the source.

restic check proves the repository is internally sound. The sample goes further: files
from each set's latest snapshot are restored (restic restore --verify) into a temporary
directory and their blake3 hashes compared with the files on disk. A source file whose
size and mtime still equal the snapshot's must hash the same; one changed since the
snapshot cannot be compared and is counted as such, never as a pass.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from datetime import UTC, datetime

import blake3

from hafs_cli import exits, xdg
from hafs_cli.backup import sqlite_stage
from hafs_cli.backup.locks import Lock, with_stale_lock_retry
from hafs_cli.backup.restic import Restic, ResticLocked, escape_pattern
from hafs_cli.backup.sets import BackupSet
from hafs_cli.exits import HafsError

INCLUDES_PER_RESTORE = 400  # keeps each restic restore's argv well below ARG_MAX
LISTED_PROBLEMS = 50


def check(restic: Restic, read_data_subset: str = "") -> dict:
    """restic check (optionally reading a subset of the data): a backup_check record."""
    args = ["check"]
    if read_data_subset:
        args += ["--read-data-subset", read_data_subset]
    removed: list[Lock] = []

    def attempt():
        proc = restic.run(*args, ok_codes=(0, 1))
        text = (proc.stdout + proc.stderr).decode(errors="replace")
        if proc.returncode == 1:
            failure = restic.failure("check", 1, text)
            if isinstance(failure, ResticLocked) or failure.code == exits.USAGE:
                raise failure
        return proc.returncode, text

    code, text = with_stale_lock_retry(restic, attempt, removed)
    rec: dict = {
        "kind": "backup_check",
        "repository": restic.name,
        "ok": code == 0,
        "read_data_subset": read_data_subset or None,
    }
    if code != 0:
        rec["errors"] = _check_errors(text)
    if removed:
        rec["stale_locks_removed"] = [lk.id for lk in removed]
    return rec


_NOISE = re.compile(
    r"^(using temporary cache|create exclusive lock|load indexes|check all packs|"
    r"check snapshots|read all data|read group|\[\d+:\d+\]|no errors were found)"
)


def _check_errors(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln.strip())]
    return lines[:LISTED_PROBLEMS]


def parse_ns(text: str) -> int:
    """An RFC 3339 time with up to nanosecond precision, as integer nanoseconds since 1970."""
    m = re.match(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.fromisoformat(m.group(1) + zone).astimezone(UTC)
    frac = (m.group(2) or "0")[:9].ljust(9, "0")
    return int(base.timestamp()) * 1_000_000_000 + int(frac)


def file_hash(path: str) -> str:
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if os.path.getsize(path):
        hasher.update_mmap(path)
    return hasher.hexdigest()


def sample_files(nodes: list[dict], size: int, seed: int | None) -> list[dict]:
    """`size` file nodes chosen at random (all of them when size is 0 or larger)."""
    files = [n for n in nodes if n.get("type") == "file"]
    if size <= 0 or size >= len(files):
        return files
    return random.Random(seed).sample(files, size)


def restore_files(restic: Restic, snapshot_id: str, paths: list[str], target: str) -> None:
    """Restore exactly these snapshot paths into target (restic restore --verify)."""
    for start in range(0, len(paths), INCLUDES_PER_RESTORE):
        args = ["restore", snapshot_id, "--target", target, "--verify"]
        for path in paths[start : start + INCLUDES_PER_RESTORE]:
            args += ["--include", escape_pattern(path)]
        with_stale_lock_retry(restic, lambda a=args: restic.run(*a), [])


def verify_sample(
    restic: Restic, bset: BackupSet, snap: dict, sample: int, seed: int | None = None
) -> dict:
    """Restore a sample of a snapshot's files and compare each with its source: backup_verify."""
    snap_id = snap.get("short_id") or snap["id"][:8]
    data = restic.run("ls", "--json", "--no-lock", snap["id"]).stdout
    import orjson

    nodes = []
    for line in data.splitlines():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("struct_type") == "node":
            nodes.append(obj)
    chosen = sample_files(nodes, sample, seed)
    rec: dict = {
        "kind": "backup_verify",
        "set": bset.name,
        "repository": restic.name,
        "snapshot_id": snap_id,
        "files_in_snapshot": sum(1 for n in nodes if n.get("type") == "file"),
        "sampled": len(chosen),
        "matched": 0,
        "source_changed": 0,
        "bytes_compared": 0,
        "mismatched": [],
        "missing": [],
        "sqlite_checked": 0,
        "sqlite_corrupt": [],
    }
    with tempfile.TemporaryDirectory(prefix="verify-", dir=xdg.cache_dir()) as target:
        try:
            restore_files(restic, snap["id"], [n["path"] for n in chosen], target)
        except ResticLocked:
            raise
        except HafsError as exc:
            if exc.code == exits.USAGE:
                raise
            rec["restore_error"] = exc.message  # damaged data: report, then compare what came back
        for node in chosen:
            _compare(node, target, rec)
    problems = rec["mismatched"] or rec["missing"] or rec["sqlite_corrupt"]
    rec["ok"] = not problems and "restore_error" not in rec
    rec["mismatched"] = rec["mismatched"][:LISTED_PROBLEMS]
    rec["missing"] = rec["missing"][:LISTED_PROBLEMS]
    return rec


def _compare(node: dict, target: str, rec: dict) -> None:
    path = node["path"]
    restored = os.path.join(target, path.lstrip("/"))
    if not os.path.isfile(restored):
        rec["missing"].append(path)
        return
    if os.path.getsize(restored) != int(node.get("size", 0)):
        rec["mismatched"].append(path)
        return
    if sqlite_stage.is_sqlite(restored):
        # A database must restore usable: a staged copy always does; a live database
        # whose name no sqlite_patterns entry matched may not (restic read it mid-write).
        rec["sqlite_checked"] += 1
        if sqlite_stage.quick_check(restored) != "ok":
            rec["sqlite_corrupt"].append(path)
    source = path if os.path.isabs(path) else None
    try:
        st = os.stat(source) if source else None
    except OSError:
        st = None
    unchanged = (
        st is not None
        and st.st_size == int(node.get("size", 0))
        and st.st_mtime_ns == parse_ns(node["mtime"])
    )
    if not unchanged or source is None:
        rec["source_changed"] += 1
        return
    if file_hash(restored) == file_hash(source):
        rec["matched"] += 1
        rec["bytes_compared"] += st.st_size
    else:
        rec["mismatched"].append(path)


def latest_of_set(snaps: list[dict], bset: BackupSet, host: str) -> dict | None:
    mine = [s for s in snaps if bset.tag in (s.get("tags") or []) and s.get("hostname") == host]
    return mine[-1] if mine else None


def require_sample_size(value: int) -> int:
    if value < 0:
        raise HafsError("--sample must be 0 (every file) or a positive number", exits.USAGE)
    return value


_SUBSET = re.compile(r"^(?:(\d+(?:\.\d+)?)%|(\d+)/(\d+)|\d+(?:\.\d+)?[KMGTkmgt])$")


def require_subset(value: str, where: str = "--read-data-subset") -> str:
    """A --read-data-subset value restic accepts: x% (0 < x <= 100), n/t (1 <= n <= t) or
    a size (500M, 2G); checked before restic check runs, so a typo is a usage error."""
    m = _SUBSET.match(value.strip()) if value else None
    ok = bool(m)
    if m and m.group(1) is not None:
        ok = 0 < float(m.group(1)) <= 100
    elif m and m.group(2) is not None:
        ok = 1 <= int(m.group(2)) <= int(m.group(3))
    if value and not ok:
        raise HafsError(
            f"{where} {value!r}: write a percentage above 0 and at most 100 (5%), a part n/t "
            "with 1 <= n <= t (1/10), or a size (500M)",
            exits.USAGE,
        )
    return value.strip() if value else value
