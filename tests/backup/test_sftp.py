"""A repository on another machine through restic's sftp backend and the [hosts] rules."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from tests.backup.conftest import (
    PASSWORD,
    assert_valid,
    cheapen_key,
    manifest,
    restored_root,
    toml_str,
)


def sftp_world(world, sshd, tmp_path, host_table: dict) -> str:
    remote_repo = tmp_path / "remote-repo"
    lines = ["[hosts.backupbox]"] + [
        f"{k} = {toml_str(str(v)) if isinstance(v, str) else v}" for k, v in host_table.items()
    ]
    world.extra = "\n".join(lines) + "\n"
    world.repositories["default"] = {
        "url": f"sftp:backupbox:{remote_repo}",
        "password_file": str(world.password_file),
    }
    world.write()
    return str(remote_repo)


def test_sftp_repository_backs_up_and_restores_byte_identical(world, hafs, sshd, tmp_path):
    remote_repo = sftp_world(
        world, sshd, tmp_path, {"address": sshd.alias, "ssh_config": str(sshd.ssh_config)}
    )
    data = world.source("data")
    (data / "sub").mkdir()
    for i in range(10):
        (data / "sub" / f"{i}.bin").write_bytes(os.urandom(20_000 + i))
    (data / "readme.md").write_text("over sftp\n")
    world.add_set("data", data)
    logins = sshd.accepted_logins()
    init = hafs("backup", "init")
    assert init.exit_code == 0, init.stderr
    assert os.path.isfile(os.path.join(remote_repo, "config"))
    cheapen_key(Path(remote_repo), PASSWORD)  # the "remote" is on this machine
    run = hafs("backup", "run")
    assert run.exit_code == 0, run.stderr
    assert sshd.accepted_logins() > logins  # really went through the SSH server
    target = tmp_path / "restore"
    r = hafs("backup", "restore", run.records[0]["snapshot_id"], "--target", target)
    assert r.exit_code == 0, r.stderr
    assert manifest(restored_root(target, data)) == manifest(data)
    status = hafs("backup", "status")
    assert status.exit_code == 0, status.stderr
    assert status.records[0]["repository_bytes"] > 200_000
    verify = hafs("backup", "verify", "--sample", "0")
    assert verify.exit_code == 0, verify.stderr
    assert_valid(init.records + run.records + r.records + status.records + verify.records)


def test_an_unknown_host_key_is_rejected_like_sync_does(world, hafs, sshd, tmp_path):
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    remote_repo = sftp_world(
        world,
        sshd,
        tmp_path,
        {
            "address": sshd.host,
            "port": sshd.port,
            "user": sshd.user,
            "identity_file": str(sshd.user_key),
            "known_hosts": str(empty_known_hosts),
        },
    )
    r = hafs("backup", "init")
    assert r.exit_code == 3
    assert b"host key of backupbox" in r.stderr and b"is not known" in r.stderr
    assert not os.path.exists(remote_repo)
    # with the server's key in that known_hosts file, the same configuration works
    empty_known_hosts.write_text(sshd.known_hosts.read_text())
    ok = hafs("backup", "init")
    assert ok.exit_code == 0, ok.stderr
    assert os.path.isfile(os.path.join(remote_repo, "config"))


def test_accept_new_trusts_a_first_seen_host_key_as_sync_does(world, hafs, sshd, tmp_path):
    # ssh writes a newly trusted key to the first UserKnownHostsFile; an ssh_config of the
    # test's own keeps it out of the real home directory (ssh expands ~ from passwd, not $HOME).
    trusted = tmp_path / "trusted_hosts"
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host backup-target\n    HostName {sshd.host}\n    Port {sshd.port}\n    User {sshd.user}\n"
        f"    IdentityFile {sshd.user_key}\n    UserKnownHostsFile {trusted}\n"
    )
    remote_repo = sftp_world(
        world,
        sshd,
        tmp_path,
        {"address": "backup-target", "ssh_config": str(config), "host_key_policy": "accept-new"},
    )
    r = hafs("backup", "init")
    assert r.exit_code == 0, r.stderr
    assert os.path.isfile(os.path.join(remote_repo, "config"))
    assert trusted.read_text().split()[1:] == sshd.host_key_line.split()[1:]


def test_with_the_default_policy_the_same_host_is_refused(world, hafs, sshd, tmp_path):
    trusted = tmp_path / "trusted_hosts"
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host backup-target\n    HostName {sshd.host}\n    Port {sshd.port}\n    User {sshd.user}\n"
        f"    IdentityFile {sshd.user_key}\n    UserKnownHostsFile {trusted}\n"
    )
    sftp_world(world, sshd, tmp_path, {"address": "backup-target", "ssh_config": str(config)})
    r = hafs("backup", "init")
    assert r.exit_code == 3
    assert not trusted.exists() or trusted.read_text() == ""


def test_a_stale_lock_in_an_sftp_repository_is_cleared(world, hafs, sshd, tmp_path):
    remote_repo = sftp_world(
        world, sshd, tmp_path, {"address": sshd.alias, "ssh_config": str(sshd.ssh_config)}
    )
    data = world.source("data")
    for i in range(4):
        (data / f"big{i}.bin").write_bytes(os.urandom(8_000_000))
    world.add_set("data", data)
    assert hafs("backup", "init").exit_code == 0
    cheapen_key(Path(remote_repo), PASSWORD)
    command = f"ssh -F {shlex.quote(str(sshd.ssh_config))} {sshd.alias} -s sftp"
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(world.password_file)}
    proc = subprocess.Popen(
        [
            "restic",
            "-r",
            f"sftp:{sshd.alias}:{remote_repo}",
            "-o",
            f"sftp.command={command}",
            "backup",
            "-q",
            str(data),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    locks = os.path.join(remote_repo, "locks")
    deadline = time.monotonic() + 30
    while not os.listdir(locks) and time.monotonic() < deadline:
        time.sleep(0.02)
    held = sorted(os.listdir(locks))
    assert held, "restic never took its lock"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    r = hafs("backup", "verify")
    assert r.records[0]["ok"] is True, r.stderr
    assert r.records[0]["stale_locks_removed"] == held
    assert os.listdir(locks) == []


def test_an_unreachable_repository_host_is_one_clear_runtime_error(world, hafs, tmp_path):
    world.add_set("data", world.source("data"))
    sftp_world(world, None, tmp_path, {"address": "127.0.0.1", "port": 1, "connect_timeout": 2})
    for args in (("init",), ("run",), ("list",)):
        r = hafs("backup", *args)
        assert r.exit_code == 3, (args, r.stderr)
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(
            f"hafs: error: repository 'default' (sftp:backupbox:{tmp_path}/remote-repo): "
            "cannot reach backupbox over ssh: ssh: connect to host 127.0.0.1 port 1: "
            "Connection refused"
        ), lines[0]
        assert "`ssh -p 1 127.0.0.1` works" in lines[0]
