"""Records as rich tables for people at a terminal (one table per record kind)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

MAX_ROWS = 500
MAX_CELL = 80


def _cell(value: Any) -> str:
    if isinstance(value, list):
        text = ", ".join(_cell(v) for v in value[:5]) + (" …" if len(value) > 5 else "")
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={_cell(v)}" for k, v in list(value.items())[:5])
    elif value is None:
        text = ""
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def make_console(out: Any):
    """A rich Console for records; a closed pipe raises BrokenPipeError like every writer.

    (rich's own handling exits with status 1, which means "the check found problems".)
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError()

    return _Console(file=out, no_color=bool(os.environ.get("NO_COLOR")), soft_wrap=False)


def render_records(
    rows: list[dict],
    out: Any,
    columns: dict[str, list[str]] | None = None,
    renderer: Callable[[list[dict]], Any] | None = None,
    max_rows: int = MAX_ROWS,
) -> None:
    """Print records grouped by kind; `columns` picks and orders columns per kind."""
    from rich.table import Table

    console = make_console(out)
    if renderer is not None:
        console.print(renderer(rows))
        return
    if not rows:
        console.print("[dim](no records)[/dim]")
        return
    by_kind: dict[str, list[dict]] = {}
    for rec in rows:
        by_kind.setdefault(str(rec.get("kind")), []).append(rec)
    for kind, recs in by_kind.items():
        cols = (columns or {}).get(kind)
        hidden = 0
        if not cols:  # no choice made by the command: the first fields that fit
            cols = []
            for rec in recs[:200]:
                cols.extend(k for k in rec if k != "kind" and k not in cols)
            fit = max(3, console.width // 14)  # narrower columns wrap letter by letter
            if len(cols) > fit:
                hidden = len(cols) - fit
                cols = cols[:fit]
        table = Table(title=f"{kind} ({len(recs)})", title_justify="left", header_style="bold cyan")
        for col in cols:
            table.add_column(col, overflow="fold")
        for rec in recs[:max_rows]:
            table.add_row(*(_cell(rec.get(c)) for c in cols))
        console.print(table)
        if hidden:
            console.print(f"[dim]{hidden} more field(s) not shown: use --format jsonl[/dim]")
        if len(recs) > max_rows:
            console.print(
                f"[dim]… {len(recs) - max_rows} more {kind} records "
                "(use --format jsonl for all)[/dim]"
            )
