"""What hooks and secrets --staged say when git, the repository or its folder is missing."""

from __future__ import annotations

import subprocess

import pytest

CASES = [
    ("hooks", "install"),
    ("hooks", "uninstall"),
    ("hooks", "run", "pre-commit"),
    ("secrets", "scan", "--staged"),
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_outside_a_repository_says_so_and_what_to_do(hafs, tmp_path, args):
    r = hafs(*args, cwd=tmp_path)
    assert r.exit_code == 2
    assert r.stderr.decode() == (
        f"hafs: error: {tmp_path} is not in a git repository: "
        "run this inside one, or pass --repo DIR\n"
    )


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_a_repo_folder_that_does_not_exist_is_a_usage_error(hafs, tmp_path, args):
    r = hafs(*args, "--repo", tmp_path / "gone")
    assert r.exit_code == 2
    err = r.stderr.decode()
    assert err.startswith("hafs: error: ") and "does not exist" in err, err
    assert "internal error" not in err


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_without_git_it_is_a_runtime_error_that_says_install_git(hafs, repo, tmp_path, args):
    r = hafs(*args, cwd=repo, env={"PATH": str(tmp_path / "empty-bin")})
    assert r.exit_code == 3
    assert r.stderr.decode() == (
        "hafs: error: git is not installed or not on PATH: install git (e.g. apt-get install git)\n"
    )


def test_a_hooks_folder_that_is_a_file_is_a_usage_error(hafs, repo):
    (repo / "hooksfile").write_text("not a folder\n")
    subprocess.run(["git", "config", "core.hooksPath", "hooksfile"], cwd=repo, check=True)
    r = hafs("hooks", "install", "--hooks-path", cwd=repo)
    assert r.exit_code == 2
    assert r.stderr.decode() == (
        f"hafs: error: {repo / 'hooksfile'} is not a folder, so no hooks can go there: "
        "move it away\n"
    )


def test_a_hooks_folder_that_cannot_be_written_is_a_usage_error(hafs, repo):
    """A file where the folder's parent should be: mkdir fails with an OSError."""
    (repo / "blocker").write_text("x\n")
    subprocess.run(["git", "config", "core.hooksPath", "blocker/hooks"], cwd=repo, check=True)
    r = hafs("hooks", "install", "--hooks-path", cwd=repo)
    assert r.exit_code == 2
    err = r.stderr.decode()
    assert err.startswith(f"hafs: error: cannot write hooks in {repo / 'blocker' / 'hooks'}"), err
