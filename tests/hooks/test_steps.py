"""Declarative steps: post-training, post-merge, pre-push and user steps in pre-commit."""

from __future__ import annotations

import os
from pathlib import Path

from hafs_cli.schemas import validate_record
from tests.hooks.conftest import commit, git, make_repo

STEPS = """
[hooks.steps.first]
run = "echo first >> steps.log"

[hooks.steps.broken]
run = "echo broken >> steps.log; exit 3"
description = "a step that fails"

[hooks.steps.last]
run = "echo last >> steps.log"
"""


def write_config(repo: Path, text: str) -> None:
    (repo / "hafs.toml").write_text(text)


def run_hook(hafs, repo: Path, hook: str, *args: str, env=None):
    r = hafs("hooks", "run", hook, "--format", "jsonl", *args, cwd=repo, env=env)
    for rec in r.records:
        assert validate_record(rec) == [], rec
    return r


def statuses(r) -> list[tuple[str, str]]:
    return [(rec["step"], rec["status"]) for rec in r.records if rec["kind"] == "hook_step"]


def test_post_training_runs_steps_in_order_and_continues(hafs, repo):
    write_config(repo, '[hooks.post-training]\nsteps = ["first", "broken", "last"]\n'
                 'on_failure = "continue"\n' + STEPS)  # fmt: skip
    r = run_hook(hafs, repo, "post-training")
    assert r.exit_code == 1
    assert statuses(r) == [("first", "passed"), ("broken", "failed"), ("last", "passed")]
    broken = [rec for rec in r.records if rec.get("step") == "broken"][0]
    assert (broken["exit_code"], broken["reason"]) == (3, "a step that fails")
    assert (repo / "steps.log").read_text() == "first\nbroken\nlast\n"


def test_on_failure_stop_skips_the_rest(hafs, repo):
    write_config(repo, '[hooks.post-training]\nsteps = ["first", "broken", "last"]\n'
                 'on_failure = "stop"\n' + STEPS)  # fmt: skip
    r = run_hook(hafs, repo, "post-training")
    assert r.exit_code == 1
    assert statuses(r) == [("first", "passed"), ("broken", "failed"), ("last", "skipped")]
    assert (repo / "steps.log").read_text() == "first\nbroken\n"


def test_a_step_can_be_a_hafs_pipeline(hafs, repo):
    write_config(repo, '[hooks.post-training]\nsteps = ["rules"]\n[hooks.steps.rules]\n'
                 'run = "hafs secrets rules --format jsonl | grep -c secret_rule > count.txt"\n')  # fmt: skip
    r = run_hook(hafs, repo, "post-training", env={"PATH": "/usr/bin:/bin"})  # hafs not on PATH
    assert r.exit_code == 0, r.stderr
    from hafs_cli.secrets.rules import rule_ids

    assert int((repo / "count.txt").read_text()) == len(rule_ids())


def test_user_step_output_stays_off_jsonl_stdout(hafs, repo):
    write_config(
        repo, '[hooks.post-training]\nsteps = ["talk"]\n[hooks.steps.talk]\nrun = "echo hello"\n'
    )
    r = run_hook(hafs, repo, "post-training")
    assert b"hello" in r.stderr
    assert all(isinstance(rec, dict) for rec in r.records)


def test_unknown_step_is_a_configuration_error(hafs, repo):
    write_config(repo, '[hooks.post-training]\nsteps = ["nope"]\n')
    r = run_hook(hafs, repo, "post-training")
    assert r.exit_code == 2
    assert b"names step 'nope', which is neither built in nor defined" in r.stderr


def test_builtin_checks_belong_to_pre_commit(hafs, repo):
    write_config(repo, '[hooks.post-merge]\nsteps = ["secrets"]\n')
    r = run_hook(hafs, repo, "post-merge")
    assert r.exit_code == 2
    assert b"pre-commit check of staged files" in r.stderr


def test_step_timeout_fails_the_step(hafs, repo):
    write_config(repo, '[hooks.post-training]\nsteps = ["slow"]\n'
                 '[hooks.steps.slow]\nrun = "sleep 5"\ntimeout_s = 0.3\n')  # fmt: skip
    r = run_hook(hafs, repo, "post-training")
    assert r.exit_code == 1
    [step] = [rec for rec in r.records if rec["kind"] == "hook_step"]
    assert step["reason"] == "timed out after 0.3 s"


