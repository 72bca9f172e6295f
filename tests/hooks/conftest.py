"""Real git repositories in temporary folders, and helpers to commit through real hooks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Values that look like real credentials (random, fake) for planting in repositories.
GITHUB_TOKEN = "ghp_Q3vT8mXk2LpR7wZ9nB4cY6dF1hJ5sA0eU2iO"
AWS_KEY_ID = "AKIAQ7XK2PLMZR4TW9BN"


def git(
    repo: Path, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, env=full_env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.test")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "commit.gpgsign", "false")
    return path


def head(repo: Path) -> str | None:
    proc = git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False)
    return proc.stdout.decode().strip() or None


def commit(repo: Path, message: str = "change", *extra: str) -> subprocess.CompletedProcess:
    """git commit through the installed hooks; returns the finished process."""
    return git(repo, "commit", "-q", "-m", message, *extra, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit (README), hafs hooks not installed yet."""
    r = make_repo(tmp_path / "repo")
    (r / "README.md").write_text("# project\n")
    git(r, "add", "README.md")
    git(r, "commit", "-q", "-m", "init")
    return r
