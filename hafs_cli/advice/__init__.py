"""Cleanup and consolidation advice over scan/dedup records (`hafs recommend`).

`advise(records, settings, forward)` reads the stream once (forwarding every record),
runs the rules in `hafs_cli.advice.rules`, and returns the findings in a stable order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hafs_cli.advice.context import Context
from hafs_cli.advice.engine import run_rules
from hafs_cli.advice.findings import Finding
from hafs_cli.advice.inventory import ingest
from hafs_cli.advice.rules.regenerable import watched_names


def advise(
    records: Iterable[dict],
    settings: dict,
    now_ns: int,
    forward: Callable[[dict], None] = lambda rec: None,
    on_bad: Callable[[dict, str], None] = lambda rec, reason: None,
) -> tuple[list[Finding], Context]:
    """Findings for a stream of file/dir/dupgroup records (other kinds pass to `forward`)."""
    inv = ingest(records, watched_names(settings), forward, on_bad)
    ctx = Context(inv=inv, settings=settings, now_ns=now_ns)
    return run_rules(ctx), ctx
