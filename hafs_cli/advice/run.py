"""`hafs recommend` end to end: read the stream, advise, optionally rank with AI, write."""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from hafs_cli import exits
from hafs_cli.advice import RULE_SECTIONS
from hafs_cli.advice.context import Context
from hafs_cli.advice.engine import run_rules
from hafs_cli.advice.findings import RULES, Finding
from hafs_cli.advice.inventory import ingest
from hafs_cli.advice.rules.regenerable import watched_names
from hafs_cli.exits import HafsError
from hafs_cli.paths import display


def advise(
    records: Iterable[dict],
    settings: dict,
    now_ns: int,
    forward: Callable[[dict], None] = lambda rec: None,
    on_bad: Callable[[dict, str], None] = lambda rec, reason: None,
) -> tuple[list[Finding], Context]:
    """Findings for a stream of file/dir/dupgroup records (every record goes to `forward`)."""
    inv = ingest(records, watched_names(settings), forward, on_bad)
    ctx = Context(inv=inv, settings=settings, now_ns=now_ns)
    return run_rules(ctx), ctx


@contextlib.contextmanager
def no_cyclic_gc():
    """Hundreds of thousands of small objects, none in reference cycles: the cyclic
    collector would only rescan them over and over (a third of the run time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # What survives the run is moved out of the collector's sight instead of being
            # scanned once more when it is switched back on.
            gc.freeze()
            gc.enable()


def parse_now(text: str | None) -> int:
    """The reference time for age thresholds, in ns (default: the current time)."""
    if not text:
        return time.time_ns()
    try:
        return int(float(text) * 1e9)
    except (ValueError, OverflowError):  # not a number, or nan/inf
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise HafsError(
            f"--now {text!r} is neither an ISO 8601 time nor epoch seconds "
            "(e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1e9)


def effective_settings(config, only_rules: tuple[str, ...]) -> dict:
    settings = config.section("recommend")
    if only_rules:
        for section in RULE_SECTIONS:
            settings.setdefault(section, {})["enabled"] = section in only_rules
    return settings


def summary_record(findings: list[Finding], ctx: Context, ai: dict | None) -> dict:
    by_rule: dict[str, dict] = {}
    for f in findings:
        t = by_rule.setdefault(f.rule, {"findings": 0, "bytes": 0, "actions": 0})
        t["findings"] += 1
        t["bytes"] += f.bytes
        t["actions"] += len(f.targets) if f.action else 0
    by_rule = {r: by_rule[r] for r in RULES if r in by_rule}
    inv = ctx.inv
    rec: dict = {
        "kind": "summary",
        "command": "recommend",
        "files": sum(1 for _ in inv.files),
        "dupgroups": len(inv.dupgroups),
        "findings": len(findings),
        "actions": sum(t["actions"] for t in by_rule.values()),
        "bytes": sum(t["bytes"] for t in by_rule.values()),
        "by_rule": by_rule,
    }
    if "duplicates_by_type" in ctx.summary:
        rec["duplicates_by_type"] = [
            {**t, "file_type": display(t["file_type"])} for t in ctx.summary["duplicates_by_type"]
        ]
    skipped = {k: v for k, v in sorted(ctx.counts.items()) if v}
    if skipped:
        rec["skipped"] = skipped
    if ctx.git.failures:
        rec["git_failures"] = [
            {"host": h, "path": display(p), "reason": display(why)}
            for (h, p), why in sorted(ctx.git.failures.items())
        ]
    if ai is not None:
        rec["ai"] = ai
    return rec


def _counted(records: Iterable[dict], bar) -> Iterator[dict]:
    for i, rec in enumerate(records, 1):
        if not i % 1000:
            bar.advance(1000)
        yield rec


def run(
    pipe, files: tuple[str, ...], only_rules: tuple[str, ...], now: str | None, use_ai: bool
) -> int:
    if not files and (sys.stdin is None or sys.stdin.isatty()):  # a terminal, or closed
        raise HafsError(
            "no input: pipe records in (hafs scan DIR | hafs dedup | hafs recommend) "
            "or name a JSON Lines file"
        )
    settings = effective_settings(pipe.config, only_rules)
    now_ns = parse_now(now)

    def on_bad(rec: dict, reason: str) -> None:
        pipe.error(f"unusable {rec.get('kind')} record: {reason}", path=rec.get("path"))

    # Tables and reports are for people: the records passed through would only fill memory.
    forward = pipe.forward if pipe.fmt in ("jsonl", "json") else (lambda rec: None)
    with no_cyclic_gc(), pipe.progress("reading records") as bar:
        findings, ctx = advise(
            _counted(pipe.records(files), bar), settings, now_ns, forward, on_bad
        )
        ai = None
        if use_ai:
            from hafs_cli.advice.ai import rank

            findings, ai = rank(findings, ctx, settings.get("ai", {}), pipe.config)
        for finding in findings:
            for rec in finding.to_records():
                pipe.emit(rec)
        pipe.emit(summary_record(findings, ctx, ai))
    return exits.OK
