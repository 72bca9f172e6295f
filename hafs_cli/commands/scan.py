"""hafs scan: walk directories and emit one `file` record per regular file."""

from __future__ import annotations

import contextlib
import os
import re
import time

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import pipe_command

_REMOTE = re.compile(r"^[^/\\:]+:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def is_remote(arg: str) -> bool:
    """HOST:PATH, unless it is an existing local path or a Windows drive (C:\\...)."""
    return bool(_REMOTE.match(arg)) and not _DRIVE.match(arg) and not os.path.lexists(arg)


@click.command(
    "scan",
    epilog=epilog(
        "hafs scan ~/Code /mnt/d | hafs dedup --only",
        "hafs scan . --gitignore --exclude node_modules > files.jsonl",
        "hafs scan nas:/srv/photos | hafs dedup",
        "hafs scan --hash /mnt/archive > archive-catalog.jsonl",
        "hafs scan --dirs --symlinks --max-depth 2 / --one-file-system --format table",
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out (gitignore syntax; a directory is pruned). Repeatable; adds to [scan] exclude.",
)
@click.option(
    "--gitignore/--no-gitignore",
    default=None,
    help="Honour .gitignore files and skip .git (default: [scan] gitignore).",
)
@click.option(
    "--hidden/--no-hidden", default=None, help="List names starting with a dot (default: yes)."
)
@click.option(
    "-x",
    "--one-file-system",
    "one_fs",
    is_flag=True,
    default=None,
    help="Stay on the filesystem of each root.",
)
@click.option(
    "--max-depth",
    type=click.IntRange(min=0),
    default=None,
    help="Deepest level listed (1 = the roots' entries; 0 = no limit).",
)
@click.option(
    "-L",
    "--follow-symlinks",
    "follow",
    is_flag=True,
    default=None,
    help="Follow symbolic links (loops detected by device+inode).",
)
@click.option(
    "--hash",
    "hash_",
    is_flag=True,
    help="Add each file's blake3 (from the hash cache when unchanged). HOST:PATH is always hashed.",
)
@click.option("--dirs", is_flag=True, help="Also emit `dir` records.")
@click.option("--symlinks", is_flag=True, help="Also emit `symlink` records (with their target).")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes (0 = one fewer than the CPUs; 1 = no workers).",
)
@pipe_command(produces={"file", "dir", "symlink", "summary"})
def command(
    pipe, paths, exclude, gitignore, hidden, one_fs, max_depth, follow, hash_, dirs, symlinks, jobs
):
    """Walk PATHs (default: .) and emit `file` records.

    Each record has the absolute path, size, mtime_ns, ctime_ns, dev, inode, nlink,
    mode, extension and host. Unreadable directories become `error` records on stderr
    and the walk goes on. A final `summary` record counts files, bytes and errors.
    A PATH of the form HOST:PATH is scanned on that host over SSH, and its files are
    hashed there (blake3), so dedup can join copies across machines without moving them.
    """
    from hafs_cli.fs.render import files_table
    from hafs_cli.fs.walk import ScanOptions

    pipe.table_renderer = files_table

    cfg = pipe.config.section("scan")
    depth = cfg.get("max_depth", 0) if max_depth is None else max_depth
    opts = ScanOptions(
        excludes=tuple(cfg.get("exclude", [])) + tuple(exclude),
        gitignore=cfg.get("gitignore", False) if gitignore is None else gitignore,
        one_file_system=cfg.get("one_file_system", False) if one_fs is None else one_fs,
        max_depth=depth or None,
        follow_symlinks=cfg.get("follow_symlinks", False) if follow is None else follow,
        hidden=cfg.get("hidden", True) if hidden is None else hidden,
        dirs=dirs,
        symlinks=symlinks,
    )
    jobs = cfg.get("jobs", 0) if jobs is None else jobs
    paths = list(paths) or ["."]
    local = [p for p in paths if not is_remote(p)]
    remote = [p for p in paths if is_remote(p)]
    start = time.perf_counter()
    stats = _scan_local(pipe, local, opts, jobs, hash_) if local else None
    for spec in remote:
        _scan_remote(pipe, spec, opts)
    elapsed = time.perf_counter() - start
    summary = {"kind": "summary", "command": "scan"}
    if stats is not None:
        summary.update(vars(stats))
    summary["errors"] = pipe.error_count
    summary["elapsed_s"] = round(elapsed, 3)
    summary["files_per_s"] = round(summary.get("files", 0) / elapsed) if elapsed > 0 else 0
    pipe.emit(summary)
    return exits.OK


def _scan_local(pipe, paths, opts, jobs, hash_=False):
    from hafs_cli.fs import parwalk
    from hafs_cli.fs.walk import Walker

    roots = [os.fsencode(p) for p in paths]
    if pipe.fmt == "jsonl" and not opts.follow_symlinks and not hash_:
        if parwalk.worth_forking(jobs):
            return parwalk.walk_to(pipe, roots, opts, jobs)
        return parwalk.walk_lines(pipe, roots, opts)
    walker = Walker(opts)
    with pipe.progress("scan") as bar, _hash_cache(pipe, hash_) as cache:
        listed = walker.walk(roots)
        if hash_:
            from hafs_cli.fs.addhash import add_hashes

            listed = add_hashes(listed, pipe.error, cache)
        for rec in listed:
            if rec["kind"] == "error":
                del rec["kind"]
                pipe.error(**rec)
            else:
                pipe.emit(rec)
                bar.advance(1, bytes=rec.get("size", 0))
    return walker.stats


@contextlib.contextmanager
def _hash_cache(pipe, wanted: bool):
    """The hash cache for --hash (None when not wanted or not usable: hashing goes on)."""
    if not wanted:
        yield None
        return
    import sqlite3

    from hafs_cli.fs.hashcache import HashCache

    try:
        cache = HashCache()
    except (sqlite3.Error, OSError) as exc:
        pipe.error(f"hash cache unavailable, hashing without it: {exc}")
        yield None
        return
    try:
        yield cache
    finally:
        cache.close()


def _scan_remote(pipe, spec, opts):
    try:
        from hafs_cli.remote.rscan import scan_remote
    except ImportError:
        raise HafsError(
            f"remote scanning is not available (cannot scan {spec}); scan on that host instead",
            code=exits.RUNTIME,
        ) from None
    options = {
        "exclude": list(opts.excludes),
        "gitignore": opts.gitignore,
        "hidden": opts.hidden,
        "one_file_system": opts.one_file_system,
        "max_depth": opts.max_depth or 0,
        "follow_symlinks": opts.follow_symlinks,
        "dirs": opts.dirs,
        "symlinks": opts.symlinks,
    }
    for rec in scan_remote(spec, options, pipe.config):
        if rec.get("kind") == "error":
            rec = dict(rec)
            del rec["kind"]
            pipe.error(**rec)
        else:
            pipe.emit(rec)
