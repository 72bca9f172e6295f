"""hafs dedup: find duplicate files by content hash and emit `dupgroup` records."""

from __future__ import annotations

import gc
import socket
import sys
import time

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.paths import display
from hafs_cli.pipe import pipe_command


@click.command(
    "dedup",
    epilog=epilog(
        "hafs scan ~/Code ~/Downloads | hafs dedup --only --format table",
        "hafs dedup ~/Pictures /mnt/backup/Pictures --only > groups.jsonl",
        "hafs scan ~ | hafs dedup --suggest hardlink --only | hafs apply",
        "hafs scan nas:/srv | hafs dedup   # records with a blake3 join by hash",
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read records from this JSON Lines file ('-' = stdin). Repeatable.",
)
@click.option(
    "--min-size",
    type=click.IntRange(min=0),
    default=None,
    help="Smallest size in bytes (default 1; 0 also groups empty files).",
)
@click.option(
    "--max-size",
    type=click.IntRange(min=0),
    default=None,
    help="Largest size in bytes (0 = no limit).",
)
@click.option("--empty", is_flag=True, help="Also group empty files (same as --min-size 0).")
@click.option(
    "--prefer",
    multiple=True,
    metavar="PATTERN",
    help="Keep copies under this path pattern first (repeatable; before [dedup] prefer).",
)
@click.option(
    "--avoid",
    multiple=True,
    metavar="PATTERN",
    help="Keep copies under this path pattern last (repeatable).",
)
@click.option(
    "--suggest",
    type=click.Choice(["trash", "hardlink", "reflink", "symlink"]),
    help="Also emit one `action` record per removable copy, for hafs apply.",
)
@click.option(
    "--cache/--no-cache",
    default=None,
    help="Use the persistent hash cache (default: [dedup] cache).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Hashing processes (0 = one per CPU).",
)
@pipe_command(produces={"dupgroup", "action", "summary"})
def command(pipe, paths, inputs, min_size, max_size, empty, prefer, avoid, suggest, cache, jobs):
    """Group files with identical content; emit one `dupgroup` record per group.

    Reads `file` records (from hafs scan) on stdin or from --input files, or walks the
    PATHs given. Stages: same size, then not hard links of one file (same device and
    inode count once), then a digest of the first and last 4 KiB, then the full blake3.
    Empty files and symlinks are not duplicates unless asked. Each group names the
    keeper ([dedup] prefer/avoid patterns, then oldest, then shortest path) and the
    rule that chose it. Every input record is passed on unless --only.
    """
    from hafs_cli.fs.dupes import DedupOptions, DupFinder, elapsed_since, local_paths_records
    from hafs_cli.fs.render import dupgroups_table

    pipe.table_renderer = dupgroups_table
    from hafs_cli.fs.keeper import KeeperRules

    if not paths and not inputs and sys.stdin.isatty():
        raise HafsError(
            "nothing to read: give directories (hafs dedup ~/Pictures), --input FILE, "
            "or pipe records in (hafs scan ~ | hafs dedup)"
        )
    start = time.perf_counter()
    cfg = pipe.config.section("dedup")
    min_size = 0 if empty else (cfg.get("min_size", 1) if min_size is None else min_size)
    max_size = cfg.get("max_size", 0) if max_size is None else max_size
    for option, patterns in (("--prefer", prefer), ("--avoid", avoid)):
        for pattern in patterns:
            shown = display(pattern)
            if shown != pattern:
                raise HafsError(
                    f"{option} {shown!r}: the pattern is not valid UTF-8; give patterns "
                    "as UTF-8 text (a pattern may use * or ? where a name has other bytes)"
                )
    rules = KeeperRules(
        prefer=tuple(prefer) + tuple(cfg.get("prefer", [])),
        avoid=tuple(avoid) + tuple(cfg.get("avoid", [])),
    )
    opts = DedupOptions(
        min_size=min_size,
        max_size=max_size or None,
        jobs=cfg.get("jobs", 0) if jobs is None else jobs,
        rules=rules,
    )
    host = socket.gethostname()
    use_cache = cfg.get("cache", True) if cache is None else cache
    hash_cache = _open_cache(pipe) if use_cache else None
    finder = DupFinder(opts, host, hash_cache, pipe.error, pipe.progress)
    # Hundreds of thousands of small objects that all live to the end: the cyclic
    # collector would traverse them again and again (a third of the CPU time) and can
    # free none of them.
    gc.disable()
    try:
        bulk = finder.bulk and pipe.fmt == "jsonl"  # lines filed in C, passed on as they came
        if paths and bulk:
            _walk_lines(pipe, finder, list(paths), host)
        elif paths:
            for rec in local_paths_records(list(paths), host):
                if rec["kind"] == "error":
                    del rec["kind"]
                    pipe.error(**rec)
                    continue
                finder.add(rec)
                pipe.forward(rec)
        if inputs or not paths:
            with pipe.progress("read") as bar:
                if bulk:
                    _read_chunks(pipe, finder, inputs, bar)
                else:
                    _read_records(pipe, finder, inputs, bar)
        if suggest:
            from hafs_cli.fs.suggest import suggest_actions

            for group in finder.groups():
                pipe.emit(group)
                for action in suggest_actions(group, suggest, host, rules):
                    pipe.emit(action)
        else:
            _emit_groups(pipe, finder.group_lines())
    finally:
        gc.enable()
        if hash_cache is not None:
            hash_cache.close()
    summary = {"kind": "summary", "command": "dedup", **vars(finder.stats)}
    summary["elapsed_s"] = elapsed_since(start)
    pipe.emit(summary)
    return exits.OK


def _emit_groups(pipe, groups) -> None:
    """Emit the groups: records, and lines C wrote already (a run of them at a time)."""
    run: list[bytes] = []
    for group in groups:
        if type(group) is bytes:
            run.append(group)
            continue
        if run:
            pipe.emit_lines(b"".join(run), len(run))
            run.clear()
        pipe.emit(group)
    if run:
        pipe.emit_lines(b"".join(run), len(run))


def _walk_lines(pipe, finder, paths: list[str], host: str) -> None:
    """Walk PATHs straight into the finder: `hafs scan PATHS | hafs dedup` in one
    command. The walk is scan's own (forked workers where they pay); its JSON Lines are
    filed in bulk as if read from a pipe, and passed on."""
    import os

    from hafs_cli.fs import parwalk
    from hafs_cli.fs.walk import ScanOptions

    opts = ScanOptions(host=host)
    roots = [os.fsencode(p) for p in paths]
    sink = _IntoFinder(pipe, finder)
    if parwalk.worth_forking(0):
        parwalk.walk_to(sink, roots, opts, 0)
    else:
        parwalk.walk_lines(sink, roots, opts)


class _IntoFinder:
    """Where _walk_lines has scan's walk write: the records go into the finder (and on)."""

    def __init__(self, pipe, finder):
        self.pipe, self.finder = pipe, finder
        self.progress = pipe.progress
        self.flush = pipe.flush
        self.error = pipe.error

    def emit_lines(self, payload: bytes, count: int) -> None:
        from hafs_cli import records

        finder = self.finder
        _, slow = finder.add_lines(payload)
        for index, start, end in slow:  # names C does not take: JSON escapes
            finder.add(records.loads(payload[start:end]), at=index)
        self.pipe.forward_chunk(payload)  # (add_lines looked the new records up)

    def emit(self, rec: dict) -> None:
        self.finder.add(rec)
        self.pipe.forward(rec)


def _read_records(pipe, finder, inputs, bar) -> None:
    from hafs_cli.fs.dupes import LOOKUP_EVERY

    add, forward = finder.add, pipe.forward_line
    for _source, n, rec, line in pipe.record_lines(inputs):
        add(rec)
        forward(rec, line)  # the bytes as they came: no second serialisation
        if not n % LOOKUP_EVERY:
            bar.advance(LOOKUP_EVERY)
            finder.prefetch()  # cache lookups while the input trickles in


def _read_chunks(pipe, finder, inputs, bar) -> None:
    """_read_records with hafs scan's own lines filed in bulk by the C module.

    Lines it takes are valid records and pass on as they came, a run at a time; every
    other line goes through the usual per-line path, in order.
    """
    add, forward, forward_chunk = finder.add, pipe.forward_line, pipe.forward_chunk
    for source, first, chunk in pipe.line_chunks(inputs):  # add_lines also looks up
        taken, slow = finder.add_lines(chunk)
        pipe.input_count += taken
        pos = 0
        for index, start, end in slow:
            if start > pos:
                forward_chunk(chunk[pos:start])
            got = pipe.take_line(source, first + index, chunk[start:end], end < len(chunk))
            if got is not None:
                add(got[0], index)
                forward(*got)
            pos = end + 1
        if pos < len(chunk):
            forward_chunk(chunk[pos:])
        bar.advance(taken + len(slow))


def _open_cache(pipe):
    import sqlite3

    from hafs_cli.fs.hashcache import HashCache

    try:
        return HashCache()
    except (sqlite3.Error, OSError) as exc:
        pipe.error(f"hash cache unavailable, hashing without it: {exc}")
        return None
