"""hafs sync PROFILE: mirror a folder with an SSH host (push, pull or both ways)."""

from __future__ import annotations

import time

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import pipe_command


@click.command(
    "sync",
    epilog=epilog(
        "hafs sync code                      # [sync.profiles.code] in hafs.toml",
        "hafs sync datasets --dry-run --only | jq -c 'select(.op==\"delete\")'",
        "hafs sync notes --direction both --format table",
        "hafs sync code --only | hafs schema validate",
    ),
)
@click.argument("profile", required=False)
@click.option("--dry-run", "-n", is_flag=True, help="Emit the plan; change nothing on either side.")
@click.option(
    "--direction",
    type=click.Choice(["push", "pull", "both"]),
    default=None,
    help="Override the profile's direction.",
)
@click.option(
    "--delete/--no-delete", default=None, help="Propagate deletions (into the trash directory)."
)
@click.option(
    "--max-delete",
    type=int,
    default=None,
    help="Stop when more than N items would be deleted (0: no limit).",
)
@click.option(
    "--bwlimit", default=None, metavar="RATE", help="Bandwidth limit, e.g. 5M (per second)."
)
@click.option(
    "--transport",
    type=click.Choice(["auto", "rsync", "sftp"]),
    default=None,
    help="rsync over ssh, or SFTP.",
)
@pipe_command(produces={"sync_op", "summary"})
def command(pipe, profile, dry_run, direction, delete, max_delete, bwlimit, transport) -> int:
    """Sync PROFILE ([sync.profiles.PROFILE] in hafs.toml) with its remote host.

    Emits one `sync_op` record per copy, update, delete, conflict or skip, then a
    `summary` (sync starts a pipeline; it reads no stdin). Deletions and replaced
    conflict versions go to the .hafs-trash directory of that side; changes on both
    sides keep both versions (NAME.conflict-HOST-TIME). An empty or missing source is
    never taken as "delete everything". Host keys must be known (~/.ssh/known_hosts).
    """
    from hafs_cli.remote.engine import SyncRun
    from hafs_cli.remote.profile import load_profile

    if not profile:
        names = ", ".join(sorted(pipe.config.section("sync").get("profiles") or {}))
        raise HafsError(
            f"name the profile to sync: hafs sync PROFILE (profiles: {names or 'none yet'}; "
            "define them as [sync.profiles.NAME] in hafs.toml)"
        )
    overrides = {
        "direction": direction,
        "delete": delete,
        "max_delete": max_delete,
        "bwlimit": bwlimit,
        "transport": transport,
    }
    pipe.table_columns["sync_op"] = ["op", "direction", "path", "size", "type", "reason"]
    pipe.table_columns["summary"] = [
        *("profile", "transport", "dry_run", "copied", "updated", "deleted"),
        *("conflicts", "skipped", "bytes", "errors", "elapsed_s"),
    ]
    prof = load_profile(
        profile, pipe.config.section("sync"), pipe.config.section("hosts"), overrides
    )
    started = time.monotonic()
    run = SyncRun(prof, dry_run, pipe.emit, lambda text: pipe.error(text, profile=profile))
    code = run.run()
    pipe.emit(run.summary(time.monotonic() - started))
    return max(code, exits.OK)
