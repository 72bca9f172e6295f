"""Fixtures for sync and remote scan: the loopback sshd, two trees, a hafs.toml that joins them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.sshd import (  # noqa: F401  (registers the fixtures)
    SshServer,
    real_ssh_dir_untouched,
    sshd,
)


def tree_state(root: Path, skip=(".hafs-trash", ".hafs-sync")) -> dict[str, str]:
    """relative path -> sha256 of the content (symlinks: '-> target'; dirs: '/')."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != "." and rel_dir.split(os.sep)[0] in skip:
            continue
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel.split(os.sep)[0] in skip:
                continue
            if os.path.islink(full):
                out[rel] = "-> " + os.readlink(full)
            elif os.path.isdir(full):
                out[rel] = "/"
            else:
                out[rel] = hashlib.sha256(Path(full).read_bytes()).hexdigest()
    return out


def toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class SyncSetup:
    server: SshServer
    local: Path
    remote: Path
    config: Path

    def profile(self, name: str = "p", **keys) -> str:
        """Append [sync.profiles.NAME] (local and remote filled in) to hafs.toml."""
        keys.setdefault("local", str(self.local))
        keys.setdefault("remote", f"box:{self.remote}")
        lines = [f"\n[sync.profiles.{name}]"]
        for key, value in keys.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            elif isinstance(value, list):
                lines.append(f"{key} = [{', '.join(toml_str(v) for v in value)}]")
            else:
                lines.append(f"{key} = {toml_str(value)}")
        with self.config.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        return name


@pytest.fixture
def setup(sshd, tmp_path, isolated_env) -> SyncSetup:  # noqa: F811
    """hafs.toml in the working directory with [hosts.box] = the loopback sshd."""
    local = tmp_path / "local"
    remote = tmp_path / "remote"
    local.mkdir()
    remote.mkdir()
    config = Path.cwd() / "hafs.toml"
    config.write_text(
        "[hosts.box]\n"
        f"address = {toml_str(sshd.alias)}\n"
        f"ssh_config = {toml_str(str(sshd.ssh_config))}\n"
        f"hafs_command = {toml_str(f'{Path(os.sys.executable)} -m hafs_cli')}\n"
    )
    return SyncSetup(sshd, local, remote, config)


@pytest.fixture
def write():
    def write(root: Path, rel: str, content: str | bytes = "x", mtime: float | None = None):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    return write
