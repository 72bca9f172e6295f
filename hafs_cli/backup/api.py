"""One function per `hafs backup` subcommand: configuration in, records out.

The command module only parses options and writes what these yield; each function
takes the effective Config, so everything here is usable without the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from hafs_cli import exits
from hafs_cli.backup.repository import open_repository, repo_config
from hafs_cli.backup.restic import Restic
from hafs_cli.backup.run import backup_set, snapshot_host
from hafs_cli.backup.sets import TAG_PREFIX, BackupSet, resolve_sets
from hafs_cli.exits import HafsError

# status, retention, verify and restore are imported where used: `hafs backup run`,
# the command that runs daily, loads only what it needs.

ErrorSink = Callable[..., None]


class Backup:
    """The [backup] configuration and the repositories opened so far."""

    def __init__(self, config):
        self.section: dict = config.section("backup")
        self.sync_section: dict = config.section("sync")
        self.hosts: dict = config.section("hosts")
        self._repos: dict[str, Restic] = {}

    def repo(self, name: str | None = None) -> Restic:
        key = name or self.section.get("repository") or "default"
        if key not in self._repos:
            self._repos[key] = open_repository(self.section, self.hosts, key)
        return self._repos[key]

    def sets(self, names: tuple[str, ...] = (), repo: str | None = None) -> list[BackupSet]:
        sets = resolve_sets(self.section, self.sync_section, names)
        if repo:
            repo_config(self.section, repo)  # fail early on an unknown name
            sets = [BackupSet(s.name, s.paths, s.excludes, repo) for s in sets]
        return sets

    def sets_in(self, repo: str | None, names: tuple[str, ...] = ()) -> list[BackupSet]:
        """The named sets, or else every configured set stored in this repository."""
        if names:
            return self.sets(names)
        if not self.section.get("sets"):
            return []
        name = repo or self.section.get("repository") or "default"
        return [s for s in self.sets() if s.repository == name]

    @property
    def host(self) -> str:
        return snapshot_host(self.section)


def init(config, repo: str | None) -> dict:
    """Create the repository (an existing one that the password opens is reported, not an error)."""
    b = Backup(config)
    restic = b.repo(repo)
    state = "created"
    try:
        restic.run("init")
    except HafsError as exc:
        if "already exists" not in exc.message and "already initialized" not in exc.message:
            raise
        restic.run("cat", "config", "--no-lock")  # the password must open it
        state = "exists"
    return {
        "kind": "backup_repository",
        "repository": restic.name,
        "url": restic.repository,
        "state": state,
    }


def run(
    config,
    names: tuple[str, ...],
    repo: str | None,
    when: datetime | None,
    on_error: ErrorSink,
    on_progress: Callable[[dict], None] | None = None,
) -> Iterator[dict]:
    """Back up each set in turn; a set that fails is reported and the next one still runs."""
    b = Backup(config)
    sets = b.sets(names, repo)
    for bset in sets:
        try:
            rec = backup_set(b.repo(bset.repository), bset, b.section, on_error, on_progress, when)
        except HafsError as exc:
            if len(sets) == 1:
                raise
            on_error(exc.message, set=bset.name, exit=exc.code)
            continue
        if rec is not None:
            yield rec


def list_snapshots(config, repo: str | None, names: tuple[str, ...]) -> Iterator[dict]:
    from hafs_cli.backup import status

    b = Backup(config)
    restic = b.repo(repo)
    args: list[str] = []
    for name in names:
        args += ["--tag", TAG_PREFIX + name]
    found = status.snapshots(restic, *args)
    configured = b.section.get("sets") or {}
    unknown = [n for n in names if n not in configured]
    if unknown and not found:
        raise HafsError(
            f"no snapshots of set(s) {', '.join(unknown)} in repository '{restic.name}', and no "
            f"such set is configured (configured: {', '.join(configured) or 'none'})",
            exits.USAGE,
        )
    for snap in found:
        yield status.snapshot_record(snap, restic.name)


def set_status(config, repo: str | None, names: tuple[str, ...]) -> list[dict]:
    from hafs_cli.backup import status

    b = Backup(config)
    restic = b.repo(repo)
    sets = b.sets_in(repo, names)
    snaps = status.snapshots(restic)
    size = status.repository_bytes(restic)
    stale_after = float(b.section.get("stale_after_hours", 36) or 0) * 3600
    return [status.set_status(s, snaps, b.host, restic.name, size, stale_after) for s in sets]


def forget(
    config, repo: str | None, names: tuple[str, ...], dry_run: bool, prune: bool
) -> Iterator[dict]:
    from hafs_cli.backup import retention

    b = Backup(config)
    restic = b.repo(repo)
    tables = b.section.get("sets") or {}
    sets = b.sets_in(repo, names)
    if not sets:
        raise HafsError(f"no backup sets stored in repository '{restic.name}'", exits.USAGE)
    for bset in sets:
        policy = retention.policy_for(b.section, tables.get(bset.name))
        yield from retention.forget_set(restic, bset, b.host, policy, dry_run)
    if prune and not dry_run:
        retention.prune(restic)


def verify_repo(
    config,
    repo: str | None,
    names: tuple[str, ...],
    sample: int | None,
    seed: int | None,
    read_data_subset: str | None,
) -> Iterator[dict]:
    from hafs_cli.backup import status, verify

    b = Backup(config)
    if read_data_subset is None:
        subset = verify.require_subset(
            b.section.get("verify_read_data_subset", ""), "[backup] verify_read_data_subset"
        )
    else:
        subset = verify.require_subset(read_data_subset)
    size = (
        int(b.section.get("verify_sample", 20))
        if sample is None
        else verify.require_sample_size(sample)
    )
    sets = b.sets_in(repo, names)  # an unknown set name fails before restic check runs
    restic = b.repo(repo)
    yield verify.check(restic, subset)
    snaps = status.snapshots(restic)
    for bset in sets:
        snap = verify.latest_of_set(snaps, bset, b.host)
        if snap is None:
            yield {
                "kind": "backup_verify",
                "set": bset.name,
                "repository": restic.name,
                "snapshot_id": None,
                "ok": False,
                "reason": "no snapshot of this set from this host",
            }
            continue
        yield verify.verify_sample(restic, bset, snap, size, seed)


def restore(
    config,
    repo: str | None,
    snapshot: str,
    path: str | None,
    target: str,
    force: bool,
    set_name: str | None,
) -> dict:
    from hafs_cli.backup.restore import guard_target, resolve_snapshot
    from hafs_cli.backup.restore import restore as restore_snapshot

    b = Backup(config)
    target = guard_target(target, force)
    if snapshot == "latest" and not set_name:
        configured = list(b.section.get("sets") or {})
        if len(configured) != 1:
            raise HafsError(
                "'latest' is ambiguous: name the set with --set "
                f"({', '.join(configured) or 'no sets configured'}), or give a snapshot ID "
                "from 'hafs backup list'",
                exits.USAGE,
            )
        set_name = configured[0]
    restic = b.repo(repo)
    tag = TAG_PREFIX + set_name if set_name else None
    snap = resolve_snapshot(restic, snapshot, tag, b.host if snapshot == "latest" else None)
    return restore_snapshot(restic, snap, target, path)


def parse_when(text: str | None) -> datetime | None:
    """--time: 'YYYY-MM-DD HH:MM:SS' or ISO 8601, local time unless it names a zone."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HafsError(
            f"--time {text!r}: write YYYY-MM-DD HH:MM:SS (local time) or ISO 8601", exits.USAGE
        ) from None
    return when if when.tzinfo else when.astimezone()
