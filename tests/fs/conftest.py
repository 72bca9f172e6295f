"""Fixtures for scan/dedup/apply: generated trees with known duplicates, jdupes, snapshots."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hafs_cli.paths import record_path
from hafs_cli.schemas import validate_record
from scripts.bench_dedup import parse_jdupes

REPO = Path(__file__).resolve().parents[2]
# As root, permission bits do not stop reads; without these capabilities they do.
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all"]


def unprivileged() -> list[str]:
    """argv prefix under which mode-000 files are unreadable (also when run as root)."""
    return NO_DAC if os.geteuid() == 0 else []


BAD_NAME = b"bad-\xff\xfe-name.txt"  # not valid UTF-8


def write(path: Path | bytes, data: bytes) -> bytes:
    p = os.fsencode(path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as fh:
        fh.write(data)
    return p


def blob(seed: int, size: int) -> bytes:
    """Deterministic pseudo-random bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.blake2b(f"{seed}:{counter}".encode(), digest_size=64).digest()
        counter += 1
    return bytes(out[:size])


def build_tree(root: Path) -> dict:
    """A tree with every case dedup must get right; returns what is where.

    groups: the expected duplicate groups as sets of raw paths (hard links collapsed
    to the first name listed here).
    """
    r = os.fsencode(root)
    j = os.path.join
    big = blob(1, 300_000)
    small = b"hello duplicate\n"
    mid = blob(2, 20_000)
    expected = []
    # 1. three copies of a big file, one under a name with spaces and a newline
    g1 = [
        write(j(r, b"a/big.bin"), big),
        write(j(r, b"b/big copy.bin"), big),
        write(j(r, b"c/new\nline.bin"), big),
    ]
    expected.append(set(g1))
    # 2. small duplicates, one under an invalid UTF-8 name
    g2 = [write(j(r, b"a/small.txt"), small), write(j(r, b"b/" + BAD_NAME), small)]
    expected.append(set(g2))
    # 3. a copy plus a hard link of it: the link is the same file, not a third copy
    g3a = write(j(r, b"a/mid.dat"), mid)
    g3b = write(j(r, b"d/mid-copy.dat"), mid)
    os.link(g3a, j(r, b"d/mid-hardlink.dat"))
    expected.append({g3a, g3b})
    # 4. hard links only: never their own duplicates
    solo = write(j(r, b"e/solo.dat"), blob(3, 5000))
    os.link(solo, j(r, b"e/solo-link.dat"))
    # 5. same size, different content
    write(j(r, b"f/same-size-1.dat"), blob(4, 10_000))
    write(j(r, b"f/same-size-2.dat"), blob(5, 10_000))
    # 6. same head, different tail (and same head+tail, different middle)
    head = blob(6, 4096)
    write(j(r, b"g/head-1.dat"), head + blob(7, 8000))
    write(j(r, b"g/head-2.dat"), head + blob(8, 8000))
    edge_a = head + blob(9, 10_000) + blob(10, 4096)
    edge_b = head + blob(11, 10_000) + blob(10, 4096)
    write(j(r, b"g/edges-1.dat"), edge_a)
    write(j(r, b"g/edges-2.dat"), edge_b)
    # 7. empty files and symlinks: not duplicates by default
    write(j(r, b"h/empty-1"), b"")
    write(j(r, b"h/empty-2"), b"")
    os.symlink(b"../a/big.bin", j(r, b"h/link-to-big"))
    os.symlink(b"../a/small.txt", j(r, b"h/link-to-small"))
    return {"root": r, "groups": expected, "big": big, "small": small}


def file_digest(path: bytes) -> str:
    import blake3

    with open(path, "rb") as fh:
        return blake3.blake3(fh.read()).hexdigest()


def identity(path: bytes) -> tuple[int, int]:
    st = os.lstat(path)
    return (st.st_dev, st.st_ino)


def groups_by_inode(groups) -> set[frozenset]:
    """Groups of paths as groups of file identities (hard links are one file)."""
    return {frozenset(identity(p) for p in g) for g in groups}


def dupgroup_paths(rec: dict) -> set[bytes]:
    return {record_path(m) for m in rec["members"]}


def jdupes_groups(root: bytes, unprivileged_run: bool = False) -> list[set[bytes]]:
    """jdupes -r's groups (hard links and empty files left out by default)."""
    prefix = unprivileged() if unprivileged_run else []
    out = subprocess.run(
        [*prefix, "jdupes", "-r", "-q", "-0", root], capture_output=True, check=False
    ).stdout
    return parse_jdupes(out)


def snapshot(root: bytes) -> dict[bytes, tuple]:
    """Every entry under root: type, mode, content (files) or target (links), mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[p] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[p] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                with open(p, "rb") as fh:
                    data = fh.read()
                out[p] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, data)
    return out


def assert_valid(records: list[dict]) -> None:
    for rec in records:
        problems = validate_record(rec)
        assert not problems, (rec, problems)


@pytest.fixture
def tree(tmp_path) -> dict:
    return build_tree(tmp_path / "tree")


def run_hafs(args, *, input=None, env=None, unprivileged_run=False, timeout=120):
    """Run hafs as a real subprocess (optionally where mode bits apply even to root)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run(
        [*(unprivileged() if unprivileged_run else []), sys.executable, "-m", "hafs_cli", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
