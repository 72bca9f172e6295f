"""Map a function over many items in forked worker processes.

Hashing a hundred thousand small files is system calls plus a little Python per file;
threads only fight over the GIL there, while forked processes use every core. Children
inherit the items through fork and send back pickled results in batches through a pipe,
so the parent can show progress as they arrive.
"""

from __future__ import annotations

import os
import pickle
import selectors
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any

MIN_ITEMS_PER_JOB = 512  # below this, forking costs more than it saves
BATCH = 2048
_LEN = struct.Struct(">Q")

Progress = Callable[[int, int], None]  # (items done, their weight, e.g. bytes)


def default_jobs() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking is safe: no other thread could hold a lock the child needs.

    The one thread allowed is rich's progress refresher: children never draw or log.
    """
    import threading

    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    return hasattr(os, "fork") and all(type(t).__name__ == "_RefreshThread" for t in others)


def _safe(fn: Callable[[Any], Any], item: Any) -> Any:
    try:
        return fn(item)
    except Exception as exc:  # returned, not raised: the caller decides per item
        return exc


def _serial(fn, items, weights, on_done: Progress | None) -> list[Any]:
    out = []
    for start in range(0, len(items), BATCH):
        out.extend(_safe(fn, item) for item in items[start : start + BATCH])
        if on_done is not None:
            done = min(BATCH, len(items) - start)
            on_done(done, sum(weights[start : start + done]) if weights else 0)
    return out


def fork_map(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    jobs: int = 0,
    weights: Sequence[int] | None = None,
    on_done: Progress | None = None,
) -> list[Any]:
    """[fn(item) or the exception it raised] for every item, in order.

    Item i goes to worker i % jobs, which balances long runs of similar items.
    """
    jobs = jobs or default_jobs()
    jobs = min(jobs, max(1, len(items) // MIN_ITEMS_PER_JOB))
    if jobs <= 1 or not can_fork():
        return _serial(fn, items, weights, on_done)
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for worker in range(jobs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: compute its share in batches, then leave without cleanup
            code = 0
            try:
                os.close(r)
                _child(fn, items[worker::jobs], w)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(w)
        children.append((pid, r))
    try:
        results = _collect(children, items, jobs, weights, on_done)
    finally:
        for pid, _ in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    if results is None:  # a worker died (killed, out of memory): do it all here instead
        return _serial(fn, items, weights, on_done)
    return results


def _child(fn, share: Sequence[Any], w: int) -> None:
    with os.fdopen(w, "wb") as out:
        for start in range(0, len(share), BATCH):
            data = pickle.dumps(
                [_safe(fn, item) for item in share[start : start + BATCH]],
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            out.write(_LEN.pack(len(data)) + data)
            out.flush()


def _collect(children, items, jobs: int, weights, on_done: Progress | None) -> list[Any] | None:
    results: list[Any] = [None] * len(items)
    sel = selectors.DefaultSelector()
    state = {}
    for worker, (_pid, r) in enumerate(children):
        sel.register(r, selectors.EVENT_READ)
        state[r] = [worker, bytearray(), 0]  # worker, buffer, results received
    complete = True
    while state:
        for key, _ in sel.select():
            fd = key.fd
            worker, buf, received = state[fd]
            data = os.read(fd, 1 << 20)
            if not data:
                sel.unregister(fd)
                os.close(fd)
                expected = len(range(worker, len(items), jobs))
                complete = complete and received == expected and not buf
                del state[fd]
                continue
            buf += data
            while len(buf) >= _LEN.size:
                (length,) = _LEN.unpack_from(buf)
                if len(buf) < _LEN.size + length:
                    break
                batch = pickle.loads(bytes(buf[_LEN.size : _LEN.size + length]))
                del buf[: _LEN.size + length]
                first = worker + received * jobs
                indices = range(first, first + len(batch) * jobs, jobs)
                for i, res in zip(indices, batch, strict=True):
                    results[i] = res
                received += len(batch)
                if on_done is not None:
                    on_done(len(batch), sum(weights[i] for i in indices) if weights else 0)
            state[fd][2] = received
    return results if complete else None
