"""kill -9 in the middle of a backup: earlier snapshots intact, verify passes, the next run works.

Stale locks are removed only when their process is gone from this host: a lock of a
live (stopped) restic and a lock made under another host name both stay.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.backup.conftest import assert_valid, manifest, restored_root


def wait_for(predicate, timeout: float = 30.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def lock_files(repo: Path) -> list[str]:
    """The repository's locks (a kill while restic writes one can leave its temporary
    NAME-tmp-NNN file behind, which restic ignores: not a lock)."""
    return sorted(n for n in os.listdir(repo / "locks") if re.fullmatch(r"[0-9a-f]{64}", n))


def data_files(repo: Path) -> int:
    return sum(len(files) for _d, _s, files in os.walk(repo / "data"))


def big_data(root: Path, files: int = 6, size: int = 12_000_000) -> None:
    for i in range(files):
        (root / f"big{i}.bin").write_bytes(os.urandom(size))


def start_hafs_run(hafs_cmd) -> subprocess.Popen:
    return subprocess.Popen(
        [*hafs_cmd, "backup", "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: kill -9 reaches restic too
    )


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_kill_9_at_several_points_loses_nothing_and_the_next_run_succeeds(
    ready, hafs, hafs_cmd, tmp_path
):
    data = ready.source("data")
    (data / "first.txt").write_text("the first snapshot\n")
    ready.add_set("data", data)
    first = hafs("backup", "run")
    assert first.exit_code == 0, first.stderr
    first_id = first.records[0]["snapshot_id"]
    first_manifest = manifest(data)
    big_data(data)

    kill_points = {
        "starting": lambda p: time.sleep(0.3) or True,
        "holding the lock": lambda p: wait_for(lambda: lock_files(ready.repo)),
        "writing data": lambda p: wait_for(lambda: data_files(ready.repo) > baseline + 1),
    }
    for point, reached in kill_points.items():
        baseline = data_files(ready.repo)
        proc = start_hafs_run(hafs_cmd)
        assert reached(proc), f"never reached: {point}"
        assert proc.poll() is None, f"the run ended before the kill at: {point}"
        kill_group(proc)
        listed = hafs("backup", "list")
        assert listed.exit_code == 0, (point, listed.stderr)
        assert first_id in [r["snapshot_id"] for r in listed.records], point

    verify = hafs("backup", "verify", "--sample", "0")
    assert verify.exit_code == 0, verify.stderr
    check = verify.records[0]
    assert check["kind"] == "backup_check" and check["ok"] is True
    assert check["stale_locks_removed"]  # the killed runs' locks: this host, process gone
    assert_valid(verify.records)

    after = hafs("backup", "run")
    assert after.exit_code == 0, after.stderr
    assert after.records[0]["files_new"] == 6
    assert lock_files(ready.repo) == []

    target = tmp_path / "first"
    r = hafs("backup", "restore", first_id, "--target", target)
    assert r.exit_code == 0, r.stderr
    assert manifest(restored_root(target, data)) == first_manifest
    target2 = tmp_path / "latest"
    assert (
        hafs("backup", "restore", after.records[0]["snapshot_id"], "--target", target2).exit_code
        == 0
    )
    assert manifest(restored_root(target2, data)) == manifest(data)


def restic_backup_paused(world, data: Path, hostname: str | None = None) -> subprocess.Popen:
    """A restic backup that has taken its lock and is then stopped (SIGSTOP), still alive."""
    env = {
        **os.environ,
        "RESTIC_PASSWORD_FILE": str(world.password_file),
        "RESTIC_REPOSITORY": str(world.repo),
    }
    argv = ["restic", "backup", "-q", str(data)]
    if hostname:
        argv = ["unshare", "--uts", "sh", "-c", f'hostname "{hostname}" && exec "$@"', "sh", *argv]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: lock_files(world.repo)), "restic never took its lock"
    os.kill(proc.pid, signal.SIGSTOP)
    return proc


def test_a_lock_of_a_live_process_is_kept_and_reported(ready, hafs):
    data = ready.source("data")
    big_data(data, files=4)
    ready.add_set("data", data)
    proc = restic_backup_paused(ready, data)
    try:
        held = lock_files(ready.repo)
        r = hafs("backup", "verify")
        assert r.exit_code == 3
        assert f"PID {proc.pid}".encode() in r.stderr
        assert b"held by a running process" in r.stderr
        assert lock_files(ready.repo) == held
    finally:
        proc.kill()
        proc.wait()
    # now its process is gone: the same command clears the stale lock and runs
    r = hafs("backup", "verify")
    assert r.exit_code == 1, r.stderr  # the set has no snapshot yet (restic was killed)
    assert r.records[0]["ok"] is True
    assert r.records[1]["ok"] is False and r.records[1]["snapshot_id"] is None
    assert r.records[0]["stale_locks_removed"] == held
    assert lock_files(ready.repo) == []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_dead_lock_from_another_host_is_not_removed(ready, hafs):
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a UTS namespace here")
    data = ready.source("data")
    big_data(data, files=4)
    ready.add_set("data", data)
    proc = restic_backup_paused(ready, data, hostname="some-other-machine")
    proc.kill()
    proc.wait()
    held = lock_files(ready.repo)
    r = hafs("backup", "forget")
    assert r.exit_code == 3
    assert b"on some-other-machine" in r.stderr
    assert lock_files(ready.repo) == held


def test_without_restic_one_clear_error_with_install_commands_exit_3(world, hafs, tmp_path):
    world.add_set("data", world.source("data"))
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    r = hafs("backup", "run", env={"PATH": str(empty_bin)})
    assert r.exit_code == 3
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    for hint in (
        "apt install restic",
        "dnf install restic",
        "brew install restic",
        "scoop install restic",
    ):
        assert hint in lines[0]
    assert lines[0].startswith("hafs: error: restic not found")


def test_python_in_path_but_restic_program_configured_missing(world, hafs):
    world.backup["restic"] = "/nonexistent/restic"
    world.add_set("data", world.source("data"))
    r = hafs("backup", "status")
    assert r.exit_code == 3
    assert b"'/nonexistent/restic'" in r.stderr


def test_a_killed_but_unreaped_process_counts_as_gone():
    """After kill -9 a restic may stay a zombie until its parent reaps it: its lock is stale."""
    from datetime import UTC, datetime, timedelta

    from hafs_cli.backup.locks import process_gone

    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["sleep", "30"])
    since = datetime.now(UTC) + timedelta(seconds=1)  # the locks were taken after they started
    try:
        os.kill(dead.pid, signal.SIGKILL)
        stat = Path(f"/proc/{dead.pid}/stat")
        assert wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")
        assert process_gone(dead.pid, since)  # a zombie, not reaped yet
        assert not process_gone(live.pid, since)
    finally:
        live.kill()
        live.wait()
        dead.wait()
    assert process_gone(dead.pid, since)  # reaped


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
