"""Shared test fixtures: an isolated environment for every test and a `hafs` runner."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hafs_cli import records

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def records(self) -> list[dict]:
        """stdout parsed as JSON Lines (fails the test on a bad line)."""
        return [records.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def errors(self) -> list[dict]:
        """The `error` records written to stderr."""
        out = []
        for line in self.stderr.splitlines():
            try:
                obj = records.loads(line)
            except Exception:
                continue
            if isinstance(obj, dict) and obj.get("kind") == "error":
                out.append(obj)
        return out

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Every test gets its own HOME, XDG directories and working directory, and no HAFS_*."""
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith("HAFS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    work = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(work)
    yield home


@pytest.fixture
def hafs():
    """Run the CLI in-process: hafs("dedup", "--only", input=b"...", env={...}, cwd=path)."""
    from click.testing import CliRunner

    from hafs_cli.cli import main

    def run(*args: str, input: bytes | str | None = None, env=None, cwd=None) -> Result:
        runner = CliRunner()
        code = 0
        with contextlib.ExitStack() as stack:
            if cwd is not None:
                stack.enter_context(contextlib.chdir(cwd))
            out, err, _ = stack.enter_context(runner.isolation(input=input, env=env))
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            return Result(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def hafs_cmd() -> list[str]:
    """argv prefix that runs hafs in a real subprocess (for pipes, signals and terminals)."""
    return [sys.executable, "-m", "hafs_cli"]
