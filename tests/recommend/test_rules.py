"""One behaviour per test: the rules' edges, safety guards, pass-through and reports."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from hafs_cli.records import dumps
from hafs_cli.schemas import validate_record

from .conftest import (
    DAY_NS,
    NOW_ARG,
    NOW_NS,
    blob,
    dedup,
    findings_of,
    git_repo,
    jsonl,
    make_zip,
    planted_set,
    put,
    scan,
)
from .test_planted import PLANTED_ENV, build_tree


def actions_of(result) -> list[dict]:
    return [r for r in result.records if r.get("kind") == "action"]


def rec(path: str, size: int = 10, age_days: float = 0, host: str | None = None, **kw) -> dict:
    r = {"kind": "file", "path": path, "size": size, "mtime_ns": NOW_NS - int(age_days * DAY_NS)}
    if host:
        r["host"] = host
    r.update(kw)
    return r


def test_undecodable_path_round_trips_into_finding_and_action(tmp_path, run_recommend):
    raw = os.fsencode(tmp_path) + b"/caf\xe9-\xff.tmp"
    put(raw, b"old", age_days=30)
    r = run_recommend(scan(tmp_path), "--only", "--rule", "temporary")
    (finding,) = findings_of(r)
    (action,) = actions_of(r)
    assert base64.b64decode(finding["paths_b64"][0]) == raw
    assert base64.b64decode(action["path_b64"]) == raw
    assert "\ufffd" in action["path"]


def test_every_input_record_passes_through_unchanged_and_first(tmp_path, run_recommend):
    put(tmp_path / "x.tmp", b"1", age_days=30)
    inputs = [
        {"kind": "weird", "z": [1, 2], "a": None},
        *[{**r, "extra_field": {"k": "v"}} for r in scan(tmp_path)],
        {"kind": "summary", "command": "scan", "files": 1},
    ]
    r = run_recommend(inputs)
    assert r.exit_code == 0
    lines = r.stdout.splitlines(keepends=True)
    assert lines[: len(inputs)] == [dumps(x) for x in inputs]
    assert [x["kind"] for x in r.records[len(inputs) :]] == [
        "finding",
        "action",
        "finding",  # largest file
        "finding",  # largest directory
        "summary",
    ]


def test_only_writes_findings_actions_and_summary(tmp_path, run_recommend):
    put(tmp_path / "x.tmp", b"1", age_days=30)
    r = run_recommend(scan(tmp_path), "--only")
    assert {x["kind"] for x in r.records} == {"finding", "action", "summary"}


def test_a_file_inside_a_cache_gets_one_action_only(tmp_path, run_recommend):
    put(tmp_path / "p/__pycache__/x.tmp", b"1", age_days=30)
    put(tmp_path / "p/__pycache__/m.pyc", b"22")
    r = run_recommend(scan(tmp_path), "--only")
    paths = [a["path"] for a in actions_of(r)]
    assert sorted(paths) == sorted(set(paths)) and len(paths) == 2
    assert {f["rule"] for f in findings_of(r) if f["action"]} == {"regenerable"}


def test_no_action_ever_removes_every_copy(tmp_path, run_recommend):
    # the keeper dedup chose sits in build output: another copy must become keeper
    put(tmp_path / "proj/pyproject.toml", b"[project]")
    put(tmp_path / "proj/build/lib/data.bin", blob(1, 500), age_days=50)
    put(tmp_path / "keep/data.bin", blob(1, 500), age_days=2)
    put(tmp_path / "other/data.bin", blob(1, 500), age_days=1)
    files = scan(tmp_path)
    groups = dedup(files)
    assert groups[0]["keeper"]["path"].endswith("build/lib/data.bin")
    r = run_recommend(files + groups, "--only")
    acted = {a["path"] for a in actions_of(r)}
    members = {m["path"] for m in groups[0]["members"]}
    assert members - acted == {f"{tmp_path}/keep/data.bin"}  # the oldest free copy
    (dup,) = [f for f in findings_of(r) if f["rule"] == "duplicates"]
    assert "covered by another finding" in dup["reason"]
    (dup_action,) = [a for a in actions_of(r) if a["rule"] == "duplicates"]
    assert dup_action["keeper"]["path"] == f"{tmp_path}/keep/data.bin"
    assert dup_action["blake3"] == groups[0]["blake3"]


def test_git_tracked_duplicate_is_kept(tmp_path, run_recommend):
    put(tmp_path / "repo/LICENSE", blob(2, 300), age_days=1)
    git_repo(tmp_path / "repo", ["LICENSE"])
    put(tmp_path / "loose/LICENSE", blob(2, 300), age_days=9)
    files = scan(tmp_path)
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates")
    assert [a["path"] for a in actions_of(r)] == []
    assert findings_of(r) == []
    # and the untracked copy goes when the tracked one is the keeper
    put(tmp_path / "loose/LICENSE", blob(2, 300), age_days=0)
    files = scan(tmp_path)
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates")
    assert [a["path"] for a in actions_of(r)] == [f"{tmp_path}/loose/LICENSE"]


def test_hard_links_of_the_keeper_are_not_duplicates_to_remove(tmp_path, run_recommend):
    put(tmp_path / "a/f.bin", blob(3, 100), age_days=5)
    os.makedirs(tmp_path / "b")
    os.link(tmp_path / "a/f.bin", tmp_path / "b/f.bin")
    put(tmp_path / "c/f.bin", blob(3, 100), age_days=1)
    files = scan(tmp_path)
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates")
    assert [a["path"] for a in actions_of(r)] == [f"{tmp_path}/c/f.bin"]


def test_nothing_inside_dot_git_is_ever_acted_on(tmp_path, run_recommend):
    for name in ("one", "two"):
        put(tmp_path / name / "README", blob(4, 50))
        git_repo(tmp_path / name, ["README"])
    files = scan(tmp_path, skip_git=False)
    r = run_recommend(files + dedup(files), "--only")
    assert not [a for a in actions_of(r) if "/.git/" in a["path"]]


def test_without_git_caches_inside_repositories_are_left_alone(tmp_path, hafs):
    put(tmp_path / "repo/a.py", b"x")
    git_repo(tmp_path / "repo", ["a.py"])
    put(tmp_path / "repo/__pycache__/a.pyc", b"y")
    put(tmp_path / "loose/__pycache__/b.pyc", b"z")
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(scan(tmp_path)))
    env = {**os.environ, "PATH": "/nonexistent"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hafs_cli",
            "recommend",
            "--only",
            "--rule",
            "regenerable",
            str(src),
        ],
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = [__import__("json").loads(x) for x in proc.stdout.splitlines()]
    assert [f["paths"] for f in out if f["kind"] == "finding"] == [
        [f"{tmp_path}/loose/__pycache__"]
    ]
    summary = out[-1]
    assert summary["skipped"]["regenerable_git_unavailable"] == 1
    assert summary["git_failures"][0]["path"] == f"{tmp_path}/repo"


def test_remote_host_repository_seen_in_input_protects_its_caches(run_recommend):
    recs = [
        rec("/srv/app/.git/HEAD", host="gpu-box"),
        rec("/srv/app/pyproject.toml", host="gpu-box"),
        rec("/srv/app/build/lib.so", 5000, host="gpu-box"),
        rec("/srv/tools/__pycache__/t.pyc", 700, host="gpu-box"),
    ]
    r = run_recommend(recs, "--only", "--rule", "regenerable")
    (finding,) = findings_of(r)
    assert finding["paths"] == ["/srv/tools/__pycache__"] and finding["host"] == "gpu-box"
    assert actions_of(r)[0]["host"] == "gpu-box"
    assert r.records[-1]["git_failures"][0] == {
        "host": "gpu-box",
        "path": "/srv/app",
        "reason": "repository /srv/app is on gpu-box, which git here cannot ask",
    }


def test_same_project_on_two_hosts_by_shared_content(run_recommend):
    h = "ab" * 32
    recs = [
        rec("/home/me/Code/site/pyproject.toml", 30, age_days=1, blake3=h),
        rec("/home/me/Code/site/app.py", 40, age_days=1, blake3="cd" * 32),
        rec("/data/site/pyproject.toml", 30, host="nas", blake3=h),
        rec("/data/site/app.py", 40, host="nas", blake3="cd" * 32),
        rec("/data/site/extra.py", 40, host="nas"),
    ]
    r = run_recommend(recs, "--only", "--rule", "projects")
    (finding,) = findings_of(r)
    assert finding["paths"] == ["/home/me/Code/site", "/data/site"]
    assert finding["hosts"] == ["", "nas"]
    assert finding["action"] is None and finding["bytes"] == 0
    assert "2 identical files" in finding["reason"]
    assert finding["reason"].endswith("is /data/site on nas.")  # it holds the newest file


def test_markdown_names_the_host_of_each_path(run_recommend):
    h = "ab" * 32
    recs = [
        rec("/home/me/site/pyproject.toml", 30, blake3=h),
        rec("/data/site/pyproject.toml", 30, age_days=3, host="nas", blake3=h),
    ]
    r = run_recommend(recs, "--rule", "projects", "--format", "markdown")
    assert "- `/home/me/site` on this machine" in r.text
    assert "- `/data/site` on nas" in r.text


def test_same_name_with_too_little_shared_content_is_not_one_project(run_recommend):
    recs = [rec(f"/a/site/f{i}.py", 10, blake3=f"{i:064x}") for i in range(4)]
    recs += [rec("/a/site/package.json", 5)]
    recs += [rec(f"/b/site/g{i}.py", 10) for i in range(4)] + [rec("/b/site/package.json", 5)]
    recs += [rec("/b/site/f0.py", 10, blake3=f"{0:064x}")]
    r = run_recommend(recs, "--only", "--rule", "projects")
    assert findings_of(r) == []  # 1 of 5 files shared < 0.5


def test_unsafe_archive_member_names_prove_nothing(tmp_path, run_recommend):
    make_zip(tmp_path / "evil.zip", {"../outside.txt": b"12345"})
    put(tmp_path / "outside.txt", b"12345")
    r = run_recommend(scan(tmp_path), "--only", "--rule", "archives")
    assert findings_of(r) == []
    assert r.records[-1]["skipped"] == {"archives_unreadable": 1}


def test_an_archive_whose_members_are_partly_missing_is_not_extracted(tmp_path, run_recommend):
    make_zip(tmp_path / "a.zip", {"x.txt": b"1", "y.txt": b"22"})
    put(tmp_path / "a/x.txt", b"1")
    r = run_recommend(scan(tmp_path), "--only", "--rule", "archives")
    assert findings_of(r) == []


def test_thresholds_and_switches_come_from_configuration(tmp_path, run_recommend):
    put(tmp_path / "x.tmp", b"1", age_days=30)
    recs = scan(tmp_path)
    base = ["--only", "--rule", "temporary"]
    assert len(findings_of(run_recommend(recs, *base))) == 1
    env = {"HAFS_RECOMMEND__TEMPORARY__DAYS": "60"}
    assert findings_of(run_recommend(recs, *base, env=env)) == []
    (tmp_path / "hafs.toml").write_text("[recommend.temporary]\nenabled = false\n")
    r = run_recommend(recs, "--only", env={"HAFS_CONFIG": str(tmp_path / "hafs.toml")})
    assert not [f for f in findings_of(r) if f["rule"] == "temporary"]


def test_largest_lists_files_and_the_directories_that_hold_the_bytes(run_recommend):
    recs = [
        rec("/d/big/sub/a.bin", 1000),
        rec("/d/big/sub/b.bin", 900),
        rec("/d/small/c.bin", 50),
        rec("/d/top.txt", 1),
    ]
    r = run_recommend(recs, "--only", "--rule", "largest")
    got = [(f["what"], f["paths"][0], f["size"]) for f in findings_of(r)]
    # /d is not listed: /d/big holds over 90% of it (and /d/big only through /d/big/sub)
    assert got == [
        ("directory", "/d/big/sub", 1900),
        ("file", "/d/big/sub/a.bin", 1000),
        ("file", "/d/big/sub/b.bin", 900),
        ("directory", "/d/small", 50),
        ("file", "/d/small/c.bin", 50),
        ("file", "/d/top.txt", 1),
    ]


def test_a_record_recommend_cannot_use_is_reported_and_still_forwarded(run_recommend):
    bad = {"kind": "file", "path": "/x/y.tmp", "size": "lots", "mtime_ns": 1}
    r = run_recommend([bad, rec("/x/z.tmp", age_days=40)])
    assert r.exit_code == 2
    assert r.records[0] == bad
    (err,) = r.errors
    assert err["path"] == "/x/y.tmp" and "unusable file record" in err["reason"]
    assert [f["paths"] for f in findings_of(r) if f["rule"] == "temporary"] == [["/x/z.tmp"]]


def test_a_file_record_without_mtime_is_not_judged_ancient(run_recommend):
    """A missing mtime_ns must not read as 1970 and get a temporary file trashed."""
    undated = {"kind": "file", "path": "/x/undated.tmp", "size": 10}
    r = run_recommend([undated, rec("/x/z.tmp", age_days=40)])
    assert r.exit_code == 2
    assert r.records[0] == undated
    (err,) = r.errors
    assert err["path"] == "/x/undated.tmp" and "mtime_ns" in err["reason"]
    assert [f["paths"] for f in findings_of(r) if f["rule"] == "temporary"] == [["/x/z.tmp"]]
    assert [a["path"] for a in r.records if a["kind"] == "action"] == ["/x/z.tmp"]


def test_negative_sizes_are_reported_and_leave_no_trace_in_the_advice(run_recommend):
    bad_file = {"kind": "file", "path": "/x/Downloads/a.exe", "size": -5, "mtime_ns": 1}
    bad_group = {"kind": "dupgroup", "blake3": "ab", "size": -3,
                 "members": [{"path": "/d/a"}, {"path": "/d/b"}]}  # fmt: skip
    r = run_recommend([bad_file, bad_group, rec("/x/z.tmp", age_days=40)], "--only")
    assert r.exit_code == 2
    assert [e["reason"].split(":")[0] for e in r.errors] == [
        "unusable file record",
        "unusable dupgroup record",
    ]
    paths = {p for f in findings_of(r) for p in f["paths"]}
    assert paths == {"/x/z.tmp", "/x"}  # the temporary file, and "largest" of what is left
    for out in r.records:
        assert validate_record(out) == [], out


@pytest.mark.parametrize(
    "bad",
    [
        {"host": 1},  # with a text host beside it, sorting the findings crashed
        {"dev": -1},  # copied into the action, which then failed its schema
        {"inode": -7},
    ],
)
def test_file_records_with_bad_identity_fields_are_reported(run_recommend, bad):
    broken = {**rec("/x/old.tmp", age_days=40), **bad}
    r = run_recommend([broken, rec("/y/z.tmp", age_days=40, host="h2")], "--only")
    assert r.exit_code == 2
    assert [e["path"] for e in r.errors] == ["/x/old.tmp"]
    assert [f["paths"] for f in findings_of(r) if f["rule"] == "temporary"] == [["/y/z.tmp"]]
    for out in r.records:
        assert validate_record(out) == [], out


@pytest.mark.parametrize("now", ["last tuesday", "inf", "1e400", "nan", "2026-13-01"])
def test_bad_now_is_a_usage_error(run_recommend, now):
    r = run_recommend([], "--now", now)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"hafs: error: --now {now!r} is neither".encode()), r.stderr


def test_markdown_report_groups_by_rule_with_totals(tmp_path, hafs):
    put(tmp_path / "x.tmp", b"1" * 2048, age_days=30)
    put(tmp_path / "p/__pycache__/m.pyc", b"2" * 100)
    r = hafs("recommend", "--now", NOW_ARG, "--format", "markdown", input=jsonl(scan(tmp_path)))
    text = r.text
    assert r.exit_code == 0
    assert "## regenerable: 1 finding, 100 B reclaimable" in text
    assert "## temporary: 1 finding, 2.0 KiB reclaimable" in text
    assert f"- `{tmp_path}/x.tmp`" in text
    assert text.index("## regenerable") < text.index("## temporary") < text.index("## largest")
    assert '"kind"' not in text


def test_table_output_is_grouped_by_rule(tmp_path, hafs):
    put(tmp_path / "x.tmp", b"1" * 2048, age_days=30)
    r = hafs("recommend", "--now", NOW_ARG, "--format", "table", input=jsonl(scan(tmp_path)))
    assert r.exit_code == 0
    assert "temporary: 1 finding, 2.0 KiB reclaimable" in r.text
    assert "reclaimable by 1 actions" in r.text


def test_json_format_is_one_valid_array(tmp_path, hafs):
    put(tmp_path / "x.tmp", b"1", age_days=30)
    r = hafs(
        "recommend", "--now", NOW_ARG, "--only", "--format", "json", input=jsonl(scan(tmp_path))
    )
    doc = __import__("json").loads(r.stdout)
    assert [x["kind"] for x in doc][-1] == "summary"
    assert all(validate_record(x) == [] for x in doc)


def _real_pipeline(hafs, root):
    scanned = hafs("scan", root)
    assert scanned.exit_code == 0, scanned.stderr
    deduped = hafs("dedup", input=scanned.stdout)
    assert deduped.exit_code == 0, deduped.stderr
    return deduped.stdout


def test_planted_findings_survive_a_real_scan_and_dedup(tmp_path, hafs):
    root = tmp_path / "t"
    expected = build_tree(root)
    stream = _real_pipeline(hafs, root)
    r = hafs(
        "recommend",
        "--now",
        NOW_ARG,
        "--only",
        input=stream,
        env=PLANTED_ENV,
    )
    assert r.exit_code == 0, r.stderr
    assert planted_set(r) == expected


def test_apply_accepts_every_action_as_planned(tmp_path, hafs):
    root = tmp_path / "t"
    build_tree(root)
    stream = _real_pipeline(hafs, root)
    r = hafs("recommend", "--now", NOW_ARG, "--only", input=stream, env=PLANTED_ENV)
    planned = hafs("apply", "--only", input=r.stdout)
    assert planned.exit_code == 0, planned.stderr
    results = [x for x in planned.records if x["kind"] == "action_result"]
    assert len(results) == len(actions_of(r)) > 20
    assert {x["status"] for x in results} == {"planned"}
    summary = next(x for x in planned.records if x["kind"] == "summary")
    assert summary["bytes_freed"] == r.records[-1]["bytes"]


def test_more_build_directories_can_be_configured(tmp_path, run_recommend):
    put(tmp_path / "p/meson.build", b"project('p')")
    put(tmp_path / "p/_build/p.o", b"o" * 64)
    (tmp_path / "hafs.toml").write_text(
        '[recommend.regenerable.build_dirs]\n_build = ["meson.build"]\ndist = []\n'
    )
    put(tmp_path / "q/pyproject.toml", b"[project]")
    put(tmp_path / "q/dist/q.whl", b"w" * 64)
    env = {"HAFS_CONFIG": str(tmp_path / "hafs.toml")}
    r = run_recommend(scan(tmp_path), "--only", "--rule", "regenerable", env=env)
    assert [f["paths"] for f in findings_of(r)] == [[f"{tmp_path}/p/_build"]]


def test_duplicates_can_suggest_hard_links(tmp_path, run_recommend):
    put(tmp_path / "a/f.bin", blob(5, 100), age_days=5)
    put(tmp_path / "b/f.bin", blob(5, 100), age_days=1)
    files = scan(tmp_path)
    env = {"HAFS_RECOMMEND__DUPLICATES__ACTION": "hardlink"}
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates", env=env)
    (action,) = actions_of(r)
    assert action["action"] == "hardlink" and action["path"] == f"{tmp_path}/b/f.bin"
    assert action["keeper"]["path"] == f"{tmp_path}/a/f.bin"
    assert findings_of(r)[0]["bytes"] == 100


def test_caches_of_one_project_make_one_finding(tmp_path, run_recommend):
    put(tmp_path / "p/pyproject.toml", b"[project]")
    put(tmp_path / "p/a/__pycache__/x.pyc", b"1" * 10)
    put(tmp_path / "p/b/__pycache__/y.pyc", b"2" * 20)
    put(tmp_path / "p/dist/p.whl", b"3" * 30)
    put(tmp_path / "q/pyproject.toml", b"[project]")
    put(tmp_path / "q/__pycache__/z.pyc", b"4" * 40)
    r = run_recommend(scan(tmp_path), "--only", "--rule", "regenerable")
    got = sorted((f["paths"], f["bytes"]) for f in findings_of(r))
    assert got == [
        ([f"{tmp_path}/p/a/__pycache__", f"{tmp_path}/p/b/__pycache__"], 30),
        ([f"{tmp_path}/p/dist"], 30),
        ([f"{tmp_path}/q/__pycache__"], 40),
    ]
    (grouped,) = [f for f in findings_of(r) if f["directories"] == 2]
    assert grouped["reason"].startswith(f"2 __pycache__ directories in {tmp_path}/p:")


def test_size_limit_applies_only_to_compressed_tars(tmp_path, run_recommend):
    from .conftest import make_tar

    make_zip(tmp_path / "a.zip", {"x.txt": blob(6, 100)})
    put(tmp_path / "a/x.txt", blob(6, 100))
    make_tar(tmp_path / "b.tar.gz", {"y.txt": blob(7, 100)})
    put(tmp_path / "b/y.txt", blob(7, 100))
    env = {"HAFS_RECOMMEND__ARCHIVES__MAX_ARCHIVE_BYTES": "10"}
    r = run_recommend(scan(tmp_path), "--only", "--rule", "archives", env=env)
    assert [f["paths"] for f in findings_of(r)] == [[f"{tmp_path}/a.zip"]]
    assert r.records[-1]["skipped"] == {"archives_over_size_limit": 1}


def test_undecodable_names_in_reasons_and_summaries_become_replacement_characters(
    tmp_path, run_recommend
):
    base = os.fsencode(tmp_path) + b"/d\xff"
    put(base + b"/Downloads/old.pdf", b"p" * 10, age_days=200)
    put(base + b"/a/x.\xfe", blob(8, 64), age_days=3)
    put(base + b"/b/x.\xfe", blob(8, 64), age_days=1)
    files = scan(tmp_path)
    r = run_recommend(files + dedup(files), "--only")
    assert r.exit_code == 0, r.stderr
    assert all(validate_record(x) == [] for x in r.records)
    reasons = " ".join(f["reason"] for f in findings_of(r))
    assert "d\ufffd/Downloads" in reasons and "d\ufffd/a/x.\ufffd" in reasons
    assert r.records[-1]["duplicates_by_type"][0]["file_type"] == ".\ufffd"
    (dup_action,) = [a for a in actions_of(r) if a["rule"] == "duplicates"]
    assert base64.b64decode(dup_action["path_b64"]) == base + b"/b/x.\xfe"
    assert base64.b64decode(dup_action["keeper"]["path_b64"]) == base + b"/a/x.\xfe"


def test_no_input_from_a_terminal_is_a_usage_error(tmp_path):
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hafs_cli", "recommend"],
            stdin=slave,
            capture_output=True,
            timeout=60,
        )
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 2
    assert proc.stderr.startswith(b"hafs: error: no input")


def test_remote_spellings_of_one_repository_agree():
    from hafs_cli.advice.gitinfo import normalize_remote

    same = [
        "git@github.com:me/tool.git",
        "https://github.com/me/tool",
        "https://user@GitHub.com/me/tool.git/",
        "ssh://git@github.com:22/me/tool.git",
        "github.com:me/tool",
    ]
    assert {normalize_remote(u) for u in same} == {"github.com/me/tool"}
    assert normalize_remote("/srv/git/tool.git") == "/srv/git/tool"
    assert normalize_remote("git@github.com:me/tool2.git") != "github.com/me/tool"


def test_stale_repository_on_another_host_is_found_from_its_dot_git(run_recommend):
    recs = [
        rec("/home/u/exp/.git/HEAD", 20, age_days=1, host="gpu-box"),
        rec("/home/u/exp/train.py", 300, age_days=400, host="gpu-box"),
        rec("/home/u/live/.git/HEAD", 20, age_days=400, host="gpu-box"),
        rec("/home/u/live/train.py", 300, age_days=3, host="gpu-box"),
    ]
    r = run_recommend(recs, "--only", "--rule", "experiments")
    (finding,) = findings_of(r)
    assert finding["paths"] == ["/home/u/exp"] and finding["host"] == "gpu-box"
    assert finding["action"] == "archive" and finding["bytes"] == 320
    assert "unchanged since 2025-04-27" in finding["reason"]


def test_stale_run_inside_an_active_repository_is_reported_alone(tmp_path, run_recommend):
    put(tmp_path / "repo/train.py", b"x" * 10, age_days=1)
    git_repo(tmp_path / "repo", ["train.py"])
    put(tmp_path / "repo/runs/a/trainer_state.json", b"{}", age_days=300)
    put(tmp_path / "repo/runs/b/trainer_state.json", b"{}", age_days=2)
    r = run_recommend(scan(tmp_path), "--only", "--rule", "experiments")
    assert [f["paths"] for f in findings_of(r)] == [[f"{tmp_path}/repo/runs/a"]]


def test_a_tracked_temporary_file_is_not_trashed(tmp_path, run_recommend):
    put(tmp_path / "repo/fixture.tmp", b"keep me", age_days=100)
    git_repo(tmp_path / "repo", ["fixture.tmp"])
    put(tmp_path / "repo/scratch.tmp", b"drop me", age_days=100)
    r = run_recommend(scan(tmp_path), "--only", "--rule", "temporary")
    assert [a["path"] for a in actions_of(r)] == [f"{tmp_path}/repo/scratch.tmp"]
    assert r.records[-1]["skipped"]["tracked_by_git"] == 1


def test_installed_copies_are_neither_removed_nor_relied_on(tmp_path, run_recommend):
    lib = tmp_path / "env/.venv/lib/python3.11/site-packages"
    put(lib / "pkg/_vendor/core.py", blob(9, 300), age_days=9)
    put(lib / "other/core.py", blob(9, 300), age_days=8)
    put(tmp_path / "work/core.py", blob(9, 300), age_days=1)
    put(tmp_path / "work/copy-of-core.py", blob(9, 300), age_days=2)
    files = scan(tmp_path)
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates")
    (finding,) = findings_of(r)
    assert len(finding["paths"]) == 4
    assert "2 copies in git, package or virtualenv directories left alone" in finding["reason"]
    (action,) = actions_of(r)
    assert action["path"] == f"{tmp_path}/work/core.py"
    assert action["keeper"]["path"] == f"{tmp_path}/work/copy-of-core.py"


def test_duplicates_only_among_installed_files_are_left_alone(tmp_path, run_recommend):
    lib = tmp_path / ".venv/lib/python3.11/site-packages"
    put(lib / "a/x.py", blob(10, 300))
    put(lib / "b/x.py", blob(10, 300))
    files = scan(tmp_path)
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates")
    assert findings_of(r) == []
    assert r.records[-1]["skipped"] == {"duplicates_in_managed_dirs": 1}
    env = {"HAFS_RECOMMEND__DUPLICATES__ACTION": "hardlink"}
    r = run_recommend(files + dedup(files), "--only", "--rule", "duplicates", env=env)
    assert [a["action"] for a in actions_of(r)] == ["hardlink"]


def test_temporary_files_of_installed_software_are_left_alone(tmp_path, run_recommend):
    put(tmp_path / ".venv/lib/python3.11/site-packages/pkg/data.tmp", b"1", age_days=99)
    put(tmp_path / "mine.tmp", b"2", age_days=99)
    r = run_recommend(scan(tmp_path), "--only", "--rule", "temporary")
    assert [a["path"] for a in actions_of(r)] == [f"{tmp_path}/mine.tmp"]


def _tree_digest(root) -> dict[bytes, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(os.fsencode(root)):
        for name in names:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, os.fsencode(root))] = fh.read()
    return out


def test_applying_the_advice_then_undoing_it_restores_the_tree(tmp_path, hafs):
    root = tmp_path / "t"
    build_tree(root)
    before = _tree_digest(root)
    stream = _real_pipeline(hafs, root)
    r = hafs("recommend", "--now", NOW_ARG, "--only", input=stream, env=PLANTED_ENV)
    journal = tmp_path / "journal.jsonl"
    done = hafs("apply", "--yes", "--only", "--journal", journal, input=r.stdout)
    assert done.exit_code == 0, done.stderr
    results = [x for x in done.records if x["kind"] == "action_result"]
    assert {x["status"] for x in results} == {"done"}
    after = _tree_digest(root)
    gone = {a["path"] for a in actions_of(r)}
    assert {f"{root}/".encode() + p for p in before if p not in after} == {p.encode() for p in gone}
    # every content the tree held is still held somewhere in it (nothing lost its last copy)
    trashed_rules = {"duplicates"}
    kept_contents = set(after.values())
    for a in actions_of(r):
        if a["rule"] in trashed_rules:
            assert before[os.path.relpath(a["path"], root).encode()] in kept_contents
    undo = hafs("apply", "--undo", journal)
    assert undo.exit_code == 0, undo.stderr
    assert _tree_digest(root) == before


def test_an_archive_and_its_extracted_copy_are_never_both_removed(tmp_path, run_recommend):
    make_zip(tmp_path / "Downloads/photos.zip", {"a.jpg": blob(11, 700)})
    put(tmp_path / "Downloads/photos.zip", (tmp_path / "Downloads/photos.zip").read_bytes(), 200)
    put(tmp_path / "Downloads/photos/a.jpg", blob(11, 700), age_days=200)
    put(tmp_path / "Downloads/old.pdf", b"p", age_days=200)
    r = run_recommend(scan(tmp_path), "--only", "--rule", "archives", "--rule", "downloads")
    assert sorted(a["path"] for a in actions_of(r)) == [
        f"{tmp_path}/Downloads/old.pdf",
        f"{tmp_path}/Downloads/photos.zip",
    ]
    (old,) = [f for f in findings_of(r) if f["rule"] == "old-downloads"]
    assert old["paths"] == [f"{tmp_path}/Downloads/old.pdf"]
    assert old["reason"].endswith(
        "(1 file already covered by another finding; 1 file kept as the extracted copy "
        "of an archive.)"
    )


def test_an_archive_whose_copies_another_finding_removes_is_kept(tmp_path, run_recommend):
    put(tmp_path / "p/pyproject.toml", b"[project]")
    make_zip(tmp_path / "p/build.zip", {"build/x.o": blob(12, 100)})
    put(tmp_path / "p/build/x.o", blob(12, 100))
    r = run_recommend(scan(tmp_path), "--only", "--rule", "archives", "--rule", "regenerable")
    assert [f["rule"] for f in findings_of(r)] == ["regenerable"]
    assert r.records[-1]["skipped"]["evidence_removed_by_other_findings"] == 1


def test_abandoned_repository_says_whether_work_would_be_lost(tmp_path, run_recommend):
    from .conftest import age, git

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    put(tmp_path / "w/exp/train.py", b"print(1)\n")
    git_repo(tmp_path / "w/exp", ["train.py"], remote=str(origin))
    git(tmp_path / "w/exp", "push", "-q", "origin", "HEAD:refs/heads/main")
    git(tmp_path / "w/exp", "fetch", "-q", "origin")
    age(tmp_path / "w", 300)
    r = run_recommend(scan(tmp_path / "w"), "--only", "--rule", "experiments")
    (finding,) = findings_of(r)
    assert finding["reason"].endswith("; clean, and every commit is on a remote.")
    assert finding["confidence"] == 0.7
    assert (finding["uncommitted"], finding["unpushed"]) == (0, 0)

    put(tmp_path / "w/exp/more.py", b"x\n")
    git(tmp_path / "w/exp", "add", "more.py")
    git(tmp_path / "w/exp", "commit", "-q", "-m", "local only")
    put(tmp_path / "w/exp/train.py", b"print(2, 3)\n")
    age(tmp_path / "w", 300)
    r = run_recommend(scan(tmp_path / "w"), "--only", "--rule", "experiments")
    (finding,) = findings_of(r)
    assert finding["reason"].endswith("; 1 uncommitted change, 1 commit on no remote.")
    assert finding["confidence"] == 0.4


def test_markdown_shows_reasons_and_rationales_as_written(tmp_path, hafs):
    """`__pycache__` in a reason is not bold; a model's link or HTML is not rendered."""
    from hafs_cli.advice.report import markdown

    put(tmp_path / "p/__pycache__/m.pyc", b"2" * 100)
    r = hafs("recommend", "--now", NOW_ARG, "--format", "markdown", input=jsonl(scan(tmp_path)))
    assert r.exit_code == 0
    assert "\\_\\_pycache\\_\\_ is a cache that its tool recreates" in r.text
    finding = {"kind": "finding", "rule": "temporary", "reason": "old *x*", "bytes": 1,
               "paths": ["/t/a\n\n# b.tmp"], "action": "trash", "confidence": 0.7,
               "ai_rationale": "see [this](http://x.example/) <img src=x>"}  # fmt: skip
    text = markdown([finding])
    assert "old \\*x\\*" in text
    assert "AI: see \\[this\\](http://x.example/) \\<img src=x\\>" in text
    assert "- `/t/a\\n\\n# b.tmp`" in text
    assert "\n# b.tmp" not in text


def test_a_closed_stdin_without_files_is_a_usage_error(hafs_cmd):
    closed = subprocess.run(
        [*hafs_cmd, "recommend"], capture_output=True, timeout=60, preexec_fn=lambda: os.close(0)
    )
    assert closed.returncode == 2, closed.stderr
    assert closed.stderr.startswith(b"hafs: error: no input")
