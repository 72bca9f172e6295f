from __future__ import annotations

from pathlib import Path

import pytest

from hafs_cli.asm import validate_text

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = FIXTURES / "project"


def codes(src: str, severity: str | None = "error", **config) -> list[tuple[int, str]]:
    """(line, code) of each diagnostic of `severity` (None: all) for a snippet."""
    return [
        (d.line, d.code)
        for d in validate_text(src, "snippet.asm", config=config or None)
        if severity is None or d.severity == severity
    ]


@pytest.fixture
def project() -> Path:
    return PROJECT
