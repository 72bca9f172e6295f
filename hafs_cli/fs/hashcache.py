"""The persistent hash cache: SQLite under the XDG cache directory.

An entry is keyed by (dev, inode) and valid only while size, mtime_ns and ctime_ns are
all unchanged. ctime cannot be set by users, so a rewrite that restores the mtime still
misses the cache. Files changed less than RACY_NS before they were hashed are not stored:
within one timestamp tick a second write could leave every key field unchanged.
Entries are forgotten MAX_AGE_S after they were stored (files deleted since then leave
nothing behind; an unchanged file is simply hashed again).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from hafs_cli import xdg

RACY_NS = 1_000_000_000
_INT64 = 1 << 63
MAX_AGE_S = 180 * 86400
# Bump when what a digest means or the table changes: old entries go.
VERSION = 4  # 4: head+tail digest = CRC-32 of both ends for every size
SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    dev INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    edges INTEGER,
    full BLOB,
    stored_s INTEGER NOT NULL,
    PRIMARY KEY (dev, inode)
) WITHOUT ROWID
"""

# (dev, inode, size, mtime_ns, ctime_ns)
Key = tuple[int, int, int, int, int]


def _by_key(row: tuple) -> tuple[int, int]:
    return row[0], row[1]


def default_path() -> Path:
    return xdg.cache_dir() / "hashes.sqlite3"


class HashCache:
    """Look up and store (edges, full) digests for file identities."""

    def __init__(self, path: Path | None = None):
        self.path = path or default_path()
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk inserts touch many pages
        if self.db.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            self.db.execute("DROP TABLE IF EXISTS hashes")
            self.db.execute(f"PRAGMA user_version = {VERSION}")
        self.db.execute(SCHEMA)
        self._empty = self.db.execute("SELECT 1 FROM hashes LIMIT 1").fetchone() is None
        self.hits = 0
        self.stored = 0

    @property
    def empty(self) -> bool:
        """Whether the cache held no entry when opened (or since: nothing to look up)."""
        return self._empty

    def close(self) -> None:
        self.db.close()

    def lookup(self, keys: Sequence[Key]) -> dict[int, tuple[bytes | None, bytes | None]]:
        """{index in keys: (edges, full)} for the keys whose entry is still valid."""
        if not keys or self._empty:
            return {}
        by_dev: dict[int, dict[int, list[int]]] = {}  # dev -> inode -> indices in keys
        for i, key in enumerate(keys):
            by_dev.setdefault(key[0], {}).setdefault(key[1], []).append(i)
        found = {}
        hits = self.hits
        for dev, inodes in by_dev.items():
            for inode, size, mtime_ns, ctime_ns, edges, full in self.entries(dev, list(inodes)):
                for i in inodes[inode]:
                    if keys[i][2:] == (size, mtime_ns, ctime_ns):
                        found[i] = (edges, full)
        self.hits = hits + len(found)
        return found

    def min_stored_s(self) -> int:
        """The oldest `stored_s` a live entry can have."""
        return time.time_ns() // 1_000_000_000 - MAX_AGE_S

    def store_params(self) -> tuple[int, int, int]:
        """(now_s, the newest ctime_ns stored, MAX_AGE_S): what store_rows uses."""
        now = time.time_ns()
        return now // 1_000_000_000, now - RACY_NS, MAX_AGE_S

    def stored_elsewhere(self, count: int) -> None:
        """Note rows that another connection (dedup's C module) wrote."""
        self.stored += count
        if count:
            self._empty = False

    def entries(self, dev: int, inodes: list[int]) -> Iterable[tuple]:
        """(inode, size, mtime_ns, ctime_ns, edges, full) of the live entries for these
        inodes of one device (the caller compares size and times): one query, no table
        (the inodes go in as one JSON array; CROSS JOIN keeps it the outer loop, so each
        inode is one primary-key search)."""
        import orjson

        return self.entries_json(dev, orjson.dumps(inodes))

    def entries_json(self, dev: int, inodes: bytes) -> Iterable[tuple]:
        """entries() for the inodes as a JSON array already (as the C filer gives them)."""
        if self._empty or dev >= 1 << 63:
            return ()  # nothing was stored for a device number past SQLite's integers
        return self.db.execute(
            "SELECT h.inode, h.size, h.mtime_ns, h.ctime_ns, h.edges, h.full "
            "FROM json_each(?) AS j CROSS JOIN hashes AS h ON h.dev = ? AND h.inode = j.value "
            "WHERE h.stored_s >= ?",
            (inodes, dev, self.min_stored_s()),
        )

    def store(self, entries: Iterable[tuple[Key, int | None, bytes | None]]) -> None:
        """Remember digests (entries of files changed within RACY_NS are left out)."""
        self.store_rows([(*key, edges, full) for key, edges, full in entries])

    def store_rows(self, rows: list[tuple]) -> None:
        """store() for rows (dev, inode, size, mtime_ns, ctime_ns, edges, full), as they
        are bound: no tuple is built per row here. Rows without dev, inode or ctime_ns
        (no key: records that lacked them) are left out."""
        limit = time.time_ns() - RACY_NS
        rows = [
            r
            for r in rows
            if r[4] is not None and r[1] is not None and r[0] is not None and r[4] <= limit
        ]
        if not rows:
            return
        try:
            rows.sort()  # primary-key order (half the B-tree work of random order); dev
            # and inode decide unless a file came twice
        except TypeError:  # the same file twice, with a digest and without
            rows.sort(key=_by_key)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            # Replacing is right: an entry with the same identity would have been a hit,
            # and one with another identity is stale. stored_s is a literal in the
            # statement (an int): bound, it would cost one more parameter per row.
            now_s = time.time_ns() // 1_000_000_000
            sql = f"INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?, {int(now_s)})"
            try:
                db.executemany(sql, rows)
            except OverflowError:
                # A time or number beyond SQLite's 64 bits (an mtime in the year 2514):
                # such files are simply not cached.
                rows = [row for row in rows if all(-_INT64 <= v < _INT64 for v in row[:5])]
                db.executemany(sql, rows)
            db.execute("DELETE FROM hashes WHERE stored_s < ?", (now_s - MAX_AGE_S,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.stored += len(rows)
        self._empty = False
