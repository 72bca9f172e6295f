"""Project and repository roots, and which input files lie below them."""

from __future__ import annotations

from hafs_cli.advice.context import Context
from hafs_cli.advice.inventory import Entry, Place, nearest_ancestor

# Directories a tool manages (git, package managers, virtual environments): their insides
# are never a project of their own, and never files to remove one by one.
MANAGED_DIRS = frozenset(
    {".git", "node_modules", "site-packages", "dist-packages", ".venv", "venv", ".tox"}
)


def managed(path: str) -> bool:
    """Inside (or at) a directory that git, a package manager or a virtualenv manages."""
    return not MANAGED_DIRS.isdisjoint(path.split("/"))


def git_roots(ctx: Context) -> set[Place]:
    """Every repository root: a `.git` seen in the input, or on disk for local paths."""
    if "git_roots" in ctx.cache:
        return ctx.cache["git_roots"]
    roots = {p for p in ctx.inv.git_roots_seen if not managed(p[1])}
    # A repository root holds files of its own (README, .gitignore, ...); a `.git` under a
    # directory with none is found only when the scan listed it.
    for (host, d), st in ctx.inv.dirstats().items():
        if not st.direct_files or not ctx.inv.is_local(host) or managed(d):
            continue
        if ctx.git.has_git_dir(host, d):
            roots.add((host, d))
    ctx.cache["git_roots"] = roots
    return roots


def outermost(places: set[Place]) -> set[Place]:
    """Drop every place that lies inside another one of the set (same host)."""
    kept: list[Place] = []
    for host, path in sorted(places, key=lambda hp: (hp[0], hp[1].split("/"))):
        if kept and kept[-1][0] == host and path.startswith(kept[-1][1].rstrip("/") + "/"):
            continue
        kept.append((host, path))
    return set(kept)


class RootIndex:
    """Which root (from a fixed set of non-nested roots) holds a path."""

    def __init__(self, roots: set[Place]):
        self.roots = roots
        self._memo: dict[Place, str | None] = {}

    def root_of_dir(self, host: str, d: str) -> Place | None:
        root = nearest_ancestor(host, d, self._memo, lambda p: (host, p) in self.roots)
        return None if root is None else (host, root)

    def files_by_root(self, ctx: Context) -> dict[Place, list[Entry]]:
        out: dict[Place, list[Entry]] = {}
        for (host, d), entries in ctx.inv.by_dir.items():
            root = self.root_of_dir(host, d)
            if root is not None:
                out.setdefault(root, []).extend(entries)
        return out

    def inside(self, host: str, path: str) -> bool:
        return self.root_of_dir(host, path) is not None
