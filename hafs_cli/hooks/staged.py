"""What is staged for the next commit: paths, index blobs and the line numbers added.

Reads the index (not the working tree), so a partly staged file is checked as it
will be committed. Four git processes in all, whatever the number of files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from hafs_cli.hooks.git import git, unquote_path

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_SKIP_MODES = (b"160000", b"120000")  # submodules and symlinks carry no content to check


@dataclass(frozen=True)
class StagedFile:
    path: bytes
    blob: str
    status: str  # A (added), M (modified), C (copied), R (renamed)
    content: bytes
    added: frozenset[int] | None  # line numbers added; None: the whole file is new

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def is_binary(self) -> bool:
        return b"\0" in self.content[:8192]


def staged_files(repo: str | os.PathLike | None = None) -> list[StagedFile]:
    """Every added, copied, modified or renamed file in the index, with its staged content."""
    # outside a repository `git diff --cached` only complains about its options
    git("rev-parse", "--git-dir", cwd=repo)
    raw = git(
        "diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=ACMR",
        cwd=repo,
    )  # fmt: skip
    entries = _parse_raw(raw)
    if not entries:
        return []
    blobs = _read_blobs([sha for _, sha, _ in entries], repo)
    modified = [path for path, _, status in entries if status == "M"]
    added_lines = _added_lines(repo) if modified else {}
    return [
        StagedFile(
            path,
            sha,
            status,
            blobs[sha],
            added_lines.get(path, frozenset()) if status == "M" else None,
        )
        for path, sha, status in entries
    ]


def _parse_raw(raw: bytes) -> list[tuple[bytes, str, str]]:
    parts = raw.split(b"\0")
    out = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        _, new_mode, _, new_sha, status = meta[1:].split(b" ")
        if new_mode in _SKIP_MODES:
            continue
        out.append((path, new_sha.decode(), status.decode()[:1]))
    return out


def _read_blobs(shas: list[str], repo) -> dict[str, bytes]:
    data = git("cat-file", "--batch", cwd=repo, input="".join(f"{s}\n" for s in shas).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in shas:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split(b" ")
        size = int(header[2])
        blobs[sha] = data[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size + 1
    return blobs


def _added_lines(repo) -> dict[bytes, frozenset[int]]:
    """Line numbers (in the staged version) of lines added to modified files."""
    diff = git(
        "diff", "--cached", "-U0", "--no-color", "--no-ext-diff", "--no-renames",
        "--diff-filter=M", "--src-prefix=a/", "--dst-prefix=b/", cwd=repo,
    )  # fmt: skip
    result: dict[bytes, set[int]] = {}
    current: set[int] | None = None
    for line in diff.split(b"\n"):
        if line.startswith(b"+++ "):
            target = unquote_path(line[4:].rstrip(b"\t"))
            current = result.setdefault(target[2:] if target.startswith(b"b/") else target, set())
        elif line.startswith(b"@@") and current is not None:
            m = _HUNK.match(line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) or b"1")
                current.update(range(start, start + count))
    return {path: frozenset(lines) for path, lines in result.items()}
