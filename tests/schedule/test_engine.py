"""The engine under a controllable clock: catch-up, overlap, retries, depends_on, restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hafs_cli.exits import HafsError
from hafs_cli.schedule.spec import jobs_from_config

from .conftest import py


def statuses(engine, job):
    return [(r["trigger"], r["status"]) for r in engine.history.runs(job)]


def test_on_time_run_then_exactly_one_catch_up_after_3_hours_down(make_engine, clock):
    jobs = {"hourly": {"command": "true", "cron": "0 * * * *", "misfire_grace_s": 7200}}
    engine = make_engine(jobs)
    clock.set(datetime(2026, 1, 5, 1, 0, 0, tzinfo=UTC))
    engine.tick()
    assert engine.wait_idle()
    assert statuses(engine, "hourly") == [("schedule", "ok")]
    engine.shutdown()
    engine.close()
    # the daemon is down from 01:00 to 04:00:20: fires at 02:00, 03:00, 04:00 are missed
    clock.set(datetime(2026, 1, 5, 4, 0, 20, tzinfo=UTC))
    engine = make_engine(jobs)
    engine.tick()
    engine.tick()
    assert engine.wait_idle()
    runs = engine.history.runs("hourly")
    assert [(r["trigger"], r["status"]) for r in runs] == [("schedule", "ok"), ("catch-up", "ok")]
    assert "3 missed fire(s)" in runs[1]["reason"]
    assert runs[1]["scheduled_for"] == "2026-01-05T04:00:00+00:00"


def test_missed_runs_beyond_the_grace_window_are_logged_not_run(make_engine, clock):
    jobs = {"hourly": {"command": "true", "cron": "0 * * * *", "misfire_grace_s": 600}}
    engine = make_engine(jobs)
    clock.set(datetime(2026, 1, 5, 3, 30, tzinfo=UTC))
    engine.tick()
    assert engine.wait_idle()
    runs = engine.history.runs("hourly")
    assert [(r["status"]) for r in runs] == ["missed"]
    assert "3 fire(s) missed" in runs[0]["reason"] and "over the grace" in runs[0]["reason"]


def test_misfire_skip_policy_never_catches_up(make_engine, clock):
    jobs = {"h": {"command": "true", "cron": "0 * * * *", "misfire": "skip"}}
    engine = make_engine(jobs)
    clock.set(datetime(2026, 1, 5, 2, 5, tzinfo=UTC))
    engine.tick()
    assert engine.wait_idle()
    assert statuses(engine, "h") == [("schedule", "missed")]


def test_a_job_that_outlasts_its_interval_never_overlaps(make_engine, clock, tmp_path):
    release = tmp_path / "release"
    trace = tmp_path / "trace"
    code = (
        "import pathlib,time\n"
        f"t=pathlib.Path({str(trace)!r}); r=pathlib.Path({str(release)!r})\n"
        "t.open('a').write('start\\n')\n"
        "while not r.exists(): time.sleep(0.02)\n"
        "t.open('a').write('end\\n')\n"
    )
    engine = make_engine({"slow": {"command": py(code), "every": "1m"}})
    for _ in range(4):
        clock.advance(minutes=1)
        engine.tick()
    release.touch()
    assert engine.wait_idle()
    got = statuses(engine, "slow")
    assert got.count(("schedule", "ok")) == 1 and got.count(("schedule", "skipped")) == 3
    skipped = [r for r in engine.history.runs("slow") if r["status"] == "skipped"]
    assert all(r["reason"] == "previous run still running" for r in skipped)
    assert trace.read_text() == "start\nend\n"


def test_overlap_queue_runs_once_more_after_the_current_run(make_engine, clock, tmp_path):
    release = tmp_path / "release"
    code = (
        f"import pathlib,time\nwhile not pathlib.Path({str(release)!r}).exists(): time.sleep(0.02)"
    )
    engine = make_engine({"q": {"command": py(code), "every": "1m", "overlap": "queue"}})
    for _ in range(3):
        clock.advance(minutes=1)
        engine.tick()
    release.touch()
    assert engine.wait_idle()
    got = statuses(engine, "q")
    assert got.count(("schedule", "ok")) == 1
    assert got.count(("queued", "ok")) == 1  # one queued run, not one per missed fire
    assert ("schedule", "queued") in got and ("schedule", "skipped") in got


def test_a_second_process_cannot_overlap_a_run(make_engine, clock, tmp_path):
    release = tmp_path / "release"
    code = (
        f"import pathlib,time\nwhile not pathlib.Path({str(release)!r}).exists(): time.sleep(0.02)"
    )
    jobs = {"slow": {"command": py(code), "every": "1m"}}
    first = make_engine(jobs)
    clock.advance(minutes=1)
    first.tick()
    import time

    deadline = time.monotonic() + 10
    while not first._running and time.monotonic() < deadline:
        time.sleep(0.02)
    second = make_engine(jobs)  # another daemon, or `hafs schedule once`
    record = second.run_now("slow")
    assert record["status"] == "skipped" and record["reason"] == "locked by another hafs process"
    release.touch()
    assert first.wait_idle()


def test_retries_never_exceed_the_configured_count(make_engine, clock):
    engine = make_engine(
        {
            "flaky": {
                "command": "echo oops >&2; exit 3",
                "every": "1h",
                "retries": 2,
                "retry_backoff_s": 0,
            }
        }
    )
    clock.advance(hours=1)
    engine.tick()
    assert engine.wait_idle()
    runs = engine.history.runs("flaky")
    assert [(r["trigger"], r["attempt"], r["status"], r["exit_code"]) for r in runs] == [
        ("schedule", 1, "failed", 3),
        ("retry", 2, "failed", 3),
        ("retry", 3, "failed", 3),
    ]
    assert all("oops" in r["stderr_tail"] for r in runs)


def test_a_retry_that_succeeds_stops_retrying(make_engine, clock, tmp_path):
    marker = tmp_path / "once"
    code = f"import pathlib,sys\np=pathlib.Path({str(marker)!r})\nif not p.exists():\n p.touch(); sys.exit(1)"
    engine = make_engine(
        {"j": {"command": py(code), "every": "1h", "retries": 5, "retry_backoff_s": 0}}
    )
    clock.advance(hours=1)
    engine.tick()
    assert engine.wait_idle()
    assert [r["status"] for r in engine.history.runs("j")] == ["failed", "ok"]


def test_timeouts_are_recorded_and_retried(make_engine, clock):
    engine = make_engine(
        {
            "hang": {
                "command": "sleep 30",
                "every": "1h",
                "timeout_s": 0.3,
                "retries": 1,
                "retry_backoff_s": 0,
            }
        }
    )
    clock.advance(hours=1)
    engine.tick()
    assert engine.wait_idle(30)
    assert [(r["attempt"], r["status"]) for r in engine.history.runs("hang")] == [
        (1, "timeout"),
        (2, "timeout"),
    ]


def test_depends_on_runs_after_the_dependency_succeeds(make_engine, clock, tmp_path):
    order = tmp_path / "order"
    write = "import pathlib,time\ntime.sleep(0.2)\npathlib.Path({p!r}).open('a').write({w!r})"
    engine = make_engine(
        {
            "scan": {"command": py(write.format(p=str(order), w="scan\n")), "cron": "0 2 * * *"},
            "recommend": {
                "command": py(write.format(p=str(order), w="recommend\n")),
                "depends_on": ["scan"],
            },
        }
    )
    clock.set(datetime(2026, 1, 5, 2, 0, 10, tzinfo=UTC))
    engine.tick()
    assert engine.wait_idle()
    import time

    time.sleep(0.1)
    assert engine.wait_idle()
    assert order.read_text() == "scan\nrecommend\n"
    (scan,) = engine.history.runs("scan")
    (rec,) = engine.history.runs("recommend")
    assert rec["trigger"] == "dependency" and rec["status"] == "ok"
    assert rec["started"] >= scan["ended"]


def test_a_failed_dependency_skips_the_dependent(make_engine, clock):
    engine = make_engine(
        {
            "scan": {"command": "exit 1", "every": "1h"},
            "report": {"command": "true", "depends_on": ["scan"]},
        }
    )
    clock.advance(hours=1)
    engine.tick()
    assert engine.wait_idle()
    (rec,) = engine.history.runs("report")
    assert (rec["status"], rec["reason"]) == ("skipped", "dependency scan failed")


def test_five_restarts_keep_the_job_set_and_history(make_engine, clock):
    jobs = {
        "a": {"command": 'echo \'{"kind":"x"}\'', "every": "1h"},
        "b": {"command": "true", "cron": "30 * * * *"},
        "manual": {"command": "true"},
    }
    for _ in range(5):
        engine = make_engine(jobs)
        clock.advance(hours=1)
        engine.tick()
        assert engine.wait_idle()
        engine.shutdown()
        engine.close()
    engine = make_engine(jobs)
    assert engine.history.job_names() == ["a", "b", "manual"]
    runs_a = engine.history.runs("a")
    assert [r["status"] for r in runs_a] == ["ok"] * 5
    assert len({r["scheduled_for"] for r in runs_a}) == 5  # never the same fire twice
    assert all(r["records"] == 1 for r in runs_a)
    assert [r["status"] for r in engine.history.runs("b")] == ["ok"] * 5
    ids = [r["id"] for r in engine.history.runs()]
    assert ids == sorted(ids) and len(ids) == 10


def test_a_run_left_running_by_a_dead_daemon_is_recorded_as_killed(make_engine, clock):
    engine = make_engine({"a": {"command": "true", "every": "1h"}})
    run_id = engine.history.start_run("a", "schedule", clock(), 1, clock())
    engine.close()
    engine = make_engine({"a": {"command": "true", "every": "1h"}})
    (row,) = [r for r in engine.history.runs("a") if r["id"] == run_id]
    assert row["status"] == "killed"


def test_run_output_is_kept_bounded(make_engine, clock):
    engine = make_engine(
        {"big": {"command": py('print(\'{"kind":"x"}\\n\' * 20000)'), "every": "1h"}},
        max_output_bytes=4096,
    )
    clock.advance(hours=1)
    engine.tick()
    assert engine.wait_idle()
    (run,) = engine.history.runs("big")
    from pathlib import Path

    data = Path(run["output_path"]).read_bytes()
    assert len(data) < 4096 + 100 and b"output truncated at 4096 bytes" in data
    assert run["status"] == "ok"


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ({"a": {"command": "true", "cron": "* * *"}}, "expected 5"),
        ({"a": {"command": "true", "every": "soon"}}, "not a duration"),
        ({"a": {"command": "true", "depends_on": ["b"]}}, "unknown job 'b'"),
        (
            {
                "a": {"command": "true", "depends_on": ["b"]},
                "b": {"command": "true", "depends_on": ["a"]},
            },
            "cycle",
        ),
        (
            {"a": {"command": "true", "cron": "0 * * * *", "timezone": "Mars/Base"}},
            "unknown timezone",
        ),
    ],
)
def test_bad_job_definitions_are_explained(jobs, message):
    with pytest.raises(HafsError, match=message):
        jobs_from_config({"jobs": jobs})
