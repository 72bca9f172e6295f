"""`hafs backup restore`: never into a non-empty directory unless forced; SQLite copies put back."""

from __future__ import annotations

import os

from hafs_cli import exits
from hafs_cli.backup import sqlite_stage
from hafs_cli.backup.locks import with_stale_lock_retry
from hafs_cli.backup.restic import Restic, escape_pattern
from hafs_cli.backup.sets import set_name_of
from hafs_cli.exits import HafsError


def guard_target(target: str, force: bool) -> str:
    """The absolute target; refuse a non-empty one without --force, and a file always."""
    target = os.path.abspath(os.path.expanduser(target))
    if os.path.exists(target) and not os.path.isdir(target):
        raise HafsError(f"restore target {target} exists and is not a directory", exits.USAGE)
    if os.path.isdir(target) and os.listdir(target) and not force:
        raise HafsError(
            f"restore target {target} is not empty; restore into an empty or new directory, "
            "or pass --force to write into it (files of the same name are overwritten)",
            exits.USAGE,
        )
    return target


def resolve_snapshot(restic: Restic, snapshot: str, set_tag: str | None, host: str | None) -> dict:
    """The snapshot a user named (an ID prefix, or 'latest' within a set and host)."""
    args = ["snapshots", "--no-lock"]
    if snapshot == "latest":
        if set_tag:
            args += ["--tag", set_tag]
        if host:
            args += ["--host", host]
        args.append("latest")
    else:
        args.append(snapshot)
    try:
        data = restic.json(*args)
    except HafsError as exc:
        if "no matching ID found" in exc.message or "no snapshot matched" in exc.message:
            data = []
        else:
            raise
    if not isinstance(data, list) or not data:
        where = f" of set '{set_name_of([set_tag])}'" if set_tag else ""
        raise HafsError(
            f"no snapshot '{snapshot}'{where} in repository '{restic.name}' "
            "(see 'hafs backup list')",
            exits.USAGE,
        )
    from hafs_cli.backup.locks import parse_time

    return max(data, key=lambda snap: parse_time(snap["time"]))


def restore(restic: Restic, snap: dict, target: str, path: str | None) -> dict:
    """Restore a snapshot (or one path of it) into target; a backup_restore record."""
    set_name = set_name_of(snap.get("tags"))
    stage_paths = [
        p for p in snap.get("paths") or [] if set_name and sqlite_stage.is_stage_path(p, set_name)
    ]
    args = ["restore", snap["id"], "--target", target, "--verify"]
    if path:
        wanted = os.path.abspath(os.path.expanduser(path))
        args += ["--include", escape_pattern(wanted)]
        for stage in stage_paths:
            args += ["--include", escape_pattern(sqlite_stage.staged_path(stage, wanted))]
            args += ["--include", escape_pattern(os.path.join(stage, sqlite_stage.MANIFEST))]
    created = not os.path.isdir(target)
    os.makedirs(target, exist_ok=True)
    with_stale_lock_retry(restic, lambda: restic.run(*args), [])
    databases = sqlite_stage.unstage_restored(target, stage_paths)
    if path and not os.path.lexists(os.path.join(target, wanted.lstrip("/"))):
        if created:
            _remove_empty_dirs(target)
        raise HafsError(
            f"{wanted} is not in snapshot {snap.get('short_id') or snap['id'][:8]} "
            f"(it holds {', '.join(snap.get('paths') or []) or 'nothing'}); nothing was "
            "restored. Give the path as it was backed up (absolute), see 'restic ls'",
            exits.USAGE,
        )
    roots = [wanted] if path else [p for p in snap.get("paths") or [] if p not in stage_paths]
    files, size = _count([os.path.join(target, r.lstrip("/")) for r in roots])
    return {
        "kind": "backup_restore",
        "repository": restic.name,
        "snapshot_id": snap.get("short_id") or snap["id"][:8],
        "set": set_name,
        "target": target,
        "path": path,
        "files": files,
        "bytes": size,
        "sqlite_restored": [{"path": d["original"], "quick_check": d["check"]} for d in databases],
    }


def _remove_empty_dirs(top: str) -> None:
    """Remove `top` and the empty folders below it that a restore of nothing created."""
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def _count(roots: list[str]) -> tuple[int, int]:
    """Regular files and their bytes below the restored roots."""
    files = size = 0
    for root in roots:
        if os.path.isfile(root):
            return 1, os.path.getsize(root)
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                files += 1
                size += st.st_size
    return files, size
