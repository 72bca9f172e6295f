"""Which restic repository a command works on: its URL, its SSH transport, its password.

The password is never put on restic's command line: a password file is handed over as
RESTIC_PASSWORD_FILE; a password from an environment variable or the keyring reaches
restic through an inherited pipe read as /dev/fd/N (see Restic._spawn).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from hafs_cli import exits
from hafs_cli.backup.restic import Restic, find_restic
from hafs_cli.exits import HafsError


@dataclass(frozen=True)
class RepoConfig:
    name: str
    url: str
    password_file: str = ""
    password_env: str = ""
    password_keyring: str = ""


def repo_config(section: dict, name: str | None) -> RepoConfig:
    """The [backup.repositories.NAME] table (NAME defaults to [backup] repository)."""
    repos = section.get("repositories") or {}
    name = name or section.get("repository") or "default"
    if name not in repos:
        known = ", ".join(sorted(repos)) or "none configured"
        raise HafsError(
            f"no backup repository '{name}' in [backup.repositories] (known: {known}); "
            f'add [backup.repositories.{name}] with url = "..." to hafs.toml',
            exits.USAGE,
        )
    table = repos[name]
    if not table.get("url"):
        raise HafsError(f"[backup.repositories.{name}] has no url", exits.USAGE)
    return RepoConfig(
        name=name,
        url=table["url"],
        password_file=table.get("password_file", ""),
        password_env=table.get("password_env", ""),
        password_keyring=table.get("password_keyring", ""),
    )


def open_repository(section: dict, hosts: dict, name: str | None = None) -> Restic:
    """A Restic driver for a configured repository, ready to run."""
    cfg = repo_config(section, name)
    program = find_restic(section.get("restic") or "restic")
    url, options, host = _location(cfg, hosts)
    env, password, source = _password(cfg)
    return Restic(
        program=program,
        repository=url,
        name=cfg.name,
        options=options,
        env=env,
        password=password,
        password_source=source,
        host=host,
    )


def is_local(url: str) -> bool:
    """True when the repository is a directory on this machine."""
    return not url.startswith(
        ("sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")
    )


def local_path(url: str) -> str:
    return os.path.abspath(os.path.expanduser(url.removeprefix("local:")))


def _location(cfg: RepoConfig, hosts: dict) -> tuple[str, list[str], object]:
    """The URL restic gets, its -o options (sftp.command with the [hosts] rules), the Host."""
    url = cfg.url
    if is_local(url):
        return local_path(url), [], None
    if not url.startswith("sftp:"):
        return url, [], None
    rest = url[len("sftp:") :]
    if rest.startswith("//"):
        raise HafsError(
            f"[backup.repositories.{cfg.name}] url {url!r}: write sftp:HOST:/path "
            "(HOST a [hosts] name or an ssh alias) so that the [hosts] rules apply",
            exits.USAGE,
        )
    host_name, sep, path = rest.partition(":")
    if not sep or not path:
        raise HafsError(
            f"[backup.repositories.{cfg.name}] url {url!r} has no path; write sftp:HOST:/path",
            exits.USAGE,
        )
    from hafs_cli.remote.hosts import lookup_host
    from hafs_cli.remote.ssh import ssh_argv

    host = lookup_host(host_name, hosts)
    command = shlex.join(ssh_argv(host, "-s", "sftp"))
    return f"sftp:{host_name}:{path}", [f"sftp.command={command}"], host


def _password(cfg: RepoConfig) -> tuple[dict[str, str], str | None, str]:
    """(environment for restic, password held in memory, where it came from)."""
    where = f"[backup.repositories.{cfg.name}]"
    if cfg.password_file:
        path = os.path.abspath(os.path.expanduser(cfg.password_file))
        if os.path.isdir(path):
            raise HafsError(
                f"{where} password_file {path} is a folder, not a file; set password_file to "
                "the file that holds the repository password",
                exits.USAGE,
            )
        if os.path.isfile(path) and not _password_text(path):
            raise HafsError(
                f"{where} password_file {path} is empty (restic refuses an empty password); "
                "write the repository password into it",
                exits.USAGE,
            )
        if not os.path.isfile(path):
            raise HafsError(
                f"{where} password_file {path} does not exist; create it "
                f"(e.g. 'umask 077; head -c 32 /dev/urandom | base64 > {path}') and keep a copy "
                "somewhere safe: without it the backups cannot be read",
                exits.USAGE,
            )
        return {"RESTIC_PASSWORD_FILE": path}, None, f"password_file {path}"
    if cfg.password_env:
        value = os.environ.get(cfg.password_env)
        if not value:
            raise HafsError(
                f"{where} password_env names ${cfg.password_env}, which is not set or empty",
                exits.USAGE,
            )
        return {}, value, f"environment variable ${cfg.password_env}"
    if cfg.password_keyring:
        value = _keyring_password(cfg.password_keyring, cfg.name, where)
        return {}, value, f"keyring entry {cfg.password_keyring}/{cfg.name}"
    raise HafsError(
        f"{where} has no password source; set password_file, password_env or password_keyring",
        exits.USAGE,
    )


def _password_text(path: str) -> str:
    """What restic takes from a password file: its content without surrounding blanks."""
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 16).strip().decode(errors="replace")
    except OSError:
        return "?"  # unreadable: restic reports that itself


def _keyring_password(service: str, username: str, where: str) -> str:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise HafsError(
            f"{where} password_keyring needs the Python 'keyring' package "
            "(pip install keyring); or use password_file / password_env",
            exits.USAGE,
        ) from None
    try:
        value = keyring.get_password(service, username)
    except keyring.errors.KeyringError as exc:
        raise HafsError(f"{where}: the keyring failed: {exc}", exits.RUNTIME) from None
    if not value:
        raise HafsError(
            f"{where}: no keyring entry for service '{service}', user '{username}'; store one "
            f"with 'keyring set {service} {username}'",
            exits.USAGE,
        )
    return value


def hostname() -> str:
    """This machine's name as restic records it in locks (os.Hostname)."""
    import socket

    return socket.gethostname()
