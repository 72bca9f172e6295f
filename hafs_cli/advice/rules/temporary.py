"""Temporary files (`*.tmp`, `*.temp`, `~$*` lock files) untouched for N days."""

from __future__ import annotations

from hafs_cli.advice.context import Context, name_matcher
from hafs_cli.advice.findings import MEDIUM, Finding, acting_on, day
from hafs_cli.pipe import human_bytes


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("temporary")
    days = int(cfg.get("days", 7))
    matches = name_matcher(cfg.get("patterns", []))
    out = []
    for e in ctx.inv.named(matches):
        if not ctx.older_than_days(e.touched_ns, days):
            ctx.skip("temporary_recent")
            continue
        reason = (
            f"temporary file ({human_bytes(e.size)}) last touched {day(e.touched_ns)}, "
            f"more than {days} days ago."
        )
        out.append(acting_on("temporary", [e], reason, MEDIUM, "trash"))
    return out
