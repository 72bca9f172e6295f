"""hafs backup: verified, restorable backups of named sets, driven through restic."""

from __future__ import annotations

import click

from hafs_cli import exits
from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command

COLUMNS = {
    "backup_repository": ["repository", "url", "state"],
    "backup_snapshot": [
        "set",
        "snapshot_id",
        "time",
        "host",
        "files_new",
        "files_changed",
        "bytes_added",
        "duration_s",
    ],
    "backup_status": [
        "set",
        "state",
        "last_snapshot_id",
        "last_time",
        "age_s",
        "snapshots",
        "repository_bytes",
    ],
    "backup_forget": ["set", "host", "tags", "kept", "removed", "dry_run"],
    "backup_check": ["repository", "ok", "read_data_subset", "errors"],
    "backup_verify": [
        "set",
        "snapshot_id",
        "ok",
        "sampled",
        "matched",
        "source_changed",
        "mismatched",
        "missing",
    ],
    "backup_restore": ["snapshot_id", "set", "target", "files", "bytes", "sqlite_restored"],
}

repo_option = click.option(
    "--repo",
    "repo",
    metavar="NAME",
    help="Repository from [backup.repositories] (default: [backup].repository).",
)


def _emit(pipe, records, is_problem=None) -> int:
    """Write the records; exit 1 when `is_problem` says one of them reports a problem."""
    pipe.table_columns.update(COLUMNS)
    found = False
    for rec in records:
        found = found or bool(is_problem and is_problem(rec))
        pipe.emit(rec)
    return exits.FOUND if found else exits.OK


@click.group(
    "backup",
    epilog=epilog(
        "hafs backup init",
        "hafs backup run && hafs backup verify",
        "hafs backup run knowledge --format jsonl | jq .bytes_added",
        "hafs backup status || notify-send 'backup overdue'",
        "hafs backup restore latest ~/kg --set knowledge --target /tmp/kg-restore",
        "hafs backup forget --dry-run",
    ),
)
def command() -> None:
    """Back up sets of files to restic repositories, verify and restore them.

    Sets and repositories live in hafs.toml [backup]. restic does the work (install it:
    apt/dnf/pacman/brew/scoop 'restic'); the password comes from a file, the keyring or
    an environment variable, never the command line. SQLite databases in a set are
    copied with SQLite's online backup API first, so a live database is saved
    consistently; `restore` puts the copies back in place.
    """


@command.command("init", epilog=epilog("hafs backup init", "hafs backup init --repo usb"))
@repo_option
@pipe_command(produces={"backup_repository"})
def init_cmd(pipe, repo: str | None) -> int:
    """Create the repository (reports 'exists' when the password already opens it)."""
    from hafs_cli.backup import api

    return _emit(pipe, [api.init(pipe.config, repo)])


@command.command(
    "run",
    epilog=epilog(
        "hafs backup run",
        "hafs backup run configs knowledge --only --format jsonl > snapshots.jsonl",
    ),
)
@click.argument("sets", nargs=-1, metavar="[SET]...")
@repo_option
@click.option(
    "--time",
    "when",
    metavar="TIME",
    help="Record this time instead of now (restic backup --time), e.g. '2026-01-31 03:00:00'.",
)
@pipe_command(produces={"backup_snapshot"})
def run_cmd(pipe, sets: tuple[str, ...], repo: str | None, when: str | None) -> int:
    """Back up SETs (default: every set); emit one backup_snapshot record per set."""
    from hafs_cli.backup import api

    pipe.table_columns.update(COLUMNS)
    failed: list[int] = []

    def on_error(reason: str, **fields) -> None:
        code = fields.pop("exit", None)
        if code:
            failed.append(code)
        pipe.error(reason, **fields)

    with pipe.progress("backup") as bar:
        done = {"files": 0, "bytes": 0}

        def on_progress(msg: dict) -> None:
            files, size = int(msg.get("files_done", 0)), int(msg.get("bytes_done", 0))
            bar.advance(max(files - done["files"], 0), bytes=max(size - done["bytes"], 0))
            done.update(files=files, bytes=size)

        for rec in api.run(pipe.config, sets, repo, api.parse_when(when), on_error, on_progress):
            done.update(files=0, bytes=0)
            pipe.emit(rec)
    return max(failed, default=exits.OK)


