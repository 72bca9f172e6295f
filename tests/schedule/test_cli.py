"""hafs schedule list|once|log|install|run through the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from hafs_cli.gen import toml_value
from hafs_cli.schemas import validate_record

from .conftest import py


def write_config(path, jobs: str, extra: str = "") -> None:
    (path / "hafs.toml").write_text(f"[schedule]\n{extra}\n{jobs}")


HELLO = py('print(\'{"kind":"greeting"}\')')
JOBS = f"""
[schedule.jobs.hello]
command = {toml_value(HELLO)}
cron = "0 2 * * 0"
timezone = "UTC"

[schedule.jobs.broken]
command = "echo failing >&2; exit 4"
every = "1h"
"""


def test_list_shows_jobs_with_next_run(hafs, tmp_path):
    write_config(tmp_path, JOBS)
    result = hafs("schedule", "list", "--format", "jsonl", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    by_name = {r["name"]: r for r in result.records}
    assert set(by_name) == {"hello", "broken"}
    assert by_name["hello"]["trigger"] == "cron 0 2 * * 0"
    from datetime import datetime

    nxt = datetime.fromisoformat(by_name["hello"]["next_run"])
    assert nxt.strftime("%A %H:%M") == "Sunday 02:00"
    assert all(validate_record(r) == [] for r in result.records)


def test_once_runs_now_and_log_shows_it(hafs, tmp_path):
    write_config(tmp_path, JOBS)
    ok = hafs("schedule", "once", "hello", "--format", "jsonl", cwd=tmp_path)
    assert ok.exit_code == 0, ok.stderr
    (run,) = ok.records
    assert (run["job"], run["trigger"], run["status"], run["records"]) == (
        "hello",
        "manual",
        "ok",
        1,
    )
    bad = hafs("schedule", "once", "broken", "--format", "jsonl", cwd=tmp_path)
    assert bad.exit_code == 1
    assert bad.records[-1]["exit_code"] == 4 and "failing" in bad.records[-1]["stderr_tail"]
    log = hafs("schedule", "log", "--format", "jsonl", cwd=tmp_path)
    assert [(r["job"], r["status"]) for r in log.records] == [("hello", "ok"), ("broken", "failed")]
    assert all(validate_record(r) == [] for r in log.records)
    only = hafs("schedule", "log", "hello", "--format", "jsonl", cwd=tmp_path)
    assert [r["job"] for r in only.records] == ["hello"]


def test_once_unknown_job_suggests(hafs, tmp_path):
    write_config(tmp_path, JOBS)
    result = hafs("schedule", "once", "helo", cwd=tmp_path)
    assert result.exit_code == 2 and b"did you mean 'hello'" in result.stderr


def test_bad_job_config_is_a_clear_error(hafs, tmp_path):
    write_config(tmp_path, '[schedule.jobs.x]\ncommand = "true"\ncron = "0 2 * *"\n')
    result = hafs("schedule", "list", cwd=tmp_path)
    assert result.exit_code == 2
    assert b"[schedule.jobs.x]" in result.stderr and b"expected 5" in result.stderr


def test_install_prints_a_systemd_unit(hafs):
    result = hafs("schedule", "install", "--systemd")
    assert result.exit_code == 0
    assert "ExecStart=" in result.text and "-m hafs_cli schedule run" in result.text
    assert "WantedBy=default.target" in result.text


def test_install_write_is_idempotent_in_the_user_scope(hafs, isolated_env):
    first = hafs("schedule", "install", "--systemd", "--write")
    assert first.exit_code == 0 and "wrote" in first.text
    unit = isolated_env / ".config/systemd/user/hafs-schedule.service"
    assert unit.is_file() and "ExecStart=" in unit.read_text()
    again = hafs("schedule", "install", "--systemd", "--write")
    assert again.text.startswith("unchanged")


def test_install_launchd_and_windows_entries(hafs):
    plist = hafs("schedule", "install", "--launchd")
    assert "<key>RunAtLoad</key>" in plist.text and "dev.hafs.schedule" in plist.text
    task = hafs("schedule", "install", "--windows-task")
    assert task.text.startswith("schtasks /Create") and "ONLOGON" in task.text


def test_install_needs_a_kind(hafs):
    assert hafs("schedule", "install").exit_code == 2


def test_daemon_stops_on_sigterm_and_records_killed_runs(hafs_cmd, tmp_path):
    write_config(
        tmp_path,
        '[schedule.jobs.long]\ncommand = "sleep 60"\nevery = "1s"\n',
        extra="shutdown_grace_s = 0.5\n",
    )
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [*hafs_cmd, "schedule", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    db = tmp_path / "state/hafs/schedule.sqlite"
    deadline = time.monotonic() + 20
    import sqlite3

    while time.monotonic() < deadline:
        if db.exists():
            try:
                con = sqlite3.connect(db)
                if con.execute("SELECT count(*) FROM runs WHERE status='running'").fetchone()[0]:
                    break
            except sqlite3.Error:
                pass
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    from hafs_cli import records

    recs = [records.loads(x) for x in out.splitlines()]
    assert recs and recs[-1]["status"] == "killed"
    assert b"Traceback" not in err
