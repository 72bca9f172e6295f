"""The walk spread over forked worker processes (JSON Lines output only).

Listing a tree is one stat per file plus a little Python per record; with the GIL,
threads cannot overlap those, so the walk forks. The parent lists the first levels
breadth-first until there are enough subtrees, then each worker takes subtrees one at
a time from a shared queue (4-byte indices in a pipe: a read of 4 bytes is atomic),
walks them, and streams framed chunks back: whole JSON Lines records, error records
and its final counters. The parent writes record chunks to stdout as they arrive.
"""

from __future__ import annotations

import collections
import os
import select
import selectors
import struct

import orjson

from hafs_cli import records, speedups
from hafs_cli.fs.forkpool import can_fork, default_jobs
from hafs_cli.fs.walk import DirTask, ScanOptions, ScanStats, Walker

TASKS_PER_JOB = 48
CHUNK_LINES = 1024  # records per frame (about 200 KiB)
_HEADER = struct.Struct(">cI")
_INDEX = struct.Struct("=I")


def walk_jobs(jobs: int) -> int:
    """Walk processes for --jobs N (0 = auto: one fewer than the CPUs; on two CPUs,
    two when the C lister is there).

    Measured on 2 cores with the Python walk: forking cost more CPU than it saved, and
    in `hafs scan | hafs dedup` the next stage needs the other core. With the C lister a
    walk is mostly system calls: two workers took /usr from 0.50 to 0.37 s, and the
    rescan pipeline from 1.03-1.11 to 0.90-0.98 s (first run unchanged).
    """
    if jobs:
        return jobs
    cpus = default_jobs()
    if cpus == 2 and speedups.load("_cwalk") is not None:
        return 2
    return max(1, cpus - 1)


def worth_forking(jobs: int) -> bool:
    return can_fork() and walk_jobs(jobs) > 1


def _emit(pipe, rec: dict) -> None:
    if rec["kind"] == "error":
        rec = dict(rec)
        del rec["kind"]
        pipe.error(**rec)
    else:
        pipe.emit(rec)


def walk_lines(pipe, roots: list[bytes], opts: ScanOptions) -> ScanStats:
    """Walk `roots` in this process, writing `file` records as pre-formatted JSON Lines."""
    walker = Walker(opts)
    stack: list[DirTask] = []
    for item in walker.start(roots):
        if isinstance(item, DirTask):
            stack.append(item)
        else:
            _emit(pipe, item)
    lines: list[bytes] = []  # chunks of whole JSON Lines; stats.files counts the records
    stats = walker.stats
    with pipe.progress("scan") as bar:
        shown = stats.bytes  # bytes of the files listed so far that the bar has counted
        counted = stats.files  # records written so far

        def flush() -> None:
            nonlocal shown, counted
            if lines:
                pipe.emit_lines(b"".join(lines), stats.files - counted)
                bar.advance(stats.files - counted, bytes=stats.bytes - shown)
                shown = stats.bytes
                counted = stats.files
                lines.clear()

        while stack:
            for rec in walker.scan_dir(stack.pop(), stack.append, lines):
                if rec["kind"] == "file":
                    lines.append(records.dumps(rec))
                else:
                    flush()
                    _emit(pipe, rec)  # in order with the files listed before it
            if stats.files - counted >= CHUNK_LINES:
                flush()
        flush()
    return stats


def walk_to(pipe, roots: list[bytes], opts: ScanOptions, jobs: int) -> ScanStats:
    """Walk `roots` in forked workers and write the records through `pipe`; the counters."""
    jobs = walk_jobs(jobs)
    walker = Walker(opts)
    queue: collections.deque[DirTask] = collections.deque()
    for item in walker.start(roots):
        if isinstance(item, DirTask):
            queue.append(item)
        else:
            _emit(pipe, item)
    lines: list[bytes] = []  # the first levels' files, as JSON Lines (the C lister's too)
    counted = walker.stats.files
    while queue and len(queue) < jobs * TASKS_PER_JOB:
        for rec in walker.scan_dir(queue.popleft(), queue.append, lines):
            if rec["kind"] == "file":
                lines.append(records.dumps(rec))
            else:
                _emit(pipe, rec)
    if lines:
        pipe.emit_lines(b"".join(lines), walker.stats.files - counted)
    if not queue:
        return walker.stats
    tasks = list(queue)
    pipe.flush()
    stats = walker.stats
    with pipe.progress("scan") as bar:
        _run_workers(pipe, walker, tasks, min(jobs, len(tasks)), stats, bar)
    return stats


