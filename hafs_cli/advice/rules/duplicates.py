"""Duplicate groups from `hafs dedup`: free the copies that are not the keeper."""

from __future__ import annotations

import posixpath

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import HIGH, Finding, plural
from hafs_cli.advice.gitinfo import in_git_dir
from hafs_cli.advice.inventory import DupGroup, Entry, parent_of
from hafs_cli.advice.roots import managed
from hafs_cli.pipe import human_bytes


def file_type(path: str) -> str:
    """The type people group files by: the lower-case extension, or "(none)"."""
    name = posixpath.basename(path)
    stem, ext = posixpath.splitext(name)
    if ext and stem:
        if stem.lower().endswith(".tar"):
            return ".tar" + ext.lower()
        return ext.lower()
    return "(none)"


def _keeper(group: DupGroup, taken: set) -> tuple[Entry, str] | None:
    """dedup's keeper, unless another finding already removes it; then the oldest free copy."""
    if group.keeper is not None and group.keeper.place not in taken:
        return group.keeper, (group.keeper_rule or "chosen by dedup").replace("_", " ")
    free = [e for e in group.members if e.place not in taken]
    if not free:
        return None
    keeper = min(free, key=lambda e: (e.mtime_ns, len(e.path), e.host, e.path))
    if group.keeper is not None:
        return keeper, "oldest, then shortest path, as dedup's keeper is covered by another finding"
    return keeper, "oldest, then shortest path"


def _same_file(a: Entry, b: Entry) -> bool:
    return a.host == b.host and a.inode is not None and (a.dev, a.inode) == (b.dev, b.inode)


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("duplicates")
    action = cfg.get("action", "trash")
    out: list[Finding] = []
    by_type: dict[str, list[int]] = {}
    taken: set = ctx.cache.get("claimed", set())
    protected: set = ctx.cache.get("protected", set())
    members = [m.place for g in ctx.inv.dupgroups for m in g.members]
    tracked, unknown = ctx.git.protected(members)

    # A repository's own files are git's business, and files a package manager or a
    # virtualenv installed are theirs: never removed one by one, and never the keeper a
    # removal relies on (an uninstall would take the last copy). A hard link leaves every
    # path in place, so it may include installed files; nothing touches `.git`.
    def excluded(path: str) -> bool:
        return in_git_dir(path) if action == "hardlink" else managed(parent_of(path))

    for group in ctx.inv.dupgroups:
        every = group.members
        eligible = [m for m in every if not excluded(m.path)]
        if len(eligible) < 2:
            ctx.skip("duplicates_in_managed_dirs")
            continue
        left_alone = len(every) - len(eligible)
        if left_alone:
            group = DupGroup(
                group.digest,
                group.size,
                eligible,
                group.keeper if any(group.keeper is m for m in eligible) else None,
                group.keeper_rule,
            )
        chosen = _keeper(group, taken)
        if chosen is None:
            ctx.skip("duplicates_all_copies_covered")
            continue
        keeper, why = chosen
        others = [m for m in group.members if m is not keeper and not _same_file(m, keeper)]
        # Only copies on the keeper's host can be acted on; the others are shown, not touched.
        # Copies git tracks stay (removing them would change a repository).
        targets = [
            m
            for m in others
            if m.host == keeper.host
            and m.place not in taken
            and m.place not in protected
            and m.place not in tracked
            and m.place not in unknown
            and not (action == "hardlink" and m.dev is not None and m.dev != keeper.dev)
        ]
        kept = [m for m in others if m.place in tracked or m.place in unknown]
        waste = sum(m.size for m in targets)
        if not targets or waste < cfg.get("min_bytes", 1):
            ctx.skip("duplicates_below_min_bytes" if targets else "duplicates_nothing_to_free")
            continue
        ftype = file_type(keeper.path)
        t = by_type.setdefault(ftype, [0, 0, 0])
        t[0] += 1
        t[1] += len(targets)
        t[2] += waste
        shown = sorted(every, key=lambda e: (e is not keeper, e.host, e.path))
        remote = sum(1 for m in others if m.host != keeper.host)
        reason = (
            f"{len(every)} files have identical content (blake3 {group.digest[:12]}…, "
            f"{human_bytes(group.size)} each); keeping {keeper.path} ({why}) frees "
            f"{human_bytes(waste)}"
            + (f"; {plural(remote, 'copy', 'copies')} on other hosts left alone" if remote else "")
            + (f"; {plural(len(kept), 'copy', 'copies')} tracked by git kept" if kept else "")
            + (
                f"; {plural(left_alone, 'copy', 'copies')} in git, package or virtualenv "
                "directories left alone"
                if left_alone
                else ""
            )
            + "."
        )
        hosts = [e.host for e in shown]
        out.append(
            Finding(
                rule="duplicates",
                reason=reason,
                host=keeper.host,
                paths=[e.path for e in shown],
                hosts=hosts if len(set(hosts)) > 1 else None,
                confidence=HIGH,
                action=action,
                reversible=True,
                targets=sorted(targets, key=lambda e: e.path),
                keeper=keeper,
                size=group.size * len(every),
                details={"blake3": group.digest, "file_type": ftype},
            )
        )
    ctx.summary["duplicates_by_type"] = [
        {"file_type": k, "groups": v[0], "files": v[1], "bytes": v[2]}
        for k, v in sorted(by_type.items(), key=lambda kv: (-kv[1][2], kv[0]))
    ]
    return out
