"""A sync profile ([sync.profiles.NAME] with command-line overrides) and its lock."""

from __future__ import annotations

import fcntl
import os
import re
import socket
from dataclasses import dataclass

from hafs_cli import exits, xdg
from hafs_cli.exits import HafsError
from hafs_cli.remote.hosts import Host, parse_remote
from hafs_cli.remote.listing import Excludes


@dataclass
class Profile:
    name: str
    local: str
    remote: str
    host: Host
    remote_path: str
    direction: str
    excludes: Excludes
    delete: bool
    bwlimit: str
    max_delete: int
    trash_dir: str


def load_profile(name: str, sync_cfg: dict, hosts: dict, overrides: dict) -> Profile:
    """The profile [sync.profiles.NAME] with command-line overrides applied."""
    profiles = sync_cfg.get("profiles") or {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise HafsError(
            f"no sync profile {name!r} (profiles: {known}); add [sync.profiles.{name}] with "
            "local and remote to hafs.toml",
            exits.USAGE,
        )
    prof = {**profiles[name], **{k: v for k, v in overrides.items() if v is not None}}
    if not prof.get("local") or not prof.get("remote"):
        raise HafsError(f"[sync.profiles.{name}] needs both local and remote", exits.USAGE)
    host, remote_path = parse_remote(prof["remote"], hosts)
    host = host.with_transport(prof.get("transport", "auto"))
    patterns = list(prof.get("excludes") or [])
    if prof.get("use_default_excludes", True):
        patterns = list(sync_cfg.get("default_excludes") or []) + patterns
    trash = sync_cfg.get("trash_dir") or ".hafs-trash"
    max_delete = prof.get("max_delete", -1)
    if max_delete is None or max_delete < 0:
        max_delete = sync_cfg.get("max_delete", 1000)
    bwlimit = str(prof.get("bwlimit") or "")
    _check_rate(name, bwlimit)
    return Profile(
        name=name,
        local=os.path.abspath(os.path.expanduser(prof["local"])),
        remote=prof["remote"],
        host=host,
        remote_path=remote_path,
        direction=prof.get("direction", "push"),
        excludes=Excludes(patterns, trash),
        delete=bool(prof.get("delete", False)),
        bwlimit=bwlimit,
        max_delete=int(max_delete),
        trash_dir=trash,
    )


def _check_rate(name: str, text: str) -> None:
    """A bandwidth limit both transports understand (rsync --bwlimit syntax), or a usage error."""
    from hafs_cli.remote.sftp import parse_rate

    try:
        ok = parse_rate(text) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise HafsError(
            f"sync {name}: bad bandwidth limit {text!r} (--bwlimit or [sync.profiles.{name}] "
            "bwlimit); write a rate per second such as 500K or 5M (a plain number is KiB/s)",
            exits.USAGE,
        )


class ProfileLock:
    """One sync per profile at a time (flock on a file under the XDG state directory)."""

    def __init__(self, profile: str):
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", profile)
        self.path = xdg.state_dir() / "sync" / f"{safe}.lock"
        self.profile = profile
        self.fh = None

    def __enter__(self) -> ProfileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a+")  # noqa: SIM115
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            raise HafsError(
                f"sync profile {self.profile!r} is already running ({holder}); wait for it to "
                f"finish (lock: {self.path})",
                exits.RUNTIME,
            ) from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()