def _run_workers(
    pipe, walker: Walker, tasks: list[DirTask], jobs: int, stats: ScanStats, bar
) -> None:
    task_r, task_w = os.pipe()
    children = []
    for _ in range(jobs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(task_w)
            code = 0
            try:
                _worker(walker, tasks, task_r, w)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(w)
        children.append((pid, r))
    os.close(task_r)
    # Indices go in after the fork: a pipe holds 64 KiB, so write in the background of
    # the workers reading them (they start as soon as the first ones arrive).
    sel = selectors.DefaultSelector()
    pending = b"".join(_INDEX.pack(i) for i in range(len(tasks)))
    os.set_blocking(task_w, False)
    sel.register(task_w, selectors.EVENT_WRITE)
    buffers = {}
    for _pid, r in children:
        sel.register(r, selectors.EVENT_READ)
        buffers[r] = bytearray()
    open_readers = len(children)
    while open_readers:
        for key, _ in sel.select():
            fd = key.fd
            if fd == task_w:
                try:
                    n = os.write(task_w, pending[: select.PIPE_BUF])  # atomic: all or EAGAIN
                except BlockingIOError:
                    continue
                pending = pending[n:]
                if not pending:
                    sel.unregister(task_w)
                    os.close(task_w)
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                sel.unregister(fd)
                os.close(fd)
                open_readers -= 1
                continue
            buf = buffers[fd]
            buf += data
            _drain(pipe, buf, stats, bar)
    if pending:
        os.close(task_w)
    failed = []
    for pid, _r in children:
        _, status = os.waitpid(pid, 0)
        if status:
            failed.append(pid)
    if failed:
        from hafs_cli import exits
        from hafs_cli.exits import HafsError

        raise HafsError(
            f"scan worker processes {failed} failed; rerun with --jobs 1", exits.RUNTIME
        )


def _drain(pipe, buf: bytearray, stats: ScanStats, bar) -> None:
    """Handle every complete frame at the start of `buf` (and remove it)."""
    pos = 0
    while len(buf) - pos >= _HEADER.size:
        kind, length = _HEADER.unpack_from(buf, pos)
        end = pos + _HEADER.size + length
        if len(buf) < end:
            break
        payload = bytes(buf[pos + _HEADER.size : end])
        pos = end
        if kind == b"O":
            lines = payload.count(b"\n")
            pipe.emit_lines(payload, lines)
            bar.advance(lines)
        elif kind == b"E":
            _emit(pipe, orjson.loads(payload))
        elif kind == b"S":
            stats.add(ScanStats(**orjson.loads(payload)))
    del buf[:pos]


def _send(fd: int, kind: bytes, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(kind, len(payload)) + payload)
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _worker(parent: Walker, tasks: list[DirTask], task_r: int, out: int) -> None:
    walker = Walker(parent.opts)
    walker._visited = parent._visited
    lines: list[bytes] = []  # chunks of whole JSON Lines
    stats = walker.stats
    counted = 0
    while True:
        raw = os.read(task_r, _INDEX.size)
        if not raw:
            break
        stack = [tasks[_INDEX.unpack(raw)[0]]]
        while stack:
            for rec in walker.scan_dir(stack.pop(), stack.append, lines):
                if rec["kind"] == "error":
                    _send(out, b"E", orjson.dumps(rec))
                else:
                    lines.append(records.dumps(rec))
            if stats.files - counted >= CHUNK_LINES:
                _send(out, b"O", b"".join(lines))
                lines.clear()
                counted = stats.files
    if lines:
        _send(out, b"O", b"".join(lines))
    _send(out, b"S", orjson.dumps(vars(walker.stats)))
    os.close(out)
