"""The context index searched by the search_index tool: SQLite FTS5 over the context roots."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hafs_cli.ai.sandbox import Deadline, Sandbox, ToolError


def build_index(sb: Sandbox, index_path: Path) -> dict[str, int]:
    """(Re)build the index from every readable text file under the roots; returns counts."""
    index_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_path.with_suffix(index_path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(path UNINDEXED, content)")
    counts = {"indexed": 0, "skipped": 0}
    deadline = Deadline(float("inf"))
    for root in sb.roots:
        for file in sb.walk(root, deadline):
            try:
                text = sb.read_text(file.resolve())
            except (ToolError, OSError):
                counts["skipped"] += 1
                continue
            db.execute("INSERT INTO docs (path, content) VALUES (?, ?)", (str(file), text))
            counts["indexed"] += 1
    db.commit()
    db.close()
    tmp.replace(index_path)  # readers never see a half-built index
    return counts
