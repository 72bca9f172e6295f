"""Caches and build output that tools recreate, never anything git tracks."""

from __future__ import annotations

import posixpath

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import HIGH, MEDIUM, Finding, acting_on, plural
from hafs_cli.advice.inventory import Entry, Place, basename, nearest_ancestor, parent_of
from hafs_cli.advice.roots import outermost
from hafs_cli.pipe import human_bytes


def watched_names(settings: dict) -> frozenset[str]:
    """Directory names the inventory indexes while reading (so no second pass is needed)."""
    cfg = settings.get("regenerable", {})
    if not cfg.get("enabled", True):
        return frozenset()
    return frozenset(cfg.get("cache_dirs", [])) | frozenset(cfg.get("build_dirs", {}))


def _qualifies(ctx: Context, host: str, directory: str) -> str | None:
    """Why this directory is regenerable (or None): a cache name, or build output beside its project file."""
    cfg = ctx.cfg("regenerable")
    name = basename(directory)
    if name in cfg.get("cache_dirs", []):
        return f"{name} is a cache that its tool recreates"
    parent = parent_of(directory)
    for marker in cfg.get("build_dirs", {}).get(name, []):
        if (host, posixpath.join(parent, marker)) in ctx.inv.files:
            return f"{name} is build output of the project whose {marker} sits beside it"
    return None


def _drop_tracked(ctx: Context, places: list[Place]) -> list[Place]:
    """Keep only places git tracks nothing in (and that git could be asked about)."""
    tracked, unknown = ctx.git.protected(places)
    ctx.skip("regenerable_tracked_by_git", len(tracked))
    ctx.skip("regenerable_git_unavailable", len(unknown))
    return sorted(p for p in places if p not in tracked and p not in unknown)


def _anchor(ctx: Context, host: str, directory: str) -> str | None:
    """The repository or project a cache belongs to (caches are reported per anchor)."""
    root = ctx.git.repo_root(host, directory)
    if root is not None:
        return root
    return _project_above(ctx, host, parent_of(directory))


def _project_above(ctx: Context, host: str, directory: str) -> str | None:
    """The nearest directory at or above `directory` holding a project marker file."""
    markers = ctx.cfg("projects").get("markers", [])
    files = ctx.inv.files

    def has_marker(d: str) -> bool:
        prefix = d.rstrip("/") + "/"
        return any((host, prefix + m) in files for m in markers)

    return nearest_ancestor(host, directory, ctx.cache.setdefault("project_above", {}), has_marker)


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("regenerable")
    cache_names = set(cfg.get("cache_dirs", []))
    reasons: dict[Place, str] = {}
    for place in ctx.inv.named_dirs:
        why = _qualifies(ctx, *place)
        if why:
            reasons[place] = why
    dirs = _drop_tracked(ctx, sorted(outermost(set(reasons))))
    # Caches of one name in one repository or project make one finding; build output one each.
    groups: dict[tuple[str, str, str], list[str]] = {}
    for host, d in dirs:
        name = basename(d)
        anchor = _anchor(ctx, host, d) if name in cache_names else None
        groups.setdefault((host, name, anchor or d), []).append(d)
    out: list[Finding] = []
    for (host, name, anchor), members in sorted(groups.items()):
        files = [e for d in members for e in ctx.inv.named_dirs[(host, d)]]
        size = sum(e.size for e in files)
        counts = f"{plural(len(files), 'file')}, {human_bytes(size)}, none tracked by git."
        if len(members) == 1:
            reason = f"{reasons[(host, members[0])]}; {counts}"
        else:
            reason = f"{len(members)} {name} directories in {anchor}: caches their tool recreates; {counts}"
        confidence = HIGH if name in cache_names else MEDIUM
        out.append(
            acting_on(
                "regenerable",
                files,
                reason,
                confidence,
                "trash",
                members,
                files=len(files),
                directories=len(members),
            )
        )
    out.extend(_junk_files(ctx, set(dirs)))
    return out


def _inside(place: Place, dirs: set[Place]) -> bool:
    host, path = place
    cur = parent_of(path)
    while True:
        if (host, cur) in dirs:
            return True
        parent = parent_of(cur)
        if parent == cur:
            return False
        cur = parent


def _junk_files(ctx: Context, covered: set[Place]) -> list[Finding]:
    """.DS_Store and Thumbs.db: one finding per name and host."""
    names = set(ctx.cfg("regenerable").get("junk_files", []))
    if not names:
        return []
    found: dict[tuple[str, str], list[Entry]] = {}
    for e in ctx.inv.named(names.__contains__):
        if not _inside(e.place, covered):
            found.setdefault((e.host, basename(e.path)), []).append(e)
    out = []
    for (_host, name), entries in sorted(found.items()):
        keep = set(_drop_tracked(ctx, [e.place for e in entries]))
        files = sorted((e for e in entries if e.place in keep), key=lambda e: e.path)
        if not files:
            continue
        size = sum(e.size for e in files)
        reason = (
            f"{plural(len(files), name + ' file')} ({human_bytes(size)}): folder metadata the "
            "operating system recreates, none tracked by git."
        )
        out.append(acting_on("regenerable", files, reason, HIGH, "trash", files=len(files)))
    return out
