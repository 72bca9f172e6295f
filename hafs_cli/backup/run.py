"""`hafs backup run`: stage SQLite databases, run `restic backup --json`, report the snapshot."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from hafs_cli import exits
from hafs_cli.backup import sqlite_stage
from hafs_cli.backup.locks import Lock, with_stale_lock_retry
from hafs_cli.backup.restic import Restic
from hafs_cli.backup.sets import BackupSet
from hafs_cli.exits import HafsError

ErrorSink = Callable[..., None]
ProgressSink = Callable[[dict], None]

_COUNTERS = {
    "files_new": "files_new",
    "files_changed": "files_changed",
    "files_unmodified": "files_unmodified",
    "dirs_new": "dirs_new",
    "dirs_changed": "dirs_changed",
    "dirs_unmodified": "dirs_unmodified",
    "data_added": "bytes_added",
    "total_files_processed": "files_processed",
    "total_bytes_processed": "bytes_processed",
}


def snapshot_host(section: dict) -> str:
    """The host name snapshots are recorded under ([backup] host, else this machine's)."""
    from hafs_cli.backup.repository import hostname

    return section.get("host") or hostname()


def backup_set(
    restic: Restic,
    bset: BackupSet,
    section: dict,
    on_error: ErrorSink,
    on_progress: ProgressSink | None = None,
    when: datetime | None = None,
) -> dict | None:
    """Back up one set; return its backup_snapshot record (None when nothing could be read)."""
    with sqlite_stage.run_lock(bset.name):
        return _backup_set(restic, bset, section, on_error, on_progress, when)


def _backup_set(
    restic: Restic,
    bset: BackupSet,
    section: dict,
    on_error: ErrorSink,
    on_progress: ProgressSink | None,
    when: datetime | None,
) -> dict | None:
    present = []
    for path in bset.paths:
        if os.path.lexists(path):
            present.append(path)
        else:
            on_error(f"set '{bset.name}': path does not exist: {path}", set=bset.name, path=path)
    if not present:
        on_error(
            f"set '{bset.name}': none of its paths exist; nothing backed up. Check paths in "
            f"[backup.sets.{bset.name}] (is the disk mounted?)",
            set=bset.name,
        )
        return None
    live = BackupSet(bset.name, tuple(present), bset.excludes, bset.repository)
    try:
        staged = sqlite_stage.stage_databases(live, list(section.get("sqlite_patterns") or []))
    except sqlite_stage.StageError as exc:
        raise HafsError(
            f"set '{bset.name}': cannot copy SQLite database {exc.path}: {exc.reason}",
            exits.RUNTIME,
        ) from None
    host = snapshot_host(section)
    args = ["backup", "--host", host, "--tag", bset.tag]
    for pattern in live.restic_excludes() + staged.excludes:
        args += ["--exclude", pattern]
    if when is not None:
        args += ["--time", when.astimezone().strftime("%Y-%m-%d %H:%M:%S")]
    args += list(present)
    if staged.root:
        args.append(staged.root)
    removed: list[Lock] = []
    started = when or datetime.now(UTC)

    def attempt() -> tuple[dict | None, bool, list[str]]:
        summary = None
        incomplete = False
        notes: list[str] = []
        for msg in restic.stream(args, on_stderr=notes.append):
            kind = msg.get("message_type")
            if kind == "status" and on_progress:
                on_progress(msg)
            elif kind == "error":
                err = msg.get("error")
                reason = err.get("message") if isinstance(err, dict) else err
                on_error(
                    f"set '{bset.name}': restic could not read {msg.get('item')}: "
                    f"{reason or msg.get('during', 'error')}",
                    set=bset.name,
                    path=msg.get("item"),
                )
            elif kind == "summary":
                summary = msg
            elif kind == "incomplete":
                incomplete = True
                notes += msg.get("stderr", [])
        return summary, incomplete, notes

    summary, incomplete, notes = with_stale_lock_retry(restic, attempt, removed)
    if summary is None:
        raise HafsError(
            f"set '{bset.name}': restic backup ended without a summary: {' | '.join(notes[-3:])}",
            exits.RUNTIME,
        )
    rec: dict = {
        "kind": "backup_snapshot",
        "set": bset.name,
        "repository": restic.name,
        "snapshot_id": summary.get("snapshot_id"),
        "time": started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "host": host,
        "paths": list(present),
        "tags": [bset.tag],
    }
    for src, dst in _COUNTERS.items():
        rec[dst] = int(summary.get(src, 0))
    rec["duration_s"] = round(float(summary.get("total_duration", 0.0)), 3)
    rec["sqlite_staged"] = staged.count
    if staged.count:
        rec["sqlite_stage_s"] = round(staged.seconds, 3)
    rec["complete"] = not incomplete
    if removed:
        rec["stale_locks_removed"] = [lk.id for lk in removed]
    for note in notes:
        if "does not exist, skipping" in note:
            on_error(f"set '{bset.name}': {note}", set=bset.name)
    return rec
