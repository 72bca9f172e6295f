"""The few git queries hooks need, as plain functions over `git` subprocesses."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hafs_cli import exits
from hafs_cli.exits import HafsError


def git(*args: str, cwd: str | os.PathLike | None = None, input: bytes | None = None) -> bytes:
    """Run git; a failure becomes a HafsError carrying git's own message."""
    proc = _run(["git", "-c", "core.quotePath=false", *args], cwd, input)
    if proc.returncode != 0:
        where = cwd or os.getcwd()
        err = proc.stderr.decode("utf-8", "replace")
        if "not a git repository" in err.lower():
            raise HafsError(
                f"{where} is not in a git repository: run this inside one, or pass --repo DIR"
            )
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        # git's own reason is its fatal:/error: line; a usage text that follows is noise
        reason = next((x for x in lines if x.startswith(("fatal:", "error:"))), None)
        raise HafsError(f"git {args[0]} in {where}: {reason or (lines[0] if lines else 'failed')}")
    return proc.stdout


def _run(
    argv: list[str], cwd: str | os.PathLike | None, input: bytes | None = None
) -> subprocess.CompletedProcess:
    if cwd is not None and not os.path.isdir(cwd):
        raise HafsError(f"repository folder {cwd} does not exist: check --repo")
    try:
        return subprocess.run(argv, cwd=cwd, input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise HafsError(
            "git is not installed or not on PATH: install git (e.g. apt-get install git)",
            exits.RUNTIME,
        ) from None


def toplevel(cwd: str | os.PathLike | None = None) -> Path:
    out = git("rev-parse", "--show-toplevel", cwd=cwd).decode().strip()
    if not out:
        raise HafsError(f"{cwd or os.getcwd()} is a bare repository; hooks need a working tree")
    return Path(out)


def common_dir(cwd: str | os.PathLike | None = None) -> Path:
    """The git directory shared by all worktrees (where hooks live)."""
    out = git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=cwd)
    return Path(out.decode().strip())


def config_value(key: str, cwd: str | os.PathLike | None = None) -> str | None:
    proc = _run(["git", "config", "--get", key], cwd)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def unquote_path(raw: bytes) -> bytes:
    """Undo git's C-style quoting of a path ("a\\tb", octal escapes for raw bytes)."""
    if not (raw.startswith(b'"') and raw.endswith(b'"')):
        return raw
    body, out, i = raw[1:-1], bytearray(), 0
    simple = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
              ord("f"): 12, ord("r"): 13, ord("v"): 11}  # fmt: skip
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):
            nxt = body[i + 1]
            if 48 <= nxt <= 55:
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(simple.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)
