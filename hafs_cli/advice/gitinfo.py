"""Asking git: which repository holds a path, what it tracks, where its remotes point.

Only local repositories can be asked. A repository seen on another host (its `.git` is
in the input) cannot, so callers treat paths inside it as unknown and leave them alone.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess

from hafs_cli.advice.inventory import Inventory, nearest_ancestor

GIT_TIMEOUT_S = 60
PATHSPECS_PER_CALL = 1000  # well under ARG_MAX; --pathspec-from-file is not in every git


def in_git_dir(path: str) -> bool:
    """Inside a repository's own `.git` directory (never cleaned file by file)."""
    return "/.git/" in path or path.startswith(".git/")


class GitUnavailable(Exception):
    """git could not answer for a repository (not installed, not local, or it failed)."""


class Git:
    def __init__(self, inv: Inventory):
        self.inv = inv
        self.exe = shutil.which("git")
        self._root_cache: dict[tuple[str, str], str | None] = {}
        self.failures: dict[tuple[str, str], str] = {}

    def has_git_dir(self, host: str, directory: str) -> bool:
        if (host, directory) in self.inv.git_roots_seen:
            return True
        if self.inv.is_local(host):
            return os.path.lexists(directory.rstrip("/") + "/.git")
        return False

    def repo_root(self, host: str, path: str) -> str | None:
        """The nearest enclosing directory (or `path` itself) that holds a `.git`."""
        return nearest_ancestor(host, path, self._root_cache, lambda d: self.has_git_dir(host, d))

    def _run(self, root: str, args: list) -> bytes:
        if self.exe is None:
            raise GitUnavailable("git is not installed")
        try:
            proc = subprocess.run(
                [self.exe, "-c", "safe.directory=*", "-C", os.fsencode(root), *args],
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
                env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitUnavailable(str(exc)) from None
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitUnavailable(msg[-1] if msg else f"git exited {proc.returncode}")
        return proc.stdout

    def tracked_among(self, host: str, root: str, paths: list[str]) -> set[str]:
        """Which of `paths` (files or directories inside `root`) are, or hold, tracked files.

        Raises GitUnavailable when git cannot be asked (then nothing may be assumed).
        """
        if not self.inv.is_local(host):
            raise GitUnavailable(f"repository {root} is on {host}, which git here cannot ask")
        rels = {}
        for p in paths:
            rel = posixpath.relpath(p, root)
            rels[os.fsencode(rel)] = p
        specs = [b":(literal)" + r for r in sorted(rels)]
        out = b""
        for i in range(0, len(specs), PATHSPECS_PER_CALL):
            chunk = specs[i : i + PATHSPECS_PER_CALL]
            out += self._run(root, ["ls-files", "-z", "--cached", "--", *chunk])
        hit: set[str] = set()
        for tracked in out.split(b"\0"):
            if not tracked:
                continue
            cur = tracked
            while cur:
                if cur in rels:
                    hit.add(rels[cur])
                cur = posixpath.dirname(cur)
        return hit

    def protected(self, places) -> tuple[set, set]:
        """Split out the places git tracks (or holds), and those in repositories git cannot answer for.

        Returns (tracked, unknown); neither may be removed.
        """
        by_repo: dict[tuple[str, str], list[str]] = {}
        for host, path in places:
            root = self.repo_root(host, path)
            if root is not None:
                by_repo.setdefault((host, root), []).append(path)
        tracked: set = set()
        unknown: set = set()
        for (host, root), paths in sorted(by_repo.items()):
            try:
                tracked.update((host, p) for p in self.tracked_among(host, root, paths))
            except GitUnavailable as exc:
                self.failures[(host, root)] = str(exc)
                unknown.update((host, p) for p in paths)
        return tracked, unknown

    def work_state(self, root: str) -> dict:
        """Uncommitted changes and commits on no remote, so a person can judge an archive.

        Raises GitUnavailable when git cannot answer.
        """
        status = self._run(root, ["status", "--porcelain"])
        unpushed = self._run(root, ["rev-list", "--count", "--branches", "--not", "--remotes"])
        return {
            "uncommitted": sum(1 for line in status.splitlines() if line.strip()),
            "unpushed": int(unpushed.strip() or 0),
            "has_remote": bool(self.remotes(root)),
        }

    def remotes(self, root: str) -> list[str]:
        """The repository's remote URLs (empty when it has none)."""
        try:
            out = self._run(root, ["config", "--get-regexp", r"^remote\..*\.url$"])
        except GitUnavailable as exc:
            # `git config --get-regexp` exits 1 when nothing matches.
            if "exited 1" in str(exc):
                return []
            raise
        urls = []
        for line in out.decode("utf-8", "replace").splitlines():
            _, _, url = line.partition(" ")
            if url:
                urls.append(url.strip())
        return sorted(set(urls))


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")


def normalize_remote(url: str) -> str:
    """One spelling per remote: `git@github.com:a/b.git` and `https://github.com/a/b` agree."""
    u = url.strip()
    m = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.*)$", u, re.I)
    if m:
        host, path = m.group(1), m.group(2)
    else:
        m = _SCP_LIKE.match(u)
        if m and not u.startswith("/"):
            host, path = m.group(1), m.group(2)
        else:
            return posixpath.normpath(u.removesuffix("/").removesuffix(".git"))
    path = path.strip("/").removesuffix(".git")
    return f"{host.lower()}/{path}"
