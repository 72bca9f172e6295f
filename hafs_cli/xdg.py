"""Per-user directories (XDG base directories, overridable with HAFS_*_DIR)."""

from __future__ import annotations

import os
from pathlib import Path


def _dir(hafs_var: str, xdg_var: str, fallback: str, create: bool) -> Path:
    explicit = os.environ.get(hafs_var)
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get(xdg_var) or str(Path.home() / fallback)
        path = Path(base) / "hafs"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir(create: bool = False) -> Path:
    return _dir("HAFS_CONFIG_DIR", "XDG_CONFIG_HOME", ".config", create)


def cache_dir(create: bool = True) -> Path:
    return _dir("HAFS_CACHE_DIR", "XDG_CACHE_HOME", ".cache", create)


def state_dir(create: bool = True) -> Path:
    return _dir("HAFS_STATE_DIR", "XDG_STATE_HOME", ".local/state", create)


def data_dir(create: bool = True) -> Path:
    return _dir("HAFS_DATA_DIR", "XDG_DATA_HOME", ".local/share", create)
