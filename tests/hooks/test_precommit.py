"""hafs hooks run pre-commit: the built-in checks read the index, not the working tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hafs_cli.schemas import validate_record
from tests.hooks.conftest import AWS_KEY_ID, GITHUB_TOKEN, commit, git, head


@pytest.fixture
def hooked(hafs, repo) -> Path:
    r = hafs("hooks", "install", "--repo", repo, "--format", "jsonl")
    assert r.exit_code == 0
    return repo


def run_precommit(hafs, repo: Path, *args: str, env=None):
    r = hafs("hooks", "run", "pre-commit", "--format", "jsonl", *args, cwd=repo, env=env)
    for rec in r.records:
        assert validate_record(rec) == [], rec
    return r


def findings(r) -> list[tuple[str, int, int, str]]:
    return [
        (f["path"], f["line"], f["column"], f["rule"]) for f in r.records if f["kind"] == "finding"
    ]


def test_clean_commit_passes(hooked):
    (hooked / "notes.md").write_text("nothing secret here\n")
    git(hooked, "add", "notes.md")
    assert commit(hooked).returncode == 0


def test_secret_only_in_the_working_tree_does_not_block(hooked):
    """Partial staging: the index holds the clean version; the worktree has a secret."""
    path = hooked / "app.py"
    path.write_text("x = 1\n")
    git(hooked, "add", "app.py")
    path.write_text(f'x = 1\ntoken = "{GITHUB_TOKEN}"\n')  # not staged
    assert commit(hooked).returncode == 0
    assert git(hooked, "show", "HEAD:app.py").stdout == b"x = 1\n"


def test_secret_in_the_index_blocks_though_the_worktree_is_clean(hooked):
    path = hooked / "app.py"
    path.write_text(f'x = 1\ntoken = "{GITHUB_TOKEN}"\n')
    git(hooked, "add", "app.py")
    path.write_text("x = 1\n")  # cleaned in the worktree only: the commit would still leak it
    before = head(hooked)
    proc = commit(hooked)
    assert proc.returncode == 1
    assert b"app.py:2:10: secrets" in proc.stderr
    assert head(hooked) == before


def test_partially_staged_hunks(hafs, repo):
    """Two hunks, one staged: only the staged hunk's secret is reported, at its index line."""
    path = repo / "settings.py"
    path.write_text("".join(f"line{i} = {i}\n" for i in range(1, 21)))
    git(repo, "add", "settings.py")
    git(repo, "commit", "-q", "-m", "settings")
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = f'aws_key = "{AWS_KEY_ID}"\n'
    lines[17] = f'token = "{GITHUB_TOKEN}"\n'
    path.write_text("".join(lines))
    patch = git(repo, "diff", "-U0", "settings.py").stdout.decode()
    first_hunk = patch.split("@@ -18")[0]  # header + the hunk at line 3
    proc = subprocess.run(
        ["git", "apply", "--cached", "--unidiff-zero", "-"], cwd=repo, input=first_hunk.encode(),
        capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = run_precommit(hafs, repo)
    assert r.exit_code == 1
    assert findings(r) == [("settings.py", 3, 12, "secrets/aws-access-key-id")]


def test_only_added_lines_are_checked(hafs, repo):
    """A secret already committed (accepted long ago) does not block unrelated edits."""
    path = repo / "legacy.env"
    path.write_text(f"OLD={GITHUB_TOKEN}\nA=1\n")
    git(repo, "add", "legacy.env")
    git(repo, "commit", "-q", "-m", "old")
    path.write_text(f"OLD={GITHUB_TOKEN}\nA=2\n")
    git(repo, "add", "legacy.env")
    r = run_precommit(hafs, repo)
    assert r.exit_code == 0
    assert findings(r) == []


def test_toml_syntax_error_reports_line_and_column(hafs, repo):
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = \n')
    git(repo, "add", "pyproject.toml")
    r = run_precommit(hafs, repo)
    assert r.exit_code == 1
    [problem] = [rec for rec in r.records if rec["kind"] == "finding"]
    assert (problem["path"], problem["line"], problem["column"], problem["rule"]) == (
        "pyproject.toml",
        3,
        11,
        "hooks/toml",
    )
    assert "Invalid value" in problem["message"]


def test_toml_nested_too_deeply_is_a_problem_not_a_crash(hafs, repo):
    (repo / "deep.toml").write_text("a = " + "[" * 20000 + "]" * 20000 + "\n")
    git(repo, "add", "deep.toml")
    r = run_precommit(hafs, repo)
    assert r.exit_code == 1, r.stderr
    assert findings(r) == [("deep.toml", 1, 1, "hooks/toml")]


def test_staged_hafs_toml_passes_config_check(hafs, repo):
    (repo / "hafs.toml").write_text('[secrets]\nbaseline = ".b.json"\nmax_file_byte = 10\n')
    git(repo, "add", "hafs.toml")
    (repo / "hafs.toml").write_text("")  # the working copy is fine; the staged one is not
    r = run_precommit(hafs, repo)
    assert r.exit_code == 1
    [problem] = [rec for rec in r.records if rec["kind"] == "finding"]
    assert (problem["path"], problem["line"], problem["rule"]) == (
        "hafs.toml",
        3,
        "hooks/hafs-config",
    )
    assert "did you mean 'max_file_bytes'" in problem["message"]


def test_jsonl_records_are_checked_against_their_schema(hafs, repo):
    (repo / "data.jsonl").write_text(
        '{"kind": "finding", "rule": "x"}\n'
        '{"kind": "finding"}\n'
        '{"text": "a training sample without kind"}\n'
        "{broken\n"
    )
    git(repo, "add", "data.jsonl")
    r = run_precommit(hafs, repo)
    assert r.exit_code == 1
    got = [(f["line"], f["rule"]) for f in r.records if f["kind"] == "finding"]
    assert got == [(2, "hooks/jsonl-schema"), (4, "hooks/jsonl")]


def test_jsonl_problems_never_quote_a_secret(hafs, repo):
    (repo / "data.jsonl").write_text(
        f'token = "{GITHUB_TOKEN}"\n{{"kind": "file", "path": "x", "size": "{GITHUB_TOKEN}"}}\n'
    )
    git(repo, "add", "data.jsonl")
    for fmt in ("jsonl", "text"):
        r = hafs("hooks", "run", "pre-commit", "--format", fmt, cwd=repo)
        assert r.exit_code == 1
        assert GITHUB_TOKEN.encode() not in r.stdout + r.stderr
        if fmt == "jsonl":
            jsonl_steps = [f for f in r.records if f["kind"] == "finding" and f["step"] == "jsonl"]
            assert {(f["line"], f["rule"]) for f in jsonl_steps} == {
                (1, "hooks/jsonl"),
                (2, "hooks/jsonl-schema"),
            }
            assert "ghp_…" in jsonl_steps[0]["message"]  # a bad line's excerpt cuts tokens short
            assert any(GITHUB_TOKEN[:8] in f["message"] for f in jsonl_steps[1:])


def test_a_file_too_large_to_scan_is_named_not_passed_silently(hafs, repo):
    (repo / "hafs.toml").write_text("[secrets]\nmax_file_bytes = 100\n")
    (repo / "dump.json").write_text('{"token": "' + GITHUB_TOKEN + '"}' + " " * 200 + "\n")
    git(repo, "add", "dump.json")
    r = hafs("hooks", "run", "pre-commit", cwd=repo)
    assert r.exit_code == 0  # the configured limit is respected ...
    assert (  # ... and said out loud
        b"hafs hooks: secrets: dump.json was not scanned: larger than 100 bytes" in r.stderr
    )


def test_asm_errors_block(hafs, repo):
    (repo / "bank00.asm").write_text("lda #$12\nsta $2100\nfoo $1234\n")
    git(repo, "add", "bank00.asm")
    r = run_precommit(hafs, repo)
    assert r.exit_code == 1
    [problem] = [rec for rec in r.records if rec["kind"] == "finding"]
    assert (problem["path"], problem["line"], problem["rule"]) == (
        "bank00.asm",
        3,
        "asm/unknown-mnemonic",
    )


def test_hafs_skip_skips_named_steps(hafs, repo):
    (repo / "k.env").write_text(f"K={GITHUB_TOKEN}\n")
    (repo / "bad.toml").write_text("[x\n")
    git(repo, "add", "k.env", "bad.toml")
    r = run_precommit(hafs, repo, env={"HAFS_SKIP": "secrets"})
    steps = {rec["step"]: rec["status"] for rec in r.records if rec["kind"] == "hook_step"}
    assert steps == {"toml": "failed", "secrets": "skipped", "asm": "passed", "jsonl": "passed"}
    assert r.exit_code == 1
    r = run_precommit(hafs, repo, env={"HAFS_SKIP": "secrets,toml"})
    assert r.exit_code == 0


def test_text_output_is_one_line_per_problem(hafs, repo):
    (repo / "k.env").write_text(f"A={GITHUB_TOKEN}\nB={AWS_KEY_ID}\n")
    git(repo, "add", "k.env")
    r = hafs("hooks", "run", "pre-commit", cwd=repo)
    assert r.exit_code == 1
    assert r.stdout.decode().splitlines() == [
        "k.env:1:3: secrets: GitHub token (ghp_, gho_, ghu_, ghs_, ghr_): ghp_Q3vT…",
        "k.env:2:3: secrets: AWS access key id: AKIAQ7…",
    ]
    assert b"commit blocked" in r.stderr


def test_baseline_accepts_known_secret_in_a_commit(hafs, repo):
    (repo / "fixture.env").write_text(f"K={GITHUB_TOKEN}\n")
    r = hafs("secrets", "baseline", "fixture.env", "--format", "jsonl", cwd=repo)
    assert r.exit_code == 0
    assert (repo / ".hafs-secrets-baseline.json").exists()
    git(repo, "add", "fixture.env")
    assert run_precommit(hafs, repo).exit_code == 0


def test_nothing_staged_passes(hafs, repo):
    r = run_precommit(hafs, repo)
    assert r.exit_code == 0
    assert r.records[-1] == {"kind": "summary", "command": "hooks run pre-commit", "steps": 4,
                             "failed": 0, "problems": 0}  # fmt: skip


def test_non_utf8_file_name_round_trips(hafs, repo):
    import os

    raw = b"caf\xe9.env"
    with open(os.path.join(os.fsencode(repo), raw), "w") as fh:
        fh.write(f"K={GITHUB_TOKEN}\n")
    git(repo, "add", "--", os.fsdecode(raw))
    r = run_precommit(hafs, repo)
    [finding] = [rec for rec in r.records if rec["kind"] == "finding"]
    from hafs_cli.paths import record_path

    assert record_path(finding) == raw


def test_commit_all_checks_the_temporary_index(hooked):
    """git commit -a stages through a temporary index (GIT_INDEX_FILE): still checked."""
    (hooked / "README.md").write_text(f"# project\ntoken: {GITHUB_TOKEN}\n")
    before = head(hooked)
    proc = commit(hooked, "all", "-a")
    assert proc.returncode == 1
    assert b"README.md:2:8: secrets" in proc.stderr
    assert head(hooked) == before


def test_commit_of_named_paths_checks_those_paths(hooked):
    (hooked / "ok.txt").write_text("fine\n")
    (hooked / "leak.env").write_text(f"T={GITHUB_TOKEN}\n")
    git(hooked, "add", "ok.txt", "leak.env")
    git(hooked, "commit", "-q", "-m", "x", "--no-verify")
    (hooked / "ok.txt").write_text("still fine\n")
    (hooked / "leak.env").write_text(f"T={GITHUB_TOKEN}\nU={AWS_KEY_ID}\n")
    assert commit(hooked, "only ok", "ok.txt").returncode == 0  # leak.env is not in this commit
    assert commit(hooked, "leak", "leak.env").returncode == 1


def test_invalid_hafs_toml_in_the_worktree_is_a_configuration_error(hafs, repo):
    (repo / "hafs.toml").write_text("[hooks.pre-commit]\nstep = []\n")
    r = hafs("hooks", "run", "pre-commit", cwd=repo)
    assert r.exit_code == 2
    assert b"hafs.toml:2:1: unknown key 'hooks.pre-commit.step'; did you mean 'steps'?" in r.stderr
