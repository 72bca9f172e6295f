"""Fixtures for recommend: real trees in tmp dirs, real git repos, records as scan/dedup write them."""

from __future__ import annotations

import os
import stat
import subprocess
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import blake3
import pytest

NOW = datetime(2026, 6, 1, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9
NOW_ARG = "2026-06-01T00:00:00Z"
DAY_NS = 86_400 * 10**9


def days_ago(n: float) -> int:
    return NOW_NS - int(n * DAY_NS)


def put(path: Path | bytes, data: bytes = b"x", age_days: float = 0.0) -> Path | bytes:
    """Write a file whose modification (and access) time is `age_days` before NOW."""
    p = os.fsencode(path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as fh:
        fh.write(data)
    t = days_ago(age_days)
    os.utime(p, ns=(t, t))
    return path


def age(path: Path, age_days: float) -> None:
    """Set the times of every file below `path` (not .git) to `age_days` before NOW."""
    t = days_ago(age_days)
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for f in files:
            os.utime(os.path.join(root, f), ns=(t, t))


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def git_repo(path: Path, tracked: list[str] = (), remote: str | None = None) -> Path:
    """A real repository at `path` with the given files (already written) committed."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    if remote:
        git(path, "remote", "add", "origin", remote)
    if tracked:
        git(path, "add", "-f", "--", *tracked)
        git(path, "commit", "-q", "-m", "init")
    return path


def file_record(path: bytes, host: str | None = None) -> dict:
    """A `file` record as scan writes it (schemas/records/file.schema.json)."""
    from hafs_cli.paths import path_fields

    st = os.lstat(path)
    rec = {"kind": "file", **path_fields(path)}
    if host:
        rec["host"] = host
    rec.update(
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
        dev=st.st_dev,
        inode=st.st_ino,
        nlink=st.st_nlink,
        mode=st.st_mode,
        extension=os.path.splitext(path)[1].lstrip(b".").lower().decode("utf-8", "replace"),
    )
    return rec


def scan(root: Path, skip_git: bool = True, host: str | None = None) -> list[dict]:
    """File records for every regular file below root, in sorted order."""
    out = []
    for dirpath, dirs, files in os.walk(os.fsencode(root)):
        dirs.sort()
        if skip_git:
            dirs[:] = [d for d in dirs if d != b".git"]
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(p).st_mode):
                out.append(file_record(p, host))
    return out


def dedup(files: list[dict]) -> list[dict]:
    """`dupgroup` records for file records (content hash; keeper: oldest, then shortest path)."""
    from hafs_cli.paths import record_path

    by_hash: dict[str, list[dict]] = {}
    for rec in files:
        if rec["size"] == 0:
            continue
        with open(record_path(rec), "rb") as fh:
            digest = blake3.blake3(fh.read()).hexdigest()
        by_hash.setdefault(digest, []).append(rec)
    groups = []
    for digest, recs in sorted(by_hash.items()):
        if len(recs) < 2:
            continue
        recs.sort(key=lambda r: (r["mtime_ns"], len(r["path"]), r["path"]))
        members = [
            {k: r[k] for k in ("path", "path_b64", "mtime_ns", "dev", "inode") if k in r}
            for r in recs
        ]
        groups.append(
            {
                "kind": "dupgroup",
                "blake3": digest,
                "size": recs[0]["size"],
                "members": members,
                "waste": recs[0]["size"] * (len(recs) - 1),
                "keeper": members[0],
                "keeper_rule": "oldest mtime",
            }
        )
    return groups


def jsonl(recs: list[dict]) -> bytes:
    from hafs_cli.records import dumps

    return b"".join(dumps(r) for r in recs)


def make_zip(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def make_tar(path: Path, members: dict[str, bytes]) -> None:
    import io

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def blob(seed: int, n: int) -> bytes:
    """Deterministic content: distinct per seed."""
    return blake3.blake3(seed.to_bytes(8, "little")).digest(length=n)


def findings_of(result) -> list[dict]:
    return [r for r in result.records if r.get("kind") == "finding"]


def planted_set(result) -> set[tuple[str, frozenset[str]]]:
    return {(f["rule"], frozenset(f["paths"])) for f in findings_of(result)}


@pytest.fixture
def run_recommend(hafs):
    """Run `hafs recommend --now NOW` over records; extra args and env pass through."""

    def run(recs: list[dict], *args: str, env: dict | None = None):
        return hafs("recommend", "--now", NOW_ARG, *args, input=jsonl(recs), env=env)

    return run