@command.command(
    "list", epilog=epilog("hafs backup list", "hafs backup list knowledge --format jsonl")
)
@click.argument("sets", nargs=-1, metavar="[SET]...")
@repo_option
@pipe_command(produces={"backup_snapshot"})
def list_cmd(pipe, sets: tuple[str, ...], repo: str | None) -> int:
    """List the repository's snapshots (of SETs only, when named), oldest first."""
    from hafs_cli.backup import api

    return _emit(pipe, api.list_snapshots(pipe.config, repo, sets))


@command.command(
    "status",
    epilog=epilog(
        "hafs backup status", "hafs backup status --format jsonl | jq -c 'select(.state != \"ok\")'"
    ),
)
@click.argument("sets", nargs=-1, metavar="[SET]...")
@repo_option
@pipe_command(produces={"backup_status"})
def status_cmd(pipe, sets: tuple[str, ...], repo: str | None) -> int:
    """Last successful backup of each set from this host, its age, the repository size.

    Exit 1 when a set has never been backed up or its last backup is older than
    [backup].stale_after_hours.
    """
    from hafs_cli.backup import api

    return _emit(pipe, api.set_status(pipe.config, repo, sets), lambda r: r["state"] != "ok")


@command.command(
    "verify",
    epilog=epilog(
        "hafs backup verify",
        "hafs backup verify --sample 0 knowledge",
        "hafs backup verify --read-data-subset 10%",
    ),
)
@click.argument("sets", nargs=-1, metavar="[SET]...")
@repo_option
@click.option(
    "--sample",
    type=int,
    default=None,
    help="Files per set to restore and compare (0: all; default [backup].verify_sample).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for choosing the sample (default: a new sample each run).",
)
@click.option(
    "--read-data-subset",
    default=None,
    metavar="N%|n/t",
    help="Let restic check also read this part of the data.",
)
@pipe_command(produces={"backup_check", "backup_verify"})
def verify_cmd(
    pipe,
    sets: tuple[str, ...],
    repo: str | None,
    sample: int | None,
    seed: int | None,
    read_data_subset: str | None,
) -> int:
    """restic check, then restore a sample of each set's latest snapshot and compare hashes.

    Exit 1 when the check fails, a restored file differs from an unchanged source,
    or a sampled file is missing.
    """
    from hafs_cli.backup import api

    records = api.verify_repo(pipe.config, repo, sets, sample, seed, read_data_subset)
    return _emit(pipe, records, lambda r: not r.get("ok"))


@command.command(
    "restore",
    epilog=epilog(
        "hafs backup restore 1a2b3c4d --target /tmp/restore",
        "hafs backup restore latest ~/kg/graph.db --set knowledge --target /tmp/kg",
    ),
)
@click.argument("snapshot")
@click.argument("path", required=False)
@click.option(
    "--target",
    required=True,
    metavar="DIR",
    help="Directory to restore into (must be empty or new unless --force).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Restore into a non-empty directory (same-named files are overwritten).",
)
@click.option(
    "--set", "set_name", metavar="SET", help="With 'latest': the latest snapshot of this set."
)
@repo_option
@pipe_command(produces={"backup_restore"})
def restore_cmd(
    pipe,
    snapshot: str,
    path: str | None,
    target: str,
    force: bool,
    set_name: str | None,
    repo: str | None,
) -> int:
    """Restore SNAPSHOT (an ID, or 'latest'), or only PATH of it, below --target DIR.

    Files come back under their original absolute paths inside DIR. SQLite databases
    that were staged are moved back to their own paths and quick-checked.
    """
    from hafs_cli.backup import api

    return _emit(pipe, [api.restore(pipe.config, repo, snapshot, path, target, force, set_name)])


@command.command(
    "forget", epilog=epilog("hafs backup forget --dry-run", "hafs backup forget --prune")
)
@click.argument("sets", nargs=-1, metavar="[SET]...")
@repo_option
@click.option("--dry-run", is_flag=True, help="Only report what the policy would remove.")
@click.option(
    "--prune", is_flag=True, help="Also delete the data no snapshot needs any more (restic prune)."
)
@pipe_command(produces={"backup_forget"})
def forget_cmd(pipe, sets: tuple[str, ...], repo: str | None, dry_run: bool, prune: bool) -> int:
    """Remove snapshots beyond the retention policy ([backup] keep_*), set by set.

    Snapshots are grouped explicitly by host and the set's tag, never by paths, so
    changing a set's paths cannot leave old snapshots outside the policy.
    """
    from hafs_cli.backup import api

    return _emit(pipe, api.forget(pipe.config, repo, sets, dry_run, prune))
