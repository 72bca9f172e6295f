"""hafs orchestrate: priority scheduling of local AI requests over Ollama hosts."""

from __future__ import annotations

import sys
import time

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import pipe_command

# Terminal tables: the columns people scan; JSON Lines always carries every field.
COLUMNS = {
    "result": [
        "id",
        "ok",
        "priority",
        "host",
        "model",
        "queue_wait_ms",
        "run_ms",
        "tokens_in",
        "tokens_out",
        "error",
    ],
    "event": ["event", "time", "id", "host", "reason"],
}


def _flushed(pipe):
    """emit, then flush: a result is worth seeing downstream the moment it exists."""

    def emit(rec: dict) -> None:
        pipe.emit(rec)
        if pipe.fmt == "jsonl":
            pipe.flush()

    return emit


def _fail(exc) -> HafsError:
    """An AIError as the user sees it: configuration and input errors exit 2, others 3."""
    usage = exc.code in ("bad_request", "config_error")
    return HafsError(exc.message, exits.USAGE if usage else exits.RUNTIME)


class _OptionsGoToRun(click.Group):
    """`hafs orchestrate --only --events < reqs` is `hafs orchestrate run --only --events`
    (the group itself has no options but --help); a file argument needs `run`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and args[0] not in ("--help", "-h", "-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(
    "orchestrate",
    cls=_OptionsGoToRun,
    invoke_without_command=True,
    epilog=epilog(
        "hafs orchestrate < requests.jsonl > results.jsonl      (same as: run)",
        "hafs orchestrate run < requests.jsonl > results.jsonl",
        "hafs orchestrate run --events requests.jsonl | jq 'select(.kind==\"result\")'",
        "hafs orchestrate serve &   then:   hafs orchestrate submit < requests.jsonl",
        "hafs orchestrate status --format json",
        "hafs orchestrate log --since 1h --failed",
    ),
)
@click.pass_context
def command(ctx: click.Context) -> None:
    """Schedule AI requests across Ollama hosts by priority, out of training's way.

    Classes, most urgent first: training, interactive, analysis, scheduled (or an
    integer rank: 0 = training, 4 and up below scheduled). Strict priority between
    classes, first come first served within one; waiting raises a request one rank
    per orchestrate.aging_s. A host whose GPU is busy with training takes only
    training requests. Every accepted request gets exactly one `result` record.

    Without a subcommand, reads requests from stdin like `run`, with run's options
    (help on a terminal).
    """
    if ctx.invoked_subcommand is not None:
        return
    if sys.stdin is None or sys.stdin.isatty():
        click.echo(ctx.get_help())
        ctx.exit(exits.OK)
    ctx.exit(ctx.invoke(run_cmd))


@command.command(
    "run",
    epilog=epilog(
        "hafs orchestrate run < requests.jsonl > results.jsonl",
        "hafs orchestrate run --only --events reqs.jsonl",
    )
    + "\n\n\b\nHere exit 1 means: some requests failed (their result records say why);\n"
    "3: no request could reach any host.",
)
@click.argument("sources", nargs=-1, type=click.Path(allow_dash=True))
@click.option(
    "--events", is_flag=True, help="Also write event records (accepted, started, guard, ...)."
)
@click.option("--no-ledger", is_flag=True, help="Do not record this run in the SQLite ledger.")
@pipe_command(produces={"result", "event"})
def run_cmd(pipe, sources, events, no_ledger) -> int:
    """Run request records from files or stdin; results in completion order."""
    pipe.table_columns = COLUMNS
    from hafs_cli.ai.errors import AIError
    from hafs_cli.ai.session import build_engine, run_stream

    try:
        engine = build_engine(pipe.config, origin="run", ledger=not no_ledger).start()
    except AIError as exc:
        raise _fail(exc) from None
    try:
        outcome = run_stream(
            engine, pipe.records(sources), forward=pipe.forward, emit=_flushed(pipe), events=events
        )
    finally:
        engine.close()
    if outcome.submitted and outcome.unreachable == outcome.submitted:
        return exits.RUNTIME
    return exits.FOUND if outcome.failed else exits.OK


@command.command(
    "serve",
    epilog=epilog(
        "hafs orchestrate serve --events >> ~/.local/state/hafs/orchestrate-events.jsonl &",
        "HAFS_ORCHESTRATE_TOKEN=s3cret hafs orchestrate serve --http 127.0.0.1:8765",
    ),
)
@click.option(
    "--socket",
    "socket_file",
    type=click.Path(dir_okay=False),
    help="Unix socket (default: orchestrate.socket).",
)
@click.option(
    "--http",
    "http",
    help="Also listen on 127.0.0.1:PORT (needs the token; see orchestrate.token_env).",
)
@click.option("--events", is_flag=True, help="Write event records to stdout while serving.")
@pipe_command(produces={"event"})
def serve_cmd(pipe, socket_file, http, events) -> int:
    """Run the daemon: one queue for every hafs process on this machine, until SIGTERM."""
    from hafs_cli.ai.errors import AIError
    from hafs_cli.ai.session import serve

    def announce(message: str) -> None:
        click.echo(f"hafs orchestrate: {message}", err=True)

    try:
        serve(
            pipe.config,
            socket_file=socket_file,
            http=http,
            emit_event=_flushed(pipe) if events else None,
            announce=announce,
        )
    except AIError as exc:
        raise _fail(exc) from None
    return exits.OK


@command.command(
    "submit",
    epilog=epilog(
        "hafs orchestrate submit < requests.jsonl > results.jsonl",
        'echo \'{"kind":"request","model":"qwen3:8b","prompt":"hi","priority":"interactive"}\' | hafs orchestrate submit',
    ),
)
@click.argument("sources", nargs=-1, type=click.Path(allow_dash=True))
@click.option("--socket", "socket_file", type=click.Path(dir_okay=False), help="Daemon socket.")
@pipe_command(produces={"result"})
def submit_cmd(pipe, sources, socket_file) -> int:
    """Send request records to the running daemon; write their results."""
    pipe.table_columns = COLUMNS
    from hafs_cli.ai.daemon import socket_path, submit_many
    from hafs_cli.ai.errors import AIError

    path = socket_path(socket_file or pipe.config.get("orchestrate.socket", ""))
    failed = []

    def requests():
        for rec in pipe.records(sources):
            pipe.forward(rec)
            if rec.get("kind") == "request":
                yield rec

    emit = _flushed(pipe)

    def on_result(rec: dict) -> None:
        if not rec.get("ok"):
            failed.append(rec)
        emit(rec)

    try:
        submit_many(path, requests(), on_result)
    except AIError as exc:
        raise _fail(exc) from None
    return exits.FOUND if failed else exits.OK


@command.command(
    "status", epilog=epilog("hafs orchestrate status", "hafs orchestrate status | jq .hosts")
)
@click.option("--socket", "socket_file", type=click.Path(dir_okay=False), help="Daemon socket.")
@pipe_command(produces={"event"})
def status_cmd(pipe, socket_file) -> int:
    """Show the daemon's queue, running requests and hosts (exit 3 when none runs)."""
    from hafs_cli.ai.daemon import ask, socket_path
    from hafs_cli.ai.errors import AIError

    path = socket_path(socket_file or pipe.config.get("orchestrate.socket", ""))
    pipe.table_renderer = _status_table
    try:
        pipe.emit(ask(path, {"op": "status"}))
    except AIError as exc:
        raise _fail(exc) from None
    return exits.OK


