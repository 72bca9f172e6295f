"""`hafs backup list` and `status`: what the repository holds, and how old each set's last backup is."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from hafs_cli.backup.locks import parse_time
from hafs_cli.backup.repository import is_local, local_path
from hafs_cli.backup.restic import Restic
from hafs_cli.backup.sets import BackupSet, set_name_of


def snapshots(restic: Restic, *args: str) -> list[dict]:
    """restic snapshots --json (read-only: no lock), oldest first."""
    data = restic.json("snapshots", "--no-lock", *args)
    items = data if isinstance(data, list) else []
    return sorted(items, key=lambda s: parse_time(s["time"]))


def snapshot_record(snap: dict, repository: str) -> dict:
    """A backup_snapshot record for a snapshot restic lists."""
    return {
        "kind": "backup_snapshot",
        "set": set_name_of(snap.get("tags")),
        "repository": repository,
        "snapshot_id": snap.get("short_id") or snap["id"][:8],
        "id": snap["id"],
        "time": _iso(parse_time(snap["time"])),
        "host": snap.get("hostname", ""),
        "paths": list(snap.get("paths") or []),
        "tags": list(snap.get("tags") or []),
    }


def repository_bytes(restic: Restic) -> int | None:
    """Bytes the repository occupies: exact for a local directory, restic's raw-data size otherwise."""
    if is_local(restic.repository):
        total = 0
        for dirpath, _dirs, files in os.walk(local_path(restic.repository)):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total
    data = restic.json("stats", "--no-lock", "--mode", "raw-data")
    return int(data["total_size"]) if isinstance(data, dict) and "total_size" in data else None


def set_status(
    bset: BackupSet,
    snaps: list[dict],
    host: str,
    repository: str,
    repo_bytes: int | None,
    stale_after_s: float,
    now: datetime | None = None,
) -> dict:
    """A backup_status record: the set's last snapshot on this host, its age, and a verdict."""
    now = now or datetime.now(UTC)
    mine = [s for s in snaps if bset.tag in (s.get("tags") or []) and s.get("hostname") == host]
    rec: dict = {
        "kind": "backup_status",
        "set": bset.name,
        "repository": repository,
        "host": host,
        "snapshots": len(mine),
        "repository_bytes": repo_bytes,
        "stale_after_s": int(stale_after_s),
    }
    if not mine:
        rec.update(state="never", last_snapshot_id=None, last_time=None, age_s=None)
        return rec
    last = mine[-1]
    when = parse_time(last["time"])
    age = (now - when).total_seconds()
    rec.update(
        state="stale" if stale_after_s and age > stale_after_s else "ok",
        last_snapshot_id=last.get("short_id") or last["id"][:8],
        last_time=_iso(when),
        age_s=int(age),
    )
    return rec


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
