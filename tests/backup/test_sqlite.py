"""SQLite databases are copied with the online backup API: a live database restores consistent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.backup.conftest import assert_valid, restored_root

ACCOUNTS = 50
START_BALANCE = 1000

WRITER = r"""
import os, random, sqlite3, sys, time
db, stop = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db, timeout=30, isolation_level=None)
rng = random.Random(1)
end = time.monotonic() + 240  # a safety net: the test says when to stop
n = 0
while not os.path.exists(stop) and time.monotonic() < end:
    a, b = rng.sample(range(50), 2)
    amount = rng.randint(1, 20)
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE account SET balance = balance - ? WHERE id = ?", (amount, a))
    con.execute("INSERT INTO ledger(src, dst, amount, pad) VALUES (?, ?, ?, randomblob(2000))", (a, b, amount))
    con.execute("UPDATE account SET balance = balance + ? WHERE id = ?", (amount, b))
    con.execute("COMMIT")
    n += 1
print(n)
"""


def make_db(path: Path, journal: str) -> None:
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA journal_mode={journal}")
    con.execute("CREATE TABLE account(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
    con.execute(
        "CREATE TABLE ledger(id INTEGER PRIMARY KEY, src INT, dst INT, amount INT, pad BLOB)"
    )
    con.executemany(
        "INSERT INTO account VALUES (?, ?)", [(i, START_BALANCE) for i in range(ACCOUNTS)]
    )
    con.executemany(
        "INSERT INTO ledger(src, dst, amount, pad) VALUES (0, 0, 0, randomblob(4000))", [()] * 1500
    )
    con.commit()
    con.close()


def assert_consistent(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        total = con.execute("SELECT sum(balance) FROM account").fetchone()[0]
        assert total == ACCOUNTS * START_BALANCE
        for acc, balance in con.execute("SELECT id, balance FROM account"):
            out = con.execute(
                "SELECT coalesce(sum(amount),0) FROM ledger WHERE src=?", (acc,)
            ).fetchone()[0]
            into = con.execute(
                "SELECT coalesce(sum(amount),0) FROM ledger WHERE dst=?", (acc,)
            ).fetchone()[0]
            assert balance == START_BALANCE - out + into
        return con.execute("SELECT count(*) FROM ledger").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_database_written_during_the_backup_restores_consistent(ready, hafs, tmp_path, journal):
    kg = ready.source("kg")
    db = kg / "graph.db"
    make_db(db, journal)
    (kg / "notes.txt").write_text("beside the database\n")
    ready.add_set("kg", kg)
    stop = tmp_path / "stop-writing"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(stop)], stdout=subprocess.PIPE
    )
    try:
        time.sleep(0.5)  # the writer is mid-stream when the backup starts
        run = hafs("backup", "run", "kg")
        still_writing = writer.poll() is None  # it writes until told to stop, below
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert run.exit_code == 0, run.stderr
    assert still_writing, "the writer must be writing during the whole backup"
    assert int(out) > 0
    rec = run.records[0]
    assert rec["sqlite_staged"] == 1
    assert_valid(run.records)

    target = tmp_path / "restore"
    r = hafs("backup", "restore", rec["snapshot_id"], "--target", target)
    assert r.exit_code == 0, r.stderr
    restored = restored_root(target, kg)
    assert sorted(p.name for p in restored.iterdir()) == ["graph.db", "notes.txt"]
    rows = assert_consistent(restored / "graph.db")
    assert rows > 1500
    assert r.records[0]["sqlite_restored"] == [{"path": str(db), "quick_check": "ok"}]
    # the staging directory does not come back as a stray folder
    stage_leftovers = [p for p in target.rglob("*") if "backup-stage" in str(p)]
    assert stage_leftovers == []
    assert_valid(r.records)


def test_restoring_one_database_path_brings_back_the_staged_copy(ready, hafs, tmp_path):
    kg = ready.source("kg")
    make_db(kg / "a.db", "delete")
    make_db(kg / "b.sqlite", "wal")
    ready.add_set("kg", kg)
    assert hafs("backup", "run").exit_code == 0
    target = tmp_path / "one"
    r = hafs("backup", "restore", "latest", str(kg / "b.sqlite"), "--set", "kg", "--target", target)
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in restored_root(target, kg).iterdir()) == ["b.sqlite"]
    assert_consistent(restored_root(target, kg) / "b.sqlite")


def test_a_file_named_like_a_database_but_not_sqlite_is_backed_up_as_is(ready, hafs, tmp_path):
    kg = ready.source("kg")
    (kg / "fake.db").write_bytes(b"plain bytes, not SQLite\n")
    ready.add_set("kg", kg)
    run = hafs("backup", "run")
    assert run.exit_code == 0, run.stderr
    assert run.records[0]["sqlite_staged"] == 0
    target = tmp_path / "t"
    assert hafs("backup", "restore", "latest", "--target", target).exit_code == 0
    assert (restored_root(target, kg) / "fake.db").read_bytes() == b"plain bytes, not SQLite\n"


def test_databases_in_excluded_folders_are_neither_staged_nor_backed_up(ready, hafs, tmp_path):
    kg = ready.source("kg")
    (kg / "node_modules").mkdir()
    make_db(kg / "node_modules" / "cache.db", "delete")
    (kg / "tmp").mkdir()
    make_db(kg / "tmp" / "scratch.sqlite", "delete")
    make_db(kg / "keep.db", "delete")
    ready.add_set("kg", kg, excludes=["/tmp"])
    run = hafs("backup", "run")
    assert run.exit_code == 0, run.stderr
    assert run.records[0]["sqlite_staged"] == 1
    target = tmp_path / "t"
    assert hafs("backup", "restore", "latest", "--target", target).exit_code == 0
    restored = restored_root(target, kg)
    assert sorted(str(p.relative_to(restored)) for p in restored.rglob("*")) == ["keep.db"]


def test_verify_quick_checks_every_sampled_database(ready, hafs):
    kg = ready.source("kg")
    make_db(kg / "graph.db", "wal")  # staged by the online backup API
    make_db(kg / "other.kg", "delete")  # a database under a name sqlite_patterns misses
    ready.add_set("kg", kg)
    assert hafs("backup", "run").exit_code == 0
    r = hafs("backup", "verify", "--sample", "0")
    assert r.exit_code == 0, r.stderr
    assert (r.records[1]["sqlite_checked"], r.records[1]["sqlite_corrupt"]) == (2, [])
    assert_valid(r.records)


def test_verify_reports_a_database_that_restores_corrupt(ready, hafs):
    kg = ready.source("kg")
    broken = kg / "broken.kg"  # not staged: backed up as the bytes on disk
    make_db(broken, "delete")
    raw = bytearray(broken.read_bytes())
    raw[4096:8192] = b"\xa5" * 4096  # a damaged b-tree page
    broken.write_bytes(bytes(raw))
    ready.add_set("kg", kg)
    assert hafs("backup", "run").exit_code == 0
    r = hafs("backup", "verify", "--sample", "0")
    assert r.exit_code == 1
    assert r.records[1]["sqlite_corrupt"] == [str(broken)]
    assert r.records[1]["matched"] == 1  # the bytes themselves were restored faithfully
