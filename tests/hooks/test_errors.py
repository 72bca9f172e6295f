"""What hooks and secrets --staged say when git, the repository or its folder is missing."""

from __future__ import annotations

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
