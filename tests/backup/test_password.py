"""The repository password comes from a file, an environment variable or the keyring,
and never appears on restic's command line (nor in its environment, where a pipe can carry it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.backup.conftest import PASSWORD, cheapen_key


def spy_restic(tmp_path: Path) -> tuple[Path, Path]:
    """A restic wrapper that logs its argv and environment, then runs the real restic."""
    log = tmp_path / "restic-calls.log"
    real = os.popen("command -v restic").read().strip()
    wrapper = tmp_path / "restic-spy"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "ARGV %s\\n" "$*" >> "{log}"\n'
        f'env | sed "s/^/ENV /" >> "{log}"\n'
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, log


def run_cycle(world, hafs) -> None:
    data = world.source("data")
    (data / "f").write_text("f")
    world.add_set("data", data)
    for args in (("init",), ("run",), ("list",), ("verify",)):
        r = hafs("backup", *args)
        assert r.exit_code == 0, (args, r.stderr)
        if args == ("init",):
            cheapen_key(world.repo, PASSWORD)  # same password, cheaper to open


def test_password_file_is_passed_by_name_only(world, hafs, tmp_path):
    wrapper, log = spy_restic(tmp_path)
    world.backup["restic"] = str(wrapper)
    run_cycle(world, hafs)
    text = log.read_text()
    assert text.count("ARGV ") >= 5
    assert PASSWORD not in text
    assert f"ENV RESTIC_PASSWORD_FILE={world.password_file}" in text


def test_password_from_an_environment_variable_never_reaches_argv_or_env(
    world, hafs, tmp_path, monkeypatch
):
    wrapper, log = spy_restic(tmp_path)
    world.backup["restic"] = str(wrapper)
    world.repositories["default"] = {"url": str(world.repo), "password_env": "MY_BACKUP_PW"}
    monkeypatch.setenv("MY_BACKUP_PW", PASSWORD)
    run_cycle(world, hafs)
    text = log.read_text()
    assert PASSWORD not in text  # not in argv, not in the environment (not even MY_BACKUP_PW)
    assert "ENV RESTIC_PASSWORD_FILE=/dev/fd/" in text
    # and it is the real password: restic opened the repository with it
    assert world.restic("snapshots", "-q").returncode == 0


def test_password_from_the_keyring(world, hafs, tmp_path):
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1
        store = {("hafs-backup", "default"): PASSWORD}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        wrapper, log = spy_restic(tmp_path)
        world.backup["restic"] = str(wrapper)
        world.repositories["default"] = {"url": str(world.repo), "password_keyring": "hafs-backup"}
        run_cycle(world, hafs)
        assert PASSWORD not in log.read_text()
        assert world.restic("snapshots", "-q").returncode == 0  # same password as the file
        world.repositories["default"]["password_keyring"] = "no-such-service"
        world.write()
        r = hafs("backup", "list")
        assert r.exit_code == 2
        assert b"no keyring entry for service 'no-such-service', user 'default'" in r.stderr
    finally:
        keyring.set_keyring(previous)


def test_a_wrong_password_is_a_clear_usage_error(ready, hafs, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    ready.repositories["default"]["password_file"] = str(wrong)
    ready.write()
    r = hafs("backup", "list")
    assert r.exit_code == 2
    assert (
        f"the password from password_file {wrong} does not open repository 'default'".encode()
        in r.stderr
    )
    assert b"not it" not in r.stderr


def test_a_missing_password_file_says_how_to_create_one(world, hafs, tmp_path):
    world.repositories["default"]["password_file"] = str(tmp_path / "absent")
    world.write()
    r = hafs("backup", "init")
    assert r.exit_code == 2
    assert b"does not exist; create it" in r.stderr
    assert not world.repo.exists()


def test_no_repository_yet_points_at_init(world, hafs):
    world.add_set("data", world.source("data"))
    r = hafs("backup", "status")
    assert r.exit_code == 2
    assert b"hafs backup init --repo default" in r.stderr


def test_an_unknown_repository_name_lists_the_known_ones(world, hafs):
    r = hafs("backup", "list", "--repo", "offsite")
    assert r.exit_code == 2
    assert b"no backup repository 'offsite' in [backup.repositories] (known: default)" in r.stderr


def test_the_cheap_test_key_opens_the_repository_only_with_the_password(ready, tmp_path):
    """The `ready` fixture re-wraps the key (conftest.cheapen_key): it must still be a real key."""
    import subprocess

    import orjson

    (key,) = list((ready.repo / "keys").iterdir())
    assert orjson.loads(key.read_bytes())["N"] == 1024
    assert ready.restic("check").returncode == 0
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not the password\n")
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(wrong), "RESTIC_REPOSITORY": str(ready.repo)}
    bad = subprocess.run(["restic", "cat", "config", "--no-lock"], env=env, capture_output=True)
    assert bad.returncode != 0 and b"wrong password" in bad.stderr


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "is empty"), ("\n \n", "is empty"), (None, "is a folder, not a file")],
)
def test_an_unusable_password_file_is_a_usage_error_naming_it(world, hafs, content, problem):
    world.password_file.unlink()
    if content is None:
        world.password_file.mkdir()
    else:
        world.password_file.write_text(content)
    world.add_set("data", world.source("data"))
    for args in (("init",), ("list",)):
        r = hafs("backup", *args)
        assert r.exit_code == 2, r.stderr
        assert r.stderr.decode().startswith(
            f"hafs: error: [backup.repositories.default] password_file {world.password_file} "
            f"{problem}"
        )
    assert not world.repo.exists()
