"""The optional C speed-ups (hafs_cli/_c*.c, built by hatch_build.py at install time).

Each has a pure-Python equivalent with the same results, so hafs works where they could
not be built. HAFS_NO_SPEEDUPS=1 turns them all off (the tests run both ways);
HAFS_REQUIRE_SPEEDUPS=1 makes a missing one an error instead (CI sets it, so a build
that silently fell back to pure Python cannot pass).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

MODULES = ("_cdedup", "_chash", "_cwalk")


def load(name: str) -> ModuleType | None:
    """hafs_cli.<name> when it is built and allowed, else None (use the Python path)."""
    if os.environ.get("HAFS_NO_SPEEDUPS"):
        return None
    try:
        return importlib.import_module(f"hafs_cli.{name}")
    except ImportError:
        if os.environ.get("HAFS_REQUIRE_SPEEDUPS"):
            raise
        return None