@command.command("cancel", epilog=epilog("hafs orchestrate cancel req-42"))
@click.argument("request_id")
@click.option("--socket", "socket_file", type=click.Path(dir_okay=False), help="Daemon socket.")
@pipe_command(produces={"event"})
def cancel_cmd(pipe, request_id, socket_file) -> int:
    """Cancel a waiting or running request (exit 1 when the daemon does not know it)."""
    from hafs_cli.ai.daemon import ask, socket_path
    from hafs_cli.ai.errors import AIError

    path = socket_path(socket_file or pipe.config.get("orchestrate.socket", ""))
    try:
        answer = ask(path, {"op": "cancel", "id": request_id})
    except AIError as exc:
        raise _fail(exc) from None
    pipe.emit(answer)
    return exits.OK if answer.get("found") else exits.FOUND


def _status_table(rows: list[dict]):
    """The daemon's status for people: one row per host, then the queue by class."""
    from collections import Counter

    from rich.console import Group
    from rich.table import Table

    status = rows[0] if rows else {}
    hosts = Table(title="hosts", title_justify="left", header_style="bold cyan")
    for col in ("host", "up", "busy", "slots in use", "loaded", "tags"):
        hosts.add_column(col, overflow="fold")
    for h in status.get("hosts", []):
        busy = f"yes: {h['busy_reason']}" if h.get("busy") else "no"
        hosts.add_row(
            h["host"], "yes" if h["up"] else "DOWN", busy, f"{h['active']}/{h['slots']}",
            ", ".join(h.get("loaded") or []), ", ".join(h.get("tags") or []),
        )  # fmt: skip
    waiting = status.get("waiting_by_class", {})
    running = Counter(r["priority"] for r in status.get("running", []))
    queue = Table(title="queue", title_justify="left", header_style="bold cyan")
    for col in ("class", "waiting", "running"):
        queue.add_column(col)
    for cls in ("training", "interactive", "analysis", "scheduled"):
        queue.add_row(cls, str(waiting.get(cls, 0)), str(running.get(cls, 0)))
    accepting = "accepting" if status.get("accepting") else "draining"
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status.get("counts", {}).items()))
    return Group(hosts, queue, f"{accepting}; {status.get('waiting_count', 0)} waiting; {counts}")


