"""hafs secrets scan / baseline / rules through the CLI: records, exit statuses, redaction."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from hafs_cli.paths import record_path
from hafs_cli.schemas import validate_record
from tests.secrets.test_rules import ANT, GH, GOOGLE, HF, JWT, OAI, PAT

SECRETS = [GH, PAT, ANT, OAI, GOOGLE, HF, JWT, "AKIAQ7XK2PLMZR4TW9BN", "Zx8Kq2Lm9Pn"]


def scan(hafs, *args, cwd=None, input=None):
    r = hafs("secrets", "scan", *args, cwd=cwd, input=input)
    for rec in r.records:
        if rec["kind"] in ("finding", "summary"):
            assert validate_record(rec) == [], rec
    return r


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".env").write_text(f"GITHUB_TOKEN={GH}\nDEBUG=1\n")
    (root / "src" / "client.py").write_text(
        f'import os\nclient = Client("{ANT}")\nfallback = "{GOOGLE}"\n'
    )
    (root / "src" / "clean.py").write_text("print('hello')\n")
    (root / "db.yaml").write_text("url: postgres://app:Zx8Kq2Lm9Pn@db.internal/app\n")
    (root / "blob.bin").write_bytes(b"\0\1\2" + GH.encode())
    return root


def test_scan_reports_each_secret_with_path_line_kind_and_fingerprint(hafs, leaky):
    r = scan(hafs, ".", cwd=leaky)
    assert r.exit_code == 1
    got = [(f["path"], f["line"], f["column"], f["secret_kind"], f["redacted"])
           for f in r.records if f["kind"] == "finding"]  # fmt: skip
    assert got == [
        (".env", 1, 14, "github", "ghp_Q3vT…"),
        ("db.yaml", 1, 21, "url-credentials", "postgres://app:…@db.internal"),
        ("src/client.py", 2, 18, "anthropic", "sk-ant-api03-Zx8K…"),
        ("src/client.py", 3, 13, "google-api-key", "AIzaSyD3…"),
    ]
    summary = r.records[-1]
    assert summary == {"kind": "summary", "command": "secrets scan", "files": 5, "findings": 4,
                       "baselined": 0, "skipped": 1}  # fmt: skip


def test_clean_tree_exits_zero(hafs, tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    r = scan(hafs, str(tmp_path))
    assert r.exit_code == 0
    assert [rec["kind"] for rec in r.records] == ["summary"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "table"])
def test_no_output_ever_contains_a_full_secret(hafs, tmp_path, fmt):
    lines = [f"v{i} = '{s}'" for i, s in enumerate(SECRETS[:-1])]
    lines.append("url = 'https://bot:Zx8Kq2Lm9Pn@git.internal/repo.git'")
    (tmp_path / "all.py").write_text("\n".join(lines) + "\n")
    r = hafs("secrets", "scan", "all.py", "--format", fmt, cwd=tmp_path)
    assert r.exit_code == 1
    assert r.stdout.count(b"all.py") >= len(SECRETS) or fmt == "table"
    for secret in SECRETS:
        assert secret.encode() not in r.stdout + r.stderr, secret
    baseline = tmp_path / "b.json"
    hafs("secrets", "baseline", "all.py", "-o", baseline, cwd=tmp_path)
    for secret in SECRETS:
        assert secret.encode() not in baseline.read_bytes()


def test_baseline_silences_accepted_secrets_and_reports_new_ones(hafs, leaky):
    r = hafs("secrets", "baseline", ".", "--format", "jsonl", cwd=leaky)
    assert r.exit_code == 0
    assert r.records[-1]["accepted"] == 4
    data = json.loads((leaky / ".hafs-secrets-baseline.json").read_text())
    assert data["format"] == "hafs-secrets-baseline" and len(data["secrets"]) == 4
    r = scan(hafs, ".", cwd=leaky)
    assert r.exit_code == 0
    assert r.records[-1]["baselined"] == 4
    (leaky / "new.env").write_text(f"HF_TOKEN={HF}\n")
    r = scan(hafs, ".", cwd=leaky)
    assert r.exit_code == 1
    assert [f["path"] for f in r.records if f["kind"] == "finding"] == ["new.env"]
    assert scan(hafs, ".", "--no-baseline", cwd=leaky).records[-1]["findings"] == 5


def test_baseline_rerun_keeps_earlier_acceptances(hafs, leaky):
    hafs("secrets", "baseline", ".env", cwd=leaky)
    hafs("secrets", "baseline", "src", cwd=leaky)
    assert scan(hafs, ".env", "src", cwd=leaky).exit_code == 0


def test_detect_secrets_baseline_is_honoured(hafs, leaky):
    ds = {"version": "1.5.0", "results": {".env": [
        {"type": "GitHub Token", "filename": ".env", "line_number": 1,
         "hashed_secret": hashlib.sha1(GH.encode()).hexdigest(), "is_verified": False}]}}  # fmt: skip
    (leaky / ".secrets.baseline").write_text(json.dumps(ds))
    r = scan(hafs, ".env", "--baseline", ".secrets.baseline", cwd=leaky)
    assert r.exit_code == 0
    assert r.records[-1]["baselined"] == 1


def test_missing_explicit_baseline_is_a_usage_error(hafs, leaky):
    r = scan(hafs, ".", "--baseline", "nope.json", cwd=leaky)
    assert r.exit_code == 2
    assert b"baseline nope.json does not exist" in r.stderr


def test_unknown_rule_is_a_usage_error(hafs, leaky):
    r = scan(hafs, ".", "--skip-rule", "githb-token", cwd=leaky)
    assert r.exit_code == 2
    assert b"unknown rule githb-token" in r.stderr


def test_file_records_from_stdin_are_scanned_and_passed_through(hafs, leaky):
    recs = [
        {"kind": "file", "path": str(leaky / ".env"), "size": 1, "mtime_ns": 1},
        {"kind": "file", "path": str(leaky / "src" / "clean.py"), "size": 1, "mtime_ns": 1},
        {"kind": "note", "unknown kinds": "pass through"},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in recs).encode()
    r = scan(hafs, input=stdin)
    assert r.exit_code == 1
    kinds = [rec["kind"] for rec in r.records]
    assert kinds == ["file", "finding", "file", "note", "summary"]
    assert r.records[0] == recs[0] and r.records[2] == recs[1] and r.records[3] == recs[2]
    only = scan(hafs, "--only", input=stdin)
    assert [rec["kind"] for rec in only.records] == ["finding", "summary"]


def test_unreadable_file_is_an_error_record(hafs, tmp_path):
    r = scan(hafs, str(tmp_path / "missing.txt"))
    assert r.exit_code == 2
    assert r.errors[0]["reason"].startswith("cannot read")


def test_non_utf8_path_round_trips(hafs, tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"k\xff.env")
    with open(raw, "w") as fh:
        fh.write(f"T={GH}\n")
    r = scan(hafs, str(tmp_path))
    [finding] = [rec for rec in r.records if rec["kind"] == "finding"]
    assert record_path(finding) == raw


def test_staged_scans_the_index(hafs, tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "a.py").write_text(f"t = '{GH}'\n")
    run("add", "a.py")
    (repo / "a.py").write_text("t = 1\n")
    r = scan(hafs, "--staged", cwd=repo)
    assert r.exit_code == 1
    assert [(f["path"], f["line"]) for f in r.records if f["kind"] == "finding"] == [("a.py", 1)]
    assert scan(hafs, "a.py", cwd=repo).exit_code == 0  # the working tree is clean


def test_rules_lists_every_rule(hafs):
    r = hafs("secrets", "rules", "--format", "jsonl")
    ids = [rec["id"] for rec in r.records]
    from hafs_cli.secrets.rules import rule_ids

    assert ids == rule_ids()
    assert all(validate_record(rec) == [] for rec in r.records)


def test_baseline_never_overwrites_a_detect_secrets_baseline(hafs, leaky):
    ds = {"version": "1.5.0", "results": {".env": [{"hashed_secret": "0" * 40, "line_number": 1}]}}
    original = json.dumps(ds)
    (leaky / ".secrets.baseline").write_text(original)
    r = hafs("secrets", "baseline", ".", "-o", ".secrets.baseline", cwd=leaky)
    assert r.exit_code == 2
    assert b"is a detect-secrets baseline" in r.stderr
    assert (leaky / ".secrets.baseline").read_text() == original


def test_file_records_from_a_real_scan_are_scanned(hafs, leaky):
    """`hafs scan` stamps each record with this host; they are local files, so scan them."""
    listing = hafs("scan", str(leaky))
    assert listing.exit_code == 0
    assert {rec.get("host") for rec in listing.records if rec["kind"] == "file"} != {None}
    r = scan(hafs, "--only", input=listing.stdout)
    assert r.exit_code == 1
    assert sorted(os.path.basename(f["path"]) for f in r.records if f["kind"] == "finding") == [
        ".env",
        "client.py",
        "client.py",
        "db.yaml",
    ]


def test_file_records_of_another_host_are_not_read_here(hafs, leaky):
    rec = {"kind": "file", "path": str(leaky / ".env"), "host": "elsewhere.invalid"}
    r = scan(hafs, "--only", input=json.dumps(rec) + "\n")
    assert r.exit_code == 0
    assert r.records == [
        {"kind": "summary", "command": "secrets scan", "files": 0, "findings": 0,
         "baselined": 0, "skipped": 0}
    ]  # fmt: skip


def test_an_empty_pipe_is_a_usage_error_not_a_clean_pass(hafs):
    r = hafs("secrets", "scan", input=b"")
    assert r.exit_code == 2
    assert b"nothing was scanned" in r.stderr
    assert b"name the paths to scan (for example '.')" in r.stderr


def test_stdin_from_dev_null_scans_the_current_folder(hafs_cmd, leaky):
    run = subprocess.run(
        [*hafs_cmd, "secrets", "scan", "--format", "jsonl"],
        cwd=leaky,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=20,
    )
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["findings"] == 4


def test_a_fifo_is_skipped_not_waited_on(hafs_cmd, tmp_path):
    os.mkfifo(tmp_path / "queue.env")
    (tmp_path / "a.env").write_text(f"T={GH}\n")
    for target in (".", "queue.env"):
        run = subprocess.run(
            [*hafs_cmd, "secrets", "scan", target, "--format", "jsonl"],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        )
        summary = json.loads(run.stdout.splitlines()[-1])
        assert (summary["files"], summary["skipped"]) == ((1, 0) if target == "." else (1, 1))


def test_an_empty_detect_secrets_baseline_is_never_overwritten(hafs, leaky):
    original = json.dumps({"version": "1.5.0", "plugins_used": [], "results": {}})
    (leaky / ".secrets.baseline").write_text(original)
    r = hafs("secrets", "baseline", ".", "-o", ".secrets.baseline", cwd=leaky)
    assert r.exit_code == 2
    assert b"is a detect-secrets baseline" in r.stderr
    assert (leaky / ".secrets.baseline").read_text() == original


@pytest.mark.parametrize(
    "content",
    [
        "garbage",
        '{"format": "hafs-secrets-baseline", "secrets": [5, {"x": 1}]}',
        '{"format": "hafs-secrets-baseline", "secrets": {"a": 1}}',
        '{"results": {".env": 5}}',
        "[]",
    ],
)
def test_a_broken_baseline_is_a_usage_error_that_says_what_to_do(hafs, leaky, content):
    (leaky / "b.json").write_text(content)
    for args in (("scan", ".env", "--baseline", "b.json"), ("baseline", ".env", "-o", "b.json")):
        r = hafs("secrets", *args, cwd=leaky)
        assert r.exit_code == 2, (args, r.stderr)
        err = r.stderr.decode()
        assert err.startswith("hafs: error: ") and "b.json" in err, err
        assert "internal error" not in err
    assert (leaky / "b.json").read_text() == content


def test_a_file_record_with_a_broken_path_b64_is_one_error_and_the_stream_goes_on(hafs, leaky):
    recs = [{"kind": "file", "path": "x.env", "path_b64": "!!"},
            {"kind": "file", "path": str(leaky / ".env")}]  # fmt: skip
    r = scan(hafs, "--only", input="".join(json.dumps(x) + "\n" for x in recs))
    assert r.exit_code == 2
    [err] = r.errors
    assert err["path"] == "x.env" and "path_b64" in err["reason"]
    assert [x.get("secret_kind") for x in r.records] == ["github", None]


def test_a_baseline_that_cannot_be_written_is_a_usage_error(hafs, leaky):
    r = hafs("secrets", "baseline", ".env", "-o", ".env/b.json", cwd=leaky)
    assert r.exit_code == 2
    assert r.stderr.decode() == (
        "hafs: error: cannot write baseline .env/b.json (.env: File exists); "
        "choose a writable place with -o FILE\n"
    )
