"""fork_map: results in order from worker processes, errors per item, progress as it goes."""

from __future__ import annotations

import os

from hafs_cli.fs.forkpool import fork_map


def square_or_fail(x: int) -> int:
    if x % 1000 == 999:
        raise OSError(5, "boom")
    return x * x


def whoami(_: int) -> int:
    return os.getpid()


def test_results_come_back_in_order_with_per_item_errors_and_progress():
    done = []
    items = list(range(5000))
    out = fork_map(
        square_or_fail, items, jobs=2, weights=items, on_done=lambda n, b: done.append((n, b))
    )
    assert [x for x in out if not isinstance(x, OSError)] == [
        x * x for x in items if x % 1000 != 999
    ]
    assert [i for i, x in enumerate(out) if isinstance(x, OSError)] == [999, 1999, 2999, 3999, 4999]
    assert sum(n for n, _ in done) == 5000
    assert sum(b for _, b in done) == sum(items)
    assert len(done) > 2  # in batches, not all at the end


def test_work_really_runs_in_other_processes():
    pids = set(fork_map(whoami, list(range(4000)), jobs=2))
    assert len(pids) == 2 and os.getpid() not in pids


def test_small_inputs_stay_in_process():
    assert set(fork_map(whoami, list(range(10)), jobs=4)) == {os.getpid()}


def test_with_other_threads_running_it_does_not_fork():
    import threading

    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert set(fork_map(whoami, list(range(4000)), jobs=2)) == {os.getpid()}
    finally:
        stop.set()
        t.join()


def test_a_progress_bar_on_a_terminal_does_not_stop_forking():
    import io

    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=io.StringIO(), force_terminal=True)
    with Progress(console=console, auto_refresh=True):
        pids = set(fork_map(whoami, list(range(4000)), jobs=2))
    assert os.getpid() not in pids
