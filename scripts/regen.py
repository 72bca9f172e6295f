#!/usr/bin/env python3
"""Regenerate derived files: the assembled config schema, hafs.toml and completions/.

Usage: python scripts/regen.py [--check]   (--check: exit 1 if anything is stale)
Tests call the same functions, so a stale file fails the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hafs_cli.gen import generated_files  # noqa: E402


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for rel, content in generated_files(ROOT).items():
        path = ROOT / rel
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != content:
            stale.append(rel)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    for rel in stale:
        print(("stale: " if check else "wrote: ") + rel)
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
