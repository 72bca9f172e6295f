"""Run history and scheduler state in SQLite under the XDG state directory."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    trigger TEXT NOT NULL,          -- schedule | catch-up | dependency | manual | retry
    scheduled_for TEXT,             -- ISO time of the fire this run serves
    attempt INTEGER NOT NULL DEFAULT 1,
    started TEXT,
    ended TEXT,
    status TEXT NOT NULL,           -- running | ok | failed | timeout | skipped | missed | killed
    exit_code INTEGER,
    reason TEXT,
    stderr_tail TEXT,
    records INTEGER,
    output_path TEXT
);
CREATE INDEX IF NOT EXISTS runs_job ON runs(job, id);
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_fire TEXT                  -- the latest fire time already handled
);
"""


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


class History:
    """Thread-safe access to the schedule database (one connection, one lock)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args=()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    # -- jobs and state ------------------------------------------------------------
    def sync_jobs(self, specs: dict[str, str], now: datetime) -> None:
        """Record the configured job set (spec text by name); keeps state of known jobs."""
        for name, spec in specs.items():
            self._exec(
                "INSERT INTO jobs(name, spec, first_seen) VALUES(?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET spec=excluded.spec",
                (name, spec, iso(now)),
            )

    def job_names(self) -> list[str]:
        return [r[0] for r in self._exec("SELECT name FROM jobs ORDER BY name")]

    def last_fire(self, job: str) -> datetime | None:
        row = self._exec("SELECT last_fire FROM jobs WHERE name=?", (job,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def set_last_fire(self, job: str, when: datetime) -> None:
        self._exec("UPDATE jobs SET last_fire=? WHERE name=?", (iso(when), job))

    # -- runs ----------------------------------------------------------------------
    def start_run(self, job: str, trigger: str, scheduled_for, attempt: int, started) -> int:
        cur = self._exec(
            "INSERT INTO runs(job, trigger, scheduled_for, attempt, started, status) "
            "VALUES(?,?,?,?,?, 'running')",
            (job, trigger, iso(scheduled_for), attempt, iso(started)),
        )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, **fields) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        self._exec(f"UPDATE runs SET {cols} WHERE id=?", (*fields.values(), run_id))

    def note(self, job: str, trigger: str, scheduled_for, status: str, reason: str, when) -> int:
        """A run that did not start (skipped, missed), kept so the log says why."""
        cur = self._exec(
            "INSERT INTO runs(job, trigger, scheduled_for, started, ended, status, reason) "
            "VALUES(?,?,?,?,?,?,?)",
            (job, trigger, iso(scheduled_for), iso(when), iso(when), status, reason),
        )
        return int(cur.lastrowid)

    def mark_abandoned(self, now: datetime) -> int:
        """Runs left 'running' by a daemon that died are recorded as killed."""
        cur = self._exec(
            "UPDATE runs SET status='killed', ended=?, reason='daemon stopped while it ran' "
            "WHERE status='running'",
            (iso(now),),
        )
        return cur.rowcount

    def runs(self, job: str | None = None, limit: int | None = None) -> list[dict]:
        sql = "SELECT * FROM runs"
        args: tuple = ()
        if job:
            sql += " WHERE job=?"
            args = (job,)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            cur = self._db.execute(sql, args)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return list(reversed(rows))

    def last_status(self, job: str) -> dict | None:
        rows = self._exec(
            "SELECT status, ended, exit_code FROM runs WHERE job=? AND status NOT IN "
            "('running','skipped','missed') ORDER BY id DESC LIMIT 1",
            (job,),
        ).fetchone()
        return {"status": rows[0], "ended": rows[1], "exit_code": rows[2]} if rows else None

    def last_success_id(self, job: str) -> int:
        row = self._exec("SELECT MAX(id) FROM runs WHERE job=? AND status='ok'", (job,)).fetchone()
        return int(row[0] or 0)

    def prune(self, job: str, keep: int) -> list[str]:
        """Forget all but the newest `keep` runs of a job; returns output files to delete."""
        rows = self._exec(
            "SELECT id, output_path FROM runs WHERE job=? ORDER BY id DESC LIMIT -1 OFFSET ?",
            (job, keep),
        ).fetchall()
        if rows:
            self._exec(
                f"DELETE FROM runs WHERE id IN ({','.join('?' * len(rows))})",
                tuple(r[0] for r in rows),
            )
        return [r[1] for r in rows if r[1]]
