"""hafs schedule: cron-style hafs pipelines — run the daemon, list, once, log, install."""

from __future__ import annotations

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import pipe_command


def _engine(pipe, on_record=None):
    from hafs_cli import xdg
    from hafs_cli.schedule.engine import Engine, Settings
    from hafs_cli.schedule.spec import jobs_from_config

    section = pipe.config.section("schedule")
    settings = Settings(
        state_dir=xdg.state_dir(),
        shutdown_grace_s=float(section.get("shutdown_grace_s", 60)),
        max_output_bytes=int(section.get("max_output_bytes", 1 << 20)),
        keep_runs=int(section.get("keep_runs", 200)),
    )
    return Engine(jobs_from_config(section), settings, on_record=on_record)


@click.group(
    "schedule",
    epilog=epilog(
        "hafs schedule list",
        "hafs schedule run                      # the daemon, in the foreground",
        "hafs schedule once nightly-report && hafs schedule log nightly-report",
        "hafs schedule install --systemd --write",
    ),
)
def command() -> None:
    """Run hafs pipelines on a schedule: jobs live in hafs.toml [schedule.jobs.NAME].

    Cron expressions mean what they mean to cron (0 and 7 are Sunday). A job never runs
    twice at once (a per-job lock also covers a second daemon and manual runs); missed
    runs are caught up once within a grace window; failures are retried with backoff.
    """


@command.command(
    "run", epilog=epilog("hafs schedule run", "hafs schedule run > ~/.local/state/hafs/runs.jsonl")
)
@pipe_command(produces={"schedule_run"})
def run(pipe) -> int:
    """Start the scheduler daemon in the foreground; writes a schedule_run record per run.

    SIGTERM or Ctrl-C stops it: running jobs get [schedule] shutdown_grace_s to finish,
    then they are stopped and recorded as killed.
    """
    import signal
    import threading

    def emit(rec: dict) -> None:
        with lock:
            pipe.emit(rec)
            pipe.flush()

    lock = threading.Lock()
    engine = _engine(pipe, on_record=emit)
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        engine.run_forever(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.close()
    return exits.OK


@command.command("list", epilog=epilog("hafs schedule list", "hafs schedule list --format jsonl"))
@pipe_command(produces={"schedule_job"})
def list_(pipe) -> int:
    """List the jobs with their trigger, next run time and last result."""
    engine = _engine(pipe)
    try:
        engine.start()
        pipe.table_columns["schedule_job"] = [
            "name",
            "trigger",
            "next_run",
            "enabled",
            "last_status",
        ]
        now = engine.clock()
        from hafs_cli.schedule.triggers import next_fire_time

        for name, spec in engine.jobs.items():
            rec = {
                "kind": "schedule_job",
                "name": name,
                "command": spec.command,
                "trigger": spec.describe_trigger(),
                "enabled": spec.enabled,
            }
            trig = engine._triggers.get(name)
            nxt = next_fire_time(trig, now) if trig is not None and spec.enabled else None
            if nxt is not None:
                rec["next_run"] = nxt.isoformat()
            last = engine.history.last_status(name)
            if last:
                rec["last_status"] = last["status"]
                rec["last_ended"] = last["ended"]
            pipe.emit(rec)
    finally:
        engine.close()
    return exits.OK


@command.command("once", epilog=epilog("hafs schedule once nightly-report"))
@click.argument("name")
@pipe_command(produces={"schedule_run"})
def once(pipe, name: str) -> int:
    """Run job NAME now, with the same lock, retries and log as the daemon.

    Exit 0 when it succeeded, 1 when it failed or timed out, 3 when it could not start
    (another run of it holds the lock).
    """
    engine = _engine(pipe, on_record=pipe.emit)
    try:
        if name not in engine.jobs:
            import difflib

            close = difflib.get_close_matches(name, list(engine.jobs), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise HafsError(f"no job '{name}' in [schedule.jobs]{hint}")
        engine.start()
        record = engine.run_now(name)
    finally:
        engine.close()
    if record.get("status") == "ok":
        return exits.OK
    if record.get("status") == "skipped":
        return exits.RUNTIME
    return exits.FOUND


@command.command("log", epilog=epilog("hafs schedule log", "hafs schedule log nightly-report -n 5"))
@click.argument("name", required=False)
@click.option("-n", "--limit", type=int, default=50, show_default=True, help="Newest runs to show.")
@pipe_command(produces={"schedule_run"})
def log(pipe, name: str | None, limit: int) -> int:
    """Show past runs: start, end, status, exit code, stderr tail, records produced."""
    from hafs_cli import xdg
    from hafs_cli.schedule.engine import run_record
    from hafs_cli.schedule.history import History

    history = History(xdg.state_dir() / "schedule.sqlite")
    try:
        pipe.table_columns["schedule_run"] = [
            "id",
            "job",
            "trigger",
            "started",
            "ended",
            "status",
            "exit_code",
            "records",
            "reason",
        ]
        for row in history.runs(name, limit=limit):
            pipe.emit(run_record(row))
    finally:
        history.close()
    return exits.OK


@command.command(
    "install",
    epilog=epilog(
        "hafs schedule install --systemd            # print the unit",
        "hafs schedule install --systemd --write    # install it for this user",
        "hafs schedule install --launchd --write",
    ),
)
@click.option("--systemd", "kind", flag_value="systemd", help="A systemd user service (Linux).")
@click.option("--launchd", "kind", flag_value="launchd", help="A launchd agent (macOS).")
@click.option("--cron", "kind", flag_value="cron", help="An @reboot crontab line.")
@click.option("--windows-task", "kind", flag_value="windows-task", help="A Task Scheduler task.")
@click.option("--write", is_flag=True, help="Install the entry in your own scope (no root).")
def install(kind: str | None, write: bool) -> None:
    """Print (or with --write install) the OS entry that starts the daemon at login."""
    from hafs_cli import xdg
    from hafs_cli.schedule.install import entry, write_entry

    if kind is None:
        raise HafsError("choose one of --systemd, --launchd, --cron or --windows-task")
    logfile = xdg.state_dir() / "schedule.log"
    if write:
        click.echo(write_entry(kind, logfile))
    else:
        text, _ = entry(kind, logfile)
        click.echo(text, nl=False)
