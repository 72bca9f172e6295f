"""The ledger: every accepted request and its result, in SQLite (queried by `orchestrate log`)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hafs_cli import xdg

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    priority TEXT NOT NULL,
    rank INTEGER NOT NULL,
    model TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    finished_at REAL,
    ok INTEGER,
    host TEXT,
    used_model TEXT,
    routed TEXT,
    queue_wait_ms REAL,
    run_ms REAL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cost REAL,
    paid INTEGER DEFAULT 0,
    tool_calls INTEGER,
    error_code TEXT,
    error_message TEXT,
    origin TEXT
);
CREATE INDEX IF NOT EXISTS calls_accepted ON calls (accepted_at);
"""

COLUMNS = (
    "host", "used_model", "routed", "queue_wait_ms", "run_ms", "tokens_in", "tokens_out",
    "cost", "paid", "tool_calls", "error_code", "error_message",
)  # fmt: skip


def default_path(configured: str = "") -> Path:
    return Path(configured).expanduser() if configured else xdg.state_dir() / "orchestrate.sqlite"


class Ledger:
    """Thread-safe; one connection, WAL so `orchestrate log` can read while the daemon writes."""

    def __init__(self, path: Path, origin: str = "run") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.origin = origin
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def accepted(self, rid: str, priority: str, rank: int, model: str, at: float) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO calls (id, priority, rank, model, accepted_at, origin) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (rid, priority, rank, model, at, self.origin),
            )
            return int(cur.lastrowid)

    def finished(self, rowid: int, result: dict, *, paid: bool) -> None:
        err = result.get("error") or {}
        values = {
            "host": result.get("host"),
            "used_model": result.get("model"),
            "routed": result.get("routed"),
            "queue_wait_ms": result.get("queue_wait_ms"),
            "run_ms": result.get("run_ms"),
            "tokens_in": result.get("tokens_in"),
            "tokens_out": result.get("tokens_out"),
            "cost": result.get("cost"),
            "paid": int(paid),
            "tool_calls": len(result.get("tool_calls") or []),
            "error_code": err.get("code"),
            "error_message": err.get("message"),
        }
        with self._lock:
            self._db.execute(
                "UPDATE calls SET finished_at = ?, ok = ?, "
                + ", ".join(f"{c} = ?" for c in COLUMNS)
                + " WHERE rowid = ?",
                (time.time(), int(bool(result.get("ok"))), *values.values(), rowid),
            )

    def paid_spent(self) -> float:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(cost), 0) FROM calls WHERE paid = 1"
            ).fetchone()
        return float(row[0])

    @staticmethod
    def _where(since: float | None, host: str | None, failed: bool) -> tuple[str, list]:
        """The WHERE clause (with its leading space, or empty) and its arguments."""
        where, args = [], []
        if since is not None:
            where.append("accepted_at >= ?")
            args.append(since)
        if host:
            where.append("host = ?")
            args.append(host)
        if failed:
            where.append("ok = 0")
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def query(
        self,
        *,
        since: float | None = None,
        host: str | None = None,
        failed: bool = False,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        where, args = self._where(since, host, failed)
        sql = "SELECT * FROM calls" + where
        sql += " ORDER BY rowid DESC" if limit else " ORDER BY rowid"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            cur = self._db.execute(sql, args)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        if limit:
            rows.reverse()
        for row in rows:
            yield dict(zip(names, row, strict=True))

    def totals(
        self, since: float | None = None, host: str | None = None, failed: bool = False
    ) -> dict[str, Any]:
        where, args = self._where(since, host, failed)
        sql = (
            "SELECT COUNT(*), SUM(ok = 1), SUM(ok = 0), SUM(finished_at IS NULL), "
            "COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), "
            "COALESCE(SUM(cost), 0), AVG(queue_wait_ms), AVG(run_ms) FROM calls" + where
        )
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        keys = ("requests", "ok", "failed", "unfinished", "tokens_in", "tokens_out", "cost",
                "avg_queue_wait_ms", "avg_run_ms")  # fmt: skip
        return {k: (v if v is not None else 0) for k, v in zip(keys, row, strict=True)}
