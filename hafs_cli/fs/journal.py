"""The apply journal: JSON Lines, each line fsync'd before the step it announces.

    {"op": "begin", "version": 1, "run": ..., "host": ..., "pid": ..., "time": ...}
    {"op": "intent", "seq": 1, "action": "trash", "path": ..., "dest": ..., ...}
    {"op": "done", "seq": 1}
    {"op": "undo", "seq": 1, "status": "undone" | "conflict", "reason": ...}
    {"op": "end"}

An intent is on disk before its file is touched, so after a crash (even kill -9) every
touched file has an intent, and undo can tell from the file system how far it got.
Paths use the record convention: "path" text plus "path_b64" when not valid UTF-8.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from hafs_cli import xdg
from hafs_cli.exits import HafsError
from hafs_cli.paths import path_fields, record_path

VERSION = 1


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def default_journal_path(run: str) -> Path:
    return xdg.state_dir() / "journals" / f"apply-{run}.jsonl"


def pathf(key: str, p: bytes) -> dict:
    """{key: text} (+ key_b64) for a raw path."""
    return path_fields(p, key=key)


class Journal:
    """Append-only, fsync'd writer."""

    def __init__(self, path: Path, run: str):
        self.path = path
        self.run = run
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._seq = 0

    @classmethod
    def create(cls, path: Path | None, run: str) -> Journal:
        journal = cls(path or default_journal_path(run), run)
        journal.write(
            {
                "op": "begin",
                "version": VERSION,
                "run": run,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        return journal

    @classmethod
    def reopen(cls, path: Path, run: str) -> Journal:
        return cls(path, run)

    def write(self, entry: dict, sync: bool = True) -> None:
        os.write(self._fd, orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
        if sync:
            os.fsync(self._fd)

    def intent(self, action: str, **fields) -> int:
        """Write an intent and return its sequence number."""
        self._seq += 1
        self.write({"op": "intent", "seq": self._seq, "action": action, **fields})
        return self._seq

    def done(self, seq: int) -> None:
        # Not fsync'd: undo reads the state from the file system, not from "done"; the
        # next intent's fsync writes this line out with it.
        self.write({"op": "done", "seq": seq}, sync=False)

    def close(self, end: bool = True) -> None:
        if end:
            self.write({"op": "end", "time": time.time()})
        os.close(self._fd)


def read_journal(path: Path) -> Iterator[dict]:
    """Entries of a journal; a torn last line (crash while writing) is ignored."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HafsError(f"cannot read journal {path}: {exc.strerror}; check the path") from None
    lines = data.split(b"\n")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            if lineno == len(lines):  # the last line, cut short by a crash
                return
            raise HafsError(f"{path}:{lineno}: not a hafs journal line") from None
        if lineno == 1 and entry.get("op") != "begin":
            raise HafsError(f"{path}: not a hafs apply journal (no 'begin' line)")
        yield entry


def entry_path(entry: dict, key: str) -> bytes | None:
    if key not in entry and f"{key}_b64" not in entry:
        return None
    return record_path(entry, key)
