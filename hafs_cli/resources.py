"""Files shipped with hafs (schemas, hook templates, the documented hafs.toml)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_path(relative: str) -> Path:
    """Locate a shipped file: inside an installed wheel, or at the source tree's root."""
    bundled = _PKG / "_data" / relative
    if bundled.exists():
        return bundled
    return _PKG.parent / relative
