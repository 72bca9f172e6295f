"""hafs hooks install/uninstall: where hooks go, legacy chaining, idempotence, core.hooksPath."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hafs_cli.schemas import validate_record
from tests.hooks.conftest import GITHUB_TOKEN, commit, git, head

LEGACY = b"#!/bin/sh\n# the team's own hook\necho legacy-ran >> legacy.log\nexit 0\n"


def install(hafs, repo: Path, *args: str):
    r = hafs("hooks", "install", "--repo", repo, "--format", "jsonl", *args)
    for rec in r.records:
        assert validate_record(rec) == []
    return r


def test_install_writes_an_executable_hook_into_the_common_dir(hafs, repo):
    r = install(hafs, repo)
    assert r.exit_code == 0
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert r.records == [
        {"kind": "hook_install", "hook": "pre-commit", "path": str(hook), "action": "installed"}
    ]
    assert hook.stat().st_mode & stat.S_IXUSR
    assert b"hafs-hook-marker" in hook.read_bytes()


def test_installing_again_changes_nothing(hafs, repo):
    install(hafs, repo)
    hook = repo / ".git" / "hooks" / "pre-commit"
    before = (hook.read_bytes(), hook.stat().st_mtime_ns)
    r = install(hafs, repo)
    assert [rec["action"] for rec in r.records] == ["unchanged"]
    assert (hook.read_bytes(), hook.stat().st_mtime_ns) == before
    assert not (repo / ".git" / "hooks" / "pre-commit.legacy").exists()


def test_hook_blocks_a_commit_with_a_secret(hafs, repo):
    install(hafs, repo)
    (repo / "deploy.env").write_text(f"GITHUB_TOKEN={GITHUB_TOKEN}\n")
    git(repo, "add", "deploy.env")
    before = head(repo)
    proc = commit(repo)
    assert proc.returncode == 1
    assert head(repo) == before
    assert b"deploy.env:1:14: secrets: GitHub token" in proc.stdout + proc.stderr
    assert GITHUB_TOKEN.encode() not in proc.stdout + proc.stderr


def test_no_verify_skips_the_hook(hafs, repo):
    install(hafs, repo)
    (repo / "deploy.env").write_text(f"GITHUB_TOKEN={GITHUB_TOKEN}\n")
    git(repo, "add", "deploy.env")
    assert commit(repo, "x", "--no-verify").returncode == 0


def test_foreign_hook_is_kept_as_legacy_and_runs_first(hafs, repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(LEGACY)
    os.chmod(hooks / "pre-commit", 0o750)
    r = install(hafs, repo)
    assert r.records[0]["action"] == "installed"
    assert r.records[0]["legacy"] == str(hooks / "pre-commit.legacy")
    assert (hooks / "pre-commit.legacy").read_bytes() == LEGACY
    (repo / "a.txt").write_text("hello\n")
    git(repo, "add", "a.txt")
    assert commit(repo).returncode == 0
    assert (repo / "legacy.log").read_text() == "legacy-ran\n"


def test_failing_legacy_hook_blocks_even_when_hafs_passes(hafs, repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(b"#!/bin/sh\necho 'legacy says no' >&2\nexit 7\n")
    os.chmod(hooks / "pre-commit", 0o755)
    install(hafs, repo)
    (repo / "a.txt").write_text("clean\n")
    git(repo, "add", "a.txt")
    before = head(repo)
    proc = commit(repo)
    assert proc.returncode != 0
    assert b"legacy says no" in proc.stderr
    assert head(repo) == before


def test_uninstall_restores_the_legacy_hook_byte_identical(hafs, repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(LEGACY)
    os.chmod(hooks / "pre-commit", 0o750)
    install(hafs, repo)
    install(hafs, repo)  # a second install must not chain the legacy hook twice
    r = hafs("hooks", "uninstall", "--repo", repo, "--format", "jsonl")
    assert r.exit_code == 0
    actions = {rec["hook"]: rec["action"] for rec in r.records}
    assert actions == {"pre-commit": "restored", "pre-push": "absent", "post-merge": "absent",
                       "post-checkout": "absent"}  # fmt: skip
    assert (hooks / "pre-commit").read_bytes() == LEGACY
    assert stat.S_IMODE((hooks / "pre-commit").stat().st_mode) == 0o750
    assert not (hooks / "pre-commit.legacy").exists()


def test_uninstall_leaves_foreign_hooks_alone(hafs, repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "post-merge").write_bytes(LEGACY)
    r = hafs("hooks", "uninstall", "--repo", repo, "--type", "post-merge", "--format", "jsonl")
    assert [rec["action"] for rec in r.records] == ["not-ours"]
    assert (hooks / "post-merge").read_bytes() == LEGACY


def test_refuses_when_legacy_slot_is_taken(hafs, repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(LEGACY)
    (hooks / "pre-commit.legacy").write_bytes(b"#!/bin/sh\nexit 0\n")
    r = install(hafs, repo)
    assert r.exit_code == 2
    assert b"pre-commit.legacy already exists" in r.stderr
    assert (hooks / "pre-commit").read_bytes() == LEGACY


def test_refuses_core_hooks_path_unless_asked(hafs, repo):
    git(repo, "config", "core.hooksPath", ".githooks")
    r = install(hafs, repo)
    assert r.exit_code == 2
    assert b"core.hooksPath is set to '.githooks'" in r.stderr
    assert b"--hooks-path" in r.stderr
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_installs_into_core_hooks_path_and_git_runs_it(hafs, repo):
    git(repo, "config", "core.hooksPath", ".githooks")
    r = install(hafs, repo, "--hooks-path")
    assert r.exit_code == 0
    assert r.records[0]["path"] == str(repo / ".githooks" / "pre-commit")
    (repo / "k.env").write_text(f"T={GITHUB_TOKEN}\n")
    git(repo, "add", "k.env")
    assert commit(repo).returncode == 1


def test_worktrees_share_the_hook(hafs, repo, tmp_path):
    tree = tmp_path / "feature"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tree))
    r = install(hafs, tree)  # installed from inside the worktree ...
    assert r.records[0]["path"] == str(repo / ".git" / "hooks" / "pre-commit")
    (tree / "leak.py").write_text(f'token = "{GITHUB_TOKEN}"\n')
    git(tree, "add", "leak.py")
    before = head(tree)
    proc = commit(tree)
    assert proc.returncode == 1  # ... and blocks a commit there
    assert head(tree) == before
    assert b"leak.py:1:10: secrets" in proc.stderr  # git sends hook output to stderr


def test_hook_falls_back_to_hafs_on_path(hafs, repo, tmp_path):
    import sys

    from hafs_cli.hooks.install import render

    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_bytes(render("pre-commit", python="/nonexistent/python3"))
    os.chmod(hook, 0o755)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "hafs").write_text(
        f'#!/bin/sh\necho via-path >&2\nexec "{sys.executable}" -m hafs_cli "$@"\n'
    )
    os.chmod(bindir / "hafs", 0o755)
    (repo / "k.env").write_text(f"T={GITHUB_TOKEN}\n")
    git(repo, "add", "k.env")
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    proc = git(repo, "commit", "-q", "-m", "x", check=False, env=env)
    assert proc.returncode == 1
    assert b"via-path" in proc.stderr
    proc = git(repo, "commit", "-q", "-m", "x", check=False, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert b"hafs not found" in proc.stderr


def test_pre_commit_framework_manifest_entries_run(hafs):
    """Every entry in .pre-commit-hooks.yaml is a hafs command line that exists."""
    import re
    import shlex

    manifest = (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text()
    entries = re.findall(r"^  entry: (.+)$", manifest, re.MULTILINE)
    ids = re.findall(r"^- id: (\S+)$", manifest, re.MULTILINE)
    assert len(entries) == len(ids) == 4
    for entry in entries:
        argv = shlex.split(entry)
        assert argv[0] == "hafs"
        r = hafs(*argv[1:], "--help")
        assert r.exit_code == 0, (entry, r.stderr)


def test_each_command_help_states_its_own_default_types(hafs, repo):
    uninstall_help = hafs("hooks", "uninstall", "--help").stdout
    assert b"default: all four" in uninstall_help
    assert b"default: pre-commit" in hafs("hooks", "install", "--help").stdout
    r = hafs("hooks", "uninstall", "--repo", repo, "--format", "jsonl")
    assert [rec["hook"] for rec in r.records] == [
        "pre-commit",
        "pre-push",
        "post-merge",
        "post-checkout",
    ]
