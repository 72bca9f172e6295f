"""hafs backup forget keeps exactly what an independent computation of the policy expects."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.backup.conftest import assert_valid

DAYS = 400
POLICY = {"keep_daily": 7, "keep_weekly": 5, "keep_monthly": 12, "keep_yearly": 3}


def expected_kept(times: dict[str, datetime], policy: dict[str, int]) -> set[str]:
    """The policy computed from first principles: for each rule, the newest snapshot of each
    of the N most recent periods (days, ISO weeks, months, years) that have a snapshot."""
    periods = {
        "keep_daily": lambda t: t.date(),
        "keep_weekly": lambda t: t.isocalendar()[:2],
        "keep_monthly": lambda t: (t.year, t.month),
        "keep_yearly": lambda t: t.year,
    }
    newest_first = sorted(times, key=lambda s: times[s], reverse=True)
    kept: set[str] = set()
    for rule, count in policy.items():
        seen: list = []
        for snap in newest_first:
            period = periods[rule](times[snap])
            if period not in seen:
                seen.append(period)
                if len(seen) > count:
                    break
                kept.add(snap)
    return kept


def utc(text: str) -> datetime:
    """restic's RFC 3339 time (TZ=UTC here, with or without a fraction) as an aware datetime."""
    head = text.rstrip("Z").split("+")[0].split(".")[0]
    return datetime.fromisoformat(head).replace(tzinfo=UTC)


def restic_json(world, *args: str):
    import orjson

    return orjson.loads(world.restic("--json", *args).stdout)


CHAINS = 8