def test_pre_commit_user_step_gets_matching_staged_files(hafs, repo):
    write_config(repo, '[hooks.pre-commit]\nsteps = ["list"]\n[hooks.steps.list]\n'
                 'run = "printf \'%s\\\\n\' > listed.txt"\nfiles = "\\\\.py$"\npass_files = true\n')  # fmt: skip
    (repo / "a.py").write_text("x = 1\n")
    (repo / "b b.py").write_text("y = 2\n")
    (repo / "c.md").write_text("z\n")
    git(repo, "add", "a.py", "b b.py", "c.md")
    r = run_hook(hafs, repo, "pre-commit")
    assert r.exit_code == 0, r.stderr
    assert (repo / "listed.txt").read_text() == "a.py\nb b.py\n"


def test_a_staged_file_named_like_an_option_is_passed_as_a_path(hafs, repo):
    write_config(repo, '[hooks.pre-commit]\nsteps = ["list"]\n[hooks.steps.list]\n'
                 'run = "ls -d > listed.txt"\nfiles = "\\\\.py$"\npass_files = true\n')  # fmt: skip
    (repo / "-l.py").write_text("x = 1\n")
    git(repo, "add", "--", "-l.py")
    r = run_hook(hafs, repo, "pre-commit")
    assert r.exit_code == 0, r.stderr
    assert (repo / "listed.txt").read_text() == "./-l.py\n"  # not `ls -d -l.py` (a long listing)


def test_pre_commit_user_step_skipped_without_matching_files(hafs, repo):
    write_config(repo, '[hooks.pre-commit]\nsteps = ["never"]\n[hooks.steps.never]\n'
                 'run = "exit 1"\nfiles = "\\\\.rs$"\n')  # fmt: skip
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "add", "a.py")
    r = run_hook(hafs, repo, "pre-commit")
    assert r.exit_code == 0
    assert statuses(r) == [("never", "skipped")]


def test_post_merge_hook_runs_after_a_real_merge(hafs, repo, tmp_path):
    write_config(repo, '[hooks.post-merge]\nsteps = ["mark"]\n[hooks.steps.mark]\n'
                 'run = "echo \\"merged $HAFS_HOOK_ARGS\\" > merged.txt"\n')  # fmt: skip
    r = hafs("hooks", "install", "--type", "post-merge", "--repo", repo, "--format", "jsonl")
    assert r.exit_code == 0
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "topic.txt").write_text("t\n")
    git(repo, "add", "topic.txt")
    git(repo, "commit", "-q", "-m", "topic")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    assert (repo / "merged.txt").read_text() == "merged 0\n"  # git passes the squash flag


def test_pre_push_hands_stdin_to_legacy_and_hafs(hafs, repo, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-push").write_text("#!/bin/sh\ncat > legacy-stdin.txt\n")
    os.chmod(hooks / "pre-push", 0o755)
    write_config(
        repo,
        '[hooks.pre-push]\nsteps = ["refs"]\n[hooks.steps.refs]\nrun = "cat > hafs-stdin.txt"\n',
    )
    hafs("hooks", "install", "--type", "pre-push", "--repo", repo)
    git(repo, "push", "-q", "origin", "main")
    legacy = (repo / "legacy-stdin.txt").read_text()
    assert legacy.startswith("refs/heads/main ")
    assert (repo / "hafs-stdin.txt").read_text() == legacy


def test_failing_pre_push_step_stops_the_push(hafs, repo, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    write_config(repo, '[hooks.pre-push]\nsteps = ["no"]\n[hooks.steps.no]\nrun = "exit 1"\n')
    hafs("hooks", "install", "--type", "pre-push", "--repo", repo)
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode != 0
    assert (
        git(remote, "rev-parse", "--verify", "-q", "refs/heads/main", check=False).returncode != 0
    )


def test_post_training_outside_git_uses_the_current_folder(hafs, tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    write_config(
        work, '[hooks.post-training]\nsteps = ["m"]\n[hooks.steps.m]\nrun = "pwd > where.txt"\n'
    )
    r = run_hook(hafs, work, "post-training")
    assert r.exit_code == 0
    assert Path((work / "where.txt").read_text().strip()).resolve() == work.resolve()


def test_commit_in_a_fresh_repository_without_head(hafs, tmp_path):
    fresh = make_repo(tmp_path / "fresh")
    hafs("hooks", "install", "--repo", fresh)
    (fresh / "ok.txt").write_text("ok\n")
    git(fresh, "add", "ok.txt")
    assert commit(fresh).returncode == 0
