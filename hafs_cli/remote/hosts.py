"""Which machine a spec names: [hosts.NAME] tables and `user@host:path` strings."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace

from hafs_cli import exits
from hafs_cli.exits import HafsError

HOST_DEFAULTS = {
    "address": "",
    "user": "",
    "port": 0,
    "identity_file": "",
    "ssh_config": "",
    "known_hosts": "",
    "host_key_policy": "reject",
    "transport": "auto",
    "rsync_path": "rsync",
    "hafs_command": "hafs",
    "connect_timeout": 15,
    "tags": [],
}

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class Host:
    """An SSH destination and how to reach it (empty strings: let ssh decide)."""

    name: str
    address: str
    user: str = ""
    port: int = 0
    identity_file: str = ""
    ssh_config: str = ""
    known_hosts: str = ""
    host_key_policy: str = "reject"
    transport: str = "auto"
    rsync_path: str = "rsync"
    hafs_command: str = "hafs"
    connect_timeout: int = 15
    tags: tuple[str, ...] = field(default_factory=tuple)

    def ssh_config_file(self) -> str | None:
        """The ssh_config file both transports read (None: there is none)."""
        path = os.path.expanduser(self.ssh_config or "~/.ssh/config")
        if self.ssh_config and not os.path.isfile(path):
            raise HafsError(
                f"[hosts.{self.name}] ssh_config {path} does not exist; correct the path, or "
                "leave it empty to use ~/.ssh/config",
                exits.USAGE,
            )
        return path if os.path.isfile(path) else None

    def identity_path(self) -> str:
        """The configured private key file, checked ('' when none is configured)."""
        if not self.identity_file:
            return ""
        path = os.path.expanduser(self.identity_file)
        if not os.path.isfile(path):
            raise HafsError(
                f"[hosts.{self.name}] identity_file {path} does not exist; correct the path, "
                "or leave it empty to use the ssh config and ssh's default keys",
                exits.USAGE,
            )
        return path

    def with_transport(self, transport: str) -> Host:
        return self if transport in ("", "auto") else replace(self, transport=transport)


def host_from_table(name: str, table: dict) -> Host:
    """A Host from one [hosts.NAME] table (missing keys take their defaults)."""
    values = {**HOST_DEFAULTS, **(table or {})}
    unknown = set(values) - set(HOST_DEFAULTS)
    if unknown:
        raise HafsError(
            f"[hosts.{name}]: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known keys: {', '.join(HOST_DEFAULTS)}"
        )
    values["tags"] = tuple(values["tags"] or ())
    return Host(name=name, **{**values, "address": values["address"] or name})


def is_remote_spec(arg: str) -> bool:
    """True for HOST:PATH / user@host:PATH (not a local path, not a Windows drive letter)."""
    if _WINDOWS_DRIVE.match(arg) or os.path.exists(arg):
        return False
    head, sep, _ = arg.partition(":")
    return bool(sep) and bool(head) and "/" not in head and "\\" not in head


def parse_remote(spec: str, hosts: dict | None) -> tuple[Host, str]:
    """`NAME:path` (NAME in [hosts]) or `[user@]host[:port-less]:path` -> (Host, remote path)."""
    hosts = hosts or {}
    if spec.partition(":")[0].rpartition("@")[2] not in hosts and not is_remote_spec(spec):
        raise HafsError(
            f"{spec!r} is not a remote location; write HOST:PATH or user@host:PATH "
            "(HOST may be a [hosts] name or an ~/.ssh/config alias)"
        )
    if spec.startswith("["):  # [ipv6]:path
        end = spec.find("]:")
        if end < 0:
            raise HafsError(f"{spec!r}: write an IPv6 address as [ADDR]:PATH")
        target, path = spec[1:end], spec[end + 2 :]
    else:
        target, _, path = spec.partition(":")
    user, _, hostpart = target.rpartition("@")
    if hostpart in hosts:
        host = host_from_table(hostpart, hosts[hostpart])
        if user:
            host = replace(host, user=user)
    else:
        host = host_from_table(hostpart, {"user": user})
    return host, path or "."


def lookup_host(name: str, hosts: dict | None) -> Host:
    """The Host named `name` in [hosts], or an ad-hoc one for an ssh alias or address."""
    hosts = hosts or {}
    if name in hosts:
        return host_from_table(name, hosts[name])
    user, _, hostpart = name.rpartition("@")
    return host_from_table(hostpart, {"user": user})


def require_hosts_table(config) -> dict:
    """The [hosts] table of a Config (or {} when absent)."""
    hosts = config.section("hosts") if config is not None else {}
    if not isinstance(hosts, dict):
        raise HafsError("[hosts] must be a table of [hosts.NAME] tables", exits.USAGE)
    return hosts
