"""Findings for people: a terminal table grouped by rule, and a Markdown review report."""

from __future__ import annotations

import re
from typing import Any

from hafs_cli.advice.findings import RULES
from hafs_cli.pipe import human_bytes

MAX_PATHS = 20


def _findings(rows: list[dict]) -> tuple[dict[str, list[dict]], dict | None]:
    by_rule: dict[str, list[dict]] = {}
    summary = None
    for rec in rows:
        if rec.get("kind") == "finding":
            by_rule.setdefault(str(rec.get("rule")), []).append(rec)
        elif rec.get("kind") == "summary" and rec.get("command") == "recommend":
            summary = rec
    order = {r: i for i, r in enumerate(RULES)}
    ordered = dict(sorted(by_rule.items(), key=lambda kv: (order.get(kv[0], len(RULES)), kv[0])))
    return ordered, summary


def _heading(rule: str, recs: list[dict]) -> str:
    total = sum(int(r.get("bytes") or 0) for r in recs)
    n = len(recs)
    text = f"{rule}: {n} finding{'s' if n != 1 else ''}"
    return text + (f", {human_bytes(total)} reclaimable" if total else "")


def _ai_line(summary: dict | None) -> str | None:
    ai = (summary or {}).get("ai")
    if not ai:
        return None
    if ai.get("status") == "ranked":
        dropped = ai.get("dropped_paths", 0)
        return f"Ranked by {ai.get('model')}" + (
            f"; {dropped} invented path(s) dropped." if dropped else "."
        )
    return f"AI ranking skipped: {ai.get('reason')}"


def render_table(rows: list[dict]) -> Any:
    """A rich renderable: one table per rule, with the reclaimable total in its title."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    by_rule, summary = _findings(rows)
    parts: list[Any] = []
    if not by_rule:
        parts.append(Text("No findings.", style="dim"))
    for rule, recs in by_rule.items():
        table = Table(title=_heading(rule, recs), title_justify="left")
        for col in ("bytes", "conf", "action", "paths", "reason"):
            table.add_column(col, overflow="fold")
        for rec in recs:
            paths = rec.get("paths") or []
            shown = "\n".join(paths[:3]) + (f"\n… {len(paths) - 3} more" if len(paths) > 3 else "")
            table.add_row(
                human_bytes(rec.get("bytes") or rec.get("size") or 0),
                f"{rec.get('confidence', '')}",
                str(rec.get("action") or "info"),
                shown,
                str(rec.get("ai_rationale") or rec.get("reason") or ""),
            )
        parts.append(table)
    types = (summary or {}).get("duplicates_by_type")
    if types:
        table = Table(title="duplicates by file type", title_justify="left")
        for col in ("type", "groups", "files", "reclaimable"):
            table.add_column(col, justify="left" if col == "type" else "right")
        for t in types:
            table.add_row(
                t["file_type"], str(t["groups"]), str(t["files"]), human_bytes(t["bytes"])
            )
        parts.append(table)
    if summary:
        parts.append(
            Text(
                f"{summary.get('findings', 0)} findings, {human_bytes(summary.get('bytes', 0))} "
                f"reclaimable by {summary.get('actions', 0)} actions."
            )
        )
        line = _ai_line(summary)
        if line:
            parts.append(Text(line))
    return Group(*parts)


def _code(text: str) -> str:
    # a line break in a file name would end the list item (and could start a heading)
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _oneline(text: str) -> str:
    return " ".join(str(text).split())


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!])")


def _plain(text: str) -> str:
    """Text shown as written: `__pycache__` or a path with `*` is not emphasis, a model's
    `[x](url)` or `<img>` is not a link or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _oneline(text))


def markdown(rows: list[dict]) -> str:
    """A report to review before running `hafs apply`."""
    by_rule, summary = _findings(rows)
    out = ["# hafs recommend report", ""]
    if summary:
        out.append(
            f"{summary.get('findings', 0)} findings; {human_bytes(summary.get('bytes', 0))} "
            f"reclaimable by {summary.get('actions', 0)} actions "
            f"(read from {summary.get('files', 0)} file records)."
        )
        line = _ai_line(summary)
        if line:
            out.append("")
            out.append(line)
        out.append("")
    out += [
        "Nothing has been changed. To carry out the actions, review this report, then end "
        "the same pipeline with `hafs recommend --only | hafs apply` (a dry run until you "
        "add `--yes`).",
        "",
    ]
    if summary and summary.get("by_rule"):
        out += ["| rule | findings | reclaimable |", "|---|---:|---:|"]
        for rule, t in summary["by_rule"].items():
            out.append(f"| {rule} | {t['findings']} | {human_bytes(t['bytes'])} |")
        out.append("")
    for rule, recs in by_rule.items():
        out += [f"## {_heading(rule, recs)}", ""]
        for i, rec in enumerate(recs, 1):
            action = rec.get("action") or "information"
            size = human_bytes(rec.get("bytes") or rec.get("size") or 0)
            out.append(f"### {i}. {action}, {size}, confidence {rec.get('confidence')}")
            out.append("")
            out.append(_plain(rec.get("reason", "")))
            if rec.get("ai_rationale"):
                out += ["", f"AI: {_plain(rec['ai_rationale'])}"]
            out.append("")
            paths = rec.get("paths") or []
            hosts = rec.get("hosts")
            for j, p in enumerate(paths[:MAX_PATHS]):
                where = f" on {hosts[j] or 'this machine'}" if hosts else ""
                out.append(f"- {_code(p)}{where}")
            if len(paths) > MAX_PATHS:
                out.append(f"- … and {len(paths) - MAX_PATHS} more")
            out.append("")
    if summary and summary.get("duplicates_by_type"):
        out += ["## Duplicates by file type", "", "| type | groups | files | reclaimable |"]
        out.append("|---|---:|---:|---:|")
        for t in summary["duplicates_by_type"]:
            out.append(
                f"| {_plain(t['file_type'])} | {t['groups']} | {t['files']} | {human_bytes(t['bytes'])} |"
            )
        out.append("")
    if summary and summary.get("skipped"):
        out += ["## Left alone on purpose", ""]
        for reason, n in summary["skipped"].items():
            out.append(f"- {reason.replace('_', ' ')}: {n}")
        out.append("")
    return "\n".join(out)


def write_markdown(rows: list[dict], stream: Any) -> None:
    data = markdown(rows).encode("utf-8")
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        buf.write(data)
    else:
        stream.write(data.decode("utf-8"))
