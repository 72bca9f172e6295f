"""`hafs backup forget`: retention with an explicit grouping that survives path changes.

restic's default grouping is host+paths: when a set's paths change (a folder added, a
SQLite staging directory appearing), the older snapshots fall into a group of their own
whose newest snapshots are then kept forever: retention silently stops applying to
them. hafs therefore always passes `--group-by host,tags` and selects one set by its
single `hafs-set:NAME` tag and this host: a set's snapshots form one group whatever
paths they hold, and another machine's snapshots are never touched.
"""

from __future__ import annotations

from hafs_cli import exits
from hafs_cli.backup.locks import Lock, with_stale_lock_retry
from hafs_cli.backup.restic import Restic
from hafs_cli.backup.sets import BackupSet
from hafs_cli.exits import HafsError

GROUP_BY = "host,tags"
POLICY_KEYS = (
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
)


def policy_for(section: dict, set_table: dict | None = None) -> dict[str, int]:
    """The retention policy: [backup] keep_* values, overridden by the set's own (>= 0)."""
    policy = {key: int(section.get(key, 0) or 0) for key in POLICY_KEYS}
    for key in POLICY_KEYS:
        value = (set_table or {}).get(key, -1)
        if value is not None and int(value) >= 0:
            policy[key] = int(value)
    return policy


def forget_args(bset: BackupSet, host: str, policy: dict[str, int], dry_run: bool) -> list[str]:
    if not any(policy.values()):
        raise HafsError(
            f"set '{bset.name}': the retention policy keeps nothing (all keep_* are 0); "
            "set keep_daily / keep_weekly / keep_monthly in [backup]",
            exits.USAGE,
        )
    args = ["forget", "--host", host, "--tag", bset.tag, "--group-by", GROUP_BY]
    for key, value in policy.items():
        if value:
            args += ["--" + key.replace("_", "-"), str(value)]
    if dry_run:
        args.append("--dry-run")
    return args


def forget_set(
    restic: Restic, bset: BackupSet, host: str, policy: dict[str, int], dry_run: bool
) -> list[dict]:
    """Apply the policy to one set; one backup_forget record per group restic reports."""
    args = forget_args(bset, host, policy, dry_run)
    removed_locks: list[Lock] = []
    groups = with_stale_lock_retry(restic, lambda: restic.json(*args), removed_locks)
    out = []
    for group in groups if isinstance(groups, list) else []:
        keep = group.get("keep") or []
        remove = group.get("remove") or []
        paths_seen = sorted({tuple(s.get("paths") or []) for s in keep + remove})
        rec = {
            "kind": "backup_forget",
            "set": bset.name,
            "repository": restic.name,
            "group_by": GROUP_BY.split(","),
            "host": group.get("host") or host,
            "tags": list(group.get("tags") or []),
            "paths_seen": [list(p) for p in paths_seen],
            "policy": {k: v for k, v in policy.items() if v},
            "keep": [s.get("short_id") or s["id"][:8] for s in keep],
            "remove": [s.get("short_id") or s["id"][:8] for s in remove],
            "kept": len(keep),
            "removed": len(remove),
            "dry_run": dry_run,
        }
        if removed_locks:
            rec["stale_locks_removed"] = [lk.id for lk in removed_locks]
        out.append(rec)
    return out


def prune(restic: Restic) -> None:
    """Delete the data no snapshot references any more (restic prune)."""
    with_stale_lock_retry(restic, lambda: restic.run("prune"), [])
