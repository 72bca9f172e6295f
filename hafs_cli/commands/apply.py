"""hafs apply: carry out `action` records safely, with a journal; or undo a journal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import human_bytes, pipe_command


@click.command(
    "apply",
    epilog=epilog(
        "hafs scan ~ | hafs dedup --suggest trash --only | hafs apply            # dry run",
        "hafs scan ~ | hafs dedup --suggest hardlink --only | hafs apply --yes",
        "hafs scan ~/Downloads | hafs recommend --only | hafs apply --yes",
        "hafs apply --undo last          # or --undo PATH/TO/apply-RUN.jsonl",
    )
    + "\n  Here 1 means some actions were skipped (a file or its keeper changed),"
    + "\n  and 3 that an action failed with an OS error (see its action_result).",
)
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-y", "--yes", is_flag=True, help="Act without asking.")
@click.option(
    "-n",
    "--dry-run",
    is_flag=True,
    help="Only report what would be done (the default without --yes and without a terminal to ask on).",
)
@click.option(
    "--journal",
    "journal_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Journal file to write (default: XDG state dir/journals/apply-RUN.jsonl).",
)
@click.option(
    "--undo",
    "undo_file",
    metavar="JOURNAL|last",
    help="Restore the tree from this journal ('last': the newest in the journal directory); "
    "reads no records.",
)
@click.option(
    "--trash",
    "trash_mode",
    type=click.Choice(["quarantine", "os"]),
    default=None,
    help="Where trash puts files (default: [apply] trash).",
)
@pipe_command(produces={"action_result", "summary"})
def command(pipe, inputs, yes, dry_run, journal_file, undo_file, trash_mode):
    """Carry out the `action` records read (trash, hardlink, reflink, symlink, move, archive).

    Dry run unless --yes is given or you confirm at the terminal. Before each action the
    file is re-verified (same size, mtime and full blake3 as in the record) and so is
    its keeper (still there, same content); anything changed is skipped with a reason.
    Nothing is deleted: trash and archive move files aside. Each action is written to
    a journal (fsync'd) before it happens, and `--undo JOURNAL` restores the tree.
    Action records are replaced by `action_result` records; other records pass through.
    """
    from hafs_cli.fs import apply as engine
    from hafs_cli.fs.render import results_table

    pipe.table_renderer = results_table

    if undo_file is not None:
        if inputs:
            raise HafsError("--undo reads a journal, not records: give no INPUT files")
        return _undo(pipe, engine, _journal_to_undo(undo_file, pipe.config.section("apply")))
    cfg = pipe.config.section("apply")
    opts = engine.ApplyOptions(
        trash_mode=trash_mode or cfg.get("trash", "quarantine"),
        quarantine=cfg.get("quarantine", ""),
        archive_dir=cfg.get("archive_dir", ""),
    )
    if not inputs and sys.stdin.isatty():
        raise HafsError(
            "nothing to read: pipe action records in "
            "(hafs dedup --suggest hardlink DIR --only | hafs apply), or give a file of them"
        )
    actions = []
    for rec in pipe.records(inputs):
        if rec.get("kind") == "action":
            actions.append(rec)
        else:
            pipe.forward(rec)
    act = not dry_run and (yes or _confirm(actions))
    journal = _journal(engine, journal_file, cfg) if act and actions else None
    return _run(pipe, engine, opts, actions, journal)


def _confirm(actions: list[dict]) -> bool:
    """Ask on the terminal (not stdin: that is the record stream); no terminal: dry run."""
    if not actions or not sys.stderr.isatty():
        return False
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    try:
        counts: dict[str, list[int]] = {}
        for rec in actions:
            c = counts.setdefault(str(rec.get("action")), [0, 0])
            c[0] += 1
            c[1] += int(rec.get("size") or 0)
        plan = ", ".join(
            f"{a} {n} files ({human_bytes(b)})" for a, (n, b) in sorted(counts.items())
        )
        os.write(tty, f"hafs apply: {plan}. Go ahead? [y/N] ".encode())
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(tty, 256)
            if not chunk:
                break
            answer += chunk
        return answer.strip().lower() in (b"y", b"yes")
    finally:
        os.close(tty)


def _journal(engine, journal_file: Path | None, cfg: dict):
    from hafs_cli.fs.journal import Journal, new_run_id

    run = new_run_id()
    if journal_file is None:
        journal_file = _journal_dir(cfg) / f"apply-{run}.jsonl"
    try:
        return Journal.create(journal_file, run)
    except OSError as exc:
        raise HafsError(
            f"cannot write the journal {journal_file or 'in the state directory'}: "
            f"{exc.strerror}; pass --journal PATH",
            exits.RUNTIME,
        ) from None


def _journal_dir(cfg: dict) -> Path:
    from hafs_cli import xdg

    configured = cfg.get("journal_dir")
    return Path(os.path.expanduser(configured)) if configured else xdg.state_dir() / "journals"


def _journal_to_undo(arg: str, cfg: dict) -> Path:
    if arg != "last":
        path = Path(arg)
        if not path.is_file():
            raise HafsError(
                f"--undo: no journal at {path}; 'hafs apply --undo last' finds the newest"
            )
        return path
    journals = sorted(_journal_dir(cfg).glob("apply-*.jsonl"), key=lambda p: p.stat().st_mtime)
    if not journals:
        raise HafsError(f"--undo last: no journals in {_journal_dir(cfg)}")
    return journals[-1]


def _run(pipe, engine, opts, actions: list[dict], journal) -> int:
    applier = engine.Applier(opts, journal)
    totals = {"done": 0, "planned": 0, "skipped": 0, "failed": 0, "bytes_freed": 0}
    try:
        with pipe.progress("apply", total=len(actions)) as bar:
            for rec in actions:
                res = applier.run(rec)
                totals[res["status"]] = totals.get(res["status"], 0) + 1
                if res["status"] in ("done", "planned"):
                    totals["bytes_freed"] += res.get("bytes_freed", 0)
                pipe.emit(res)
                bar.advance(1, bytes=int(rec.get("size") or 0))
    finally:
        if journal is not None:
            journal.close()
    summary = {"kind": "summary", "command": "apply", "dry_run": journal is None, **totals}
    if journal is not None:
        summary["journal"] = str(journal.path)
    pipe.emit(summary)
    if totals["failed"]:
        return exits.RUNTIME
    return exits.FOUND if totals["skipped"] else exits.OK


def _undo(pipe, engine, journal_path: Path) -> int:
    failed = 0
    undone = 0
    for res in engine.undo(journal_path):
        pipe.emit(res)
        if res["status"] == "failed":
            failed += 1
        else:
            undone += 1
    pipe.emit(
        {
            "kind": "summary",
            "command": "apply",
            "undo": True,
            "undone": undone,
            "failed": failed,
            "journal": str(journal_path),
        }
    )
    return exits.FOUND if failed else exits.OK