def _since(text: str | None) -> float | None:
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return time.time() - float(text[:-1]) * units[text[-1]]
        from datetime import datetime

        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise HafsError(f"--since {text!r}: use 30m, 2h, 7d or an ISO date") from None


@command.command(
    "log",
    epilog=epilog(
        "hafs orchestrate log --since 1d", "hafs orchestrate log --totals --format table"
    ),
)
@click.option("--since", help="Only requests accepted since then (30m, 2h, 7d, or an ISO date).")
@click.option("--host", help="Only requests that ran on this host.")
@click.option("--failed", is_flag=True, help="Only failed requests.")
@click.option("--limit", type=click.IntRange(1), help="Only the last N requests.")
@click.option(
    "--totals",
    is_flag=True,
    help="Write one summary record of tokens, waits and costs (of the requests the other "
    "options select).",
)
@pipe_command(produces={"result", "summary"})
def log_cmd(pipe, since, host, failed, limit, totals) -> int:
    """Query the ledger of requests and results (tokens, waits, hosts, costs)."""
    pipe.table_columns = COLUMNS
    from hafs_cli.ai.ledger import Ledger, default_path
    from hafs_cli.ai.session import ledger_result

    path = default_path(pipe.config.get("orchestrate.ledger", ""))
    if not path.exists():
        raise HafsError(f"no ledger at {path} yet; run `hafs orchestrate run` or `serve` first")
    book = Ledger(path)
    start = _since(since)
    try:
        if totals:
            pipe.emit(
                {
                    "kind": "summary",
                    "command": "orchestrate log",
                    **book.totals(start, host, failed),
                }
            )
        else:
            for row in book.query(since=start, host=host, failed=failed, limit=limit):
                pipe.emit(ledger_result(row))
    finally:
        book.close()
    return exits.OK


@command.command(
    "index", epilog=epilog("hafs orchestrate index", "hafs --config proj.toml orchestrate index")
)
@pipe_command(produces={"summary"})
def index_cmd(pipe) -> int:
    """Build the full-text index of the [context] roots that the search_index tool reads."""
    from hafs_cli.ai.index import build_index
    from hafs_cli.ai.session import sandbox_from_config

    sb = sandbox_from_config(pipe.config)
    counts = build_index(sb, sb.index_path)
    pipe.emit(
        {"kind": "summary", "command": "orchestrate index", "index": str(sb.index_path), **counts}
    )
    return exits.OK
