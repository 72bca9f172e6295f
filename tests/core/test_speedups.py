"""The optional C speed-ups: built where CI runs, switchable off, never required by hafs."""

from __future__ import annotations

import os

import pytest

from hafs_cli import speedups


@pytest.mark.skipif(
    not os.environ.get("HAFS_REQUIRE_SPEEDUPS"),
    reason="set HAFS_REQUIRE_SPEEDUPS=1 (CI does) to require the C modules",
)
@pytest.mark.parametrize("name", speedups.MODULES)
def test_every_c_module_is_built(name):
    module = speedups.load(name)
    assert module is not None and module.__name__ == f"hafs_cli.{name}"


def test_the_switch_turns_every_module_off(monkeypatch):
    monkeypatch.setenv("HAFS_NO_SPEEDUPS", "1")
    monkeypatch.setenv("HAFS_REQUIRE_SPEEDUPS", "1")
    assert [speedups.load(name) for name in speedups.MODULES] == [None] * len(speedups.MODULES)


def test_a_missing_module_is_none_unless_required(monkeypatch):
    monkeypatch.delenv("HAFS_NO_SPEEDUPS", raising=False)
    monkeypatch.delenv("HAFS_REQUIRE_SPEEDUPS", raising=False)
    assert speedups.load("_cnot_there") is None
    monkeypatch.setenv("HAFS_REQUIRE_SPEEDUPS", "1")
    with pytest.raises(ImportError):
        speedups.load("_cnot_there")


def test_the_build_hook_builds_what_speedups_lists():
    from pathlib import Path

    sources = sorted(p.stem for p in (Path(__file__).parents[2] / "hafs_cli").glob("_c*.c"))
    assert sources == sorted(speedups.MODULES)
