"""Tables for people (--format table, the default on a terminal) for scan, dedup, apply."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hafs_cli.pipe import human_bytes

MAX_ROWS = 200


def _when(ns: Any) -> str:
    if not isinstance(ns, int):
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _table(title: str, columns: list[str]):
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold cyan")
    for col in columns:
        justify = "right" if col in ("size", "waste", "copies", "freed") else "left"
        table.add_column(col, justify=justify, overflow="fold")
    return table


def _summary_line(rows: list[dict]) -> str:
    summary = next((r for r in reversed(rows) if r.get("kind") == "summary"), None)
    if summary is None:
        return ""
    skip = {"kind", "command"}
    parts = []
    for key, value in summary.items():
        if key in skip:
            continue
        if key in ("bytes", "waste", "bytes_hashed", "bytes_freed") and isinstance(value, int):
            value = human_bytes(value)
        parts.append(f"{key} {value}")
    return f"{summary.get('command', '')}: " + ", ".join(parts)


def _group(rows: list[dict], *tables) -> Any:
    from rich.console import Group
    from rich.text import Text

    shown = [t for t in tables if t is not None and t.row_count]
    others = sum(1 for r in rows if r.get("kind") not in ("summary",)) - sum(
        t.row_count for t in shown
    )
    parts: list[Any] = list(shown)
    if others > 0:
        parts.append(Text(f"{others} other records (use --format jsonl to see them)", style="dim"))
    line = _summary_line(rows)
    if line:
        parts.append(Text(line, style="bold"))
    return Group(*parts)


def files_table(rows: list[dict]) -> Any:
    """scan: path, size, mtime."""
    table = _table("files", ["path", "size", "modified"])
    for rec in [r for r in rows if r.get("kind") in ("file", "dir", "symlink")][:MAX_ROWS]:
        path = rec.get("path", "")
        if rec["kind"] == "dir":
            path += "/"
        elif rec["kind"] == "symlink":
            path += f" -> {rec.get('target', '')}"
        table.add_row(path, human_bytes(rec.get("size", 0)), _when(rec.get("mtime_ns")))
    return _group(rows, table)


def dupgroups_table(rows: list[dict]) -> Any:
    """dedup: one row per group, biggest waste first."""
    table = _table("duplicate groups", ["waste", "copies", "size", "keeper (rule)", "other copies"])
    groups = [r for r in rows if r.get("kind") == "dupgroup"]
    for rec in sorted(groups, key=lambda g: -g.get("waste", 0))[:MAX_ROWS]:
        keeper = rec.get("keeper", {}).get("path", "")
        others = [m.get("path", "") for m in rec.get("members", [])[1:]]
        shown = "\n".join(others[:3]) + (f"\n… {len(others) - 3} more" if len(others) > 3 else "")
        table.add_row(
            human_bytes(rec.get("waste", 0)),
            str(rec.get("count", len(rec.get("members", [])))),
            human_bytes(rec.get("size", 0)),
            f"{keeper} ({rec.get('keeper_rule', '')})",
            shown,
        )
    actions = _table("suggested actions", ["action", "path", "keeper"])
    for rec in [r for r in rows if r.get("kind") == "action"][:MAX_ROWS]:
        actions.add_row(
            rec.get("action", ""), rec.get("path", ""), rec.get("keeper", {}).get("path", "")
        )
    return _group(rows, table, actions)


def results_table(rows: list[dict]) -> Any:
    """apply: what happened to each action."""
    table = _table("actions", ["status", "action", "path", "freed", "reason / destination"])
    for rec in [r for r in rows if r.get("kind") == "action_result"][:MAX_ROWS]:
        table.add_row(
            rec.get("status", ""),
            rec.get("action", ""),
            rec.get("path", ""),
            human_bytes(rec.get("bytes_freed", 0)),
            rec.get("reason") or rec.get("dest", ""),
        )
    return _group(rows, table)