def make_daily_snapshots(world, data: Path, extra: Path, days: int) -> float:
    """`days` snapshots through restic backup --time, one per day; the set gains a path halfway.

    Every restic backup sleeps 200 ms after taking its lock, so 400 in a row take minutes;
    run at once against one repository, restic 0.14 stalls for tens of seconds whenever a
    lock it lists vanishes before it reads it (its backend retries with backoff). So
    CHAINS copies of the freshly initialised, still empty repository (same ID, same keys)
    each take every CHAINS-th day in turn, and `restic copy` then brings all snapshots,
    with their time, host, tags and paths, into the repository under test.
    """
    start = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
    env = {**os.environ, "TZ": "UTC", "RESTIC_PASSWORD_FILE": str(world.password_file)}
    host = "retention-host"
    clones = [world.root / f"chain{i}" for i in range(CHAINS)]
    for clone in clones:
        shutil.copytree(world.repo, clone)

    def chain(i: int) -> None:
        for day in range(i, days, CHAINS):
            when = start + timedelta(days=day, hours=day % 7)  # the hour varies, as real runs do
            paths = [str(data)] if day < days // 2 else [str(data), str(extra)]
            subprocess.run(
                ["restic", "--repo", str(clones[i]), "--no-cache", "backup", "-q",
                 "--host", host, "--tag", "hafs-set:daily",
                 "--time", when.strftime("%Y-%m-%d %H:%M:%S"), *paths],
                env=env, check=True, capture_output=True,
            )  # fmt: skip

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=CHAINS) as pool:
        list(pool.map(chain, range(CHAINS)))
    for clone in clones:
        subprocess.run(
            ["restic", "--repo", str(world.repo), "copy", "-q", "--from-repo", str(clone),
             "--from-password-file", str(world.password_file)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
    return time.monotonic() - began


@pytest.mark.slow
@pytest.mark.timeout(600)  # 400 restic backups in 8 chains: about 15 s
def test_retention_over_400_daily_snapshots_keeps_exactly_the_expected_set(ready, hafs):
    data = ready.source("data")
    (data / "tiny.txt").write_text("x")
    extra = ready.source("extra")
    (extra / "added-later.txt").write_text("y")
    ready.backup.update(POLICY, host="retention-host", keep_last=0)
    ready.add_set("daily", data, extra)
    seconds = make_daily_snapshots(ready, data, extra, DAYS)
    print(f"created {DAYS} snapshots in {seconds:.1f}s")
    before = restic_json(ready, "snapshots")
    assert len(before) == DAYS
    times = {s["id"]: utc(s["time"]) for s in before}
    want = expected_kept(times, POLICY)
    assert 20 <= len(want) <= 27  # sanity of the independent computation itself

    dry = hafs("backup", "forget", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert len(restic_json(ready, "snapshots")) == DAYS

    r = hafs("backup", "forget")
    assert r.exit_code == 0, r.stderr
    assert len(r.records) == 1  # one group although the set's paths changed halfway
    rec = r.records[0]
    assert rec["group_by"] == ["host", "tags"]
    assert rec["paths_seen"] == [[str(data)], [str(data), str(extra)]]
    assert rec["kept"] == len(want) and rec["removed"] == DAYS - len(want)
    assert_valid(r.records)
    after = {s["id"] for s in restic_json(ready, "snapshots")}
    assert after == want
    assert {s["id"][:8] for s in before if s["id"] in want} == set(rec["keep"])
    assert dry.records[0]["keep"] == rec["keep"]


def test_changing_a_sets_paths_does_not_escape_retention(ready, hafs):
    one = ready.source("one")
    (one / "a").write_text("a")
    two = ready.source("two")
    (two / "b").write_text("b")
    ready.backup.update(keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0)
    ready.add_set("s", one)
    ids = []
    for paths in ([one], [one, two], [two]):
        ready.add_set("s", *paths)
        r = hafs("backup", "run")
        assert r.exit_code == 0, r.stderr
        ids.append(r.records[0]["snapshot_id"])
    r = hafs("backup", "forget")
    assert r.exit_code == 0, r.stderr
    assert [(x["keep"], x["remove"]) for x in r.records] == [(ids[:0:-1], ids[:1])]
    assert [x["snapshot_id"] for x in hafs("backup", "list").records] == ids[1:]


def test_forget_leaves_other_sets_and_other_hosts_alone(ready, hafs):
    a = ready.source("a")
    (a / "f").write_text("f")
    ready.backup.update(keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0)
    ready.add_set("a", a)
    ready.add_set("b", a)
    for _ in range(2):
        assert hafs("backup", "run").exit_code == 0
    ready.restic("backup", "-q", "--host", "elsewhere", "--tag", "hafs-set:a", str(a))
    r = hafs("backup", "forget", "a")
    assert r.exit_code == 0, r.stderr
    assert [(x["set"], x["kept"], x["removed"]) for x in r.records] == [("a", 1, 1)]
    remaining = hafs("backup", "list").records
    assert sorted((x["set"], x["host"]) for x in remaining) == [
        ("a", "elsewhere"),
        ("a", ready_host()),
        ("b", ready_host()),
        ("b", ready_host()),
    ]


def ready_host() -> str:
    import socket

    return socket.gethostname()


def test_a_policy_that_keeps_nothing_is_refused(ready, hafs):
    ready.backup.update(keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    ready.add_set("a", ready.source("a"))
    r = hafs("backup", "forget")
    assert r.exit_code == 2
    assert b"keeps nothing" in r.stderr


def test_expected_kept_matches_restics_documented_example():
    # Daily snapshots, keep daily 3 + weekly 2: the 3 newest days, and for the ISO week
    # before the newest one, its newest snapshot (Sunday).
    start = datetime(2024, 6, 1, tzinfo=UTC)  # a Saturday
    times = {f"s{i:02}": start + timedelta(days=i) for i in range(15)}  # to Sat 15 June
    kept = expected_kept(times, {"keep_daily": 3, "keep_weekly": 2})
    assert kept == {"s14", "s13", "s12", "s08"}  # 15, 14, 13 June; Sunday 9 June


def test_forget_with_prune_frees_the_space_of_removed_snapshots(ready, hafs):
    data = ready.source("data")
    ready.backup.update(keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0)
    ready.add_set("data", data)
    (data / "old.bin").write_bytes(os.urandom(400_000))
    assert hafs("backup", "run").exit_code == 0
    (data / "old.bin").unlink()
    (data / "new.bin").write_bytes(os.urandom(100_000))
    assert hafs("backup", "run").exit_code == 0
    before = sum(f.stat().st_size for f in ready.repo.rglob("*") if f.is_file())
    r = hafs("backup", "forget", "--prune")
    assert r.exit_code == 0, r.stderr
    assert r.records[0]["removed"] == 1
    after = sum(f.stat().st_size for f in ready.repo.rglob("*") if f.is_file())
    assert before - after > 350_000
    assert ready.restic("check").returncode == 0
    table = hafs("backup", "status", "--format", "table")
    assert table.exit_code == 0 and "data" in table.text


def test_a_set_may_override_keep_hourly_like_the_other_rules(ready, hafs):
    data = ready.source("data")
    (data / "f").write_text("f")
    ready.backup.update(keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    ready.add_set("data", data, keep_hourly=2)
    for when in ("2026-01-01 10:05:00", "2026-01-01 10:35:00"):
        assert hafs("backup", "run", "--time", when).exit_code == 0
    r = hafs("backup", "forget", "--dry-run")
    assert r.exit_code == 0, r.stderr  # the configuration is valid
    assert r.records[0]["policy"] == {"keep_hourly": 2}
    assert (r.records[0]["kept"], r.records[0]["removed"]) == (1, 1)  # both in the same hour
