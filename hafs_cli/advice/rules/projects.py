"""Scattered projects: one project (same git remote, or same root name with shared content)
in several places or on several hosts. Information for a person to consolidate."""

from __future__ import annotations

import posixpath
from collections import defaultdict

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import MEDIUM, Finding
from hafs_cli.advice.gitinfo import GitUnavailable, normalize_remote
from hafs_cli.advice.inventory import Place, parent_of
from hafs_cli.advice.roots import RootIndex, git_roots, managed, outermost
from hafs_cli.pipe import human_bytes


class _Union:
    def __init__(self) -> None:
        self.parent: dict[Place, Place] = {}
        self.why: dict[Place, list[str]] = defaultdict(list)

    def find(self, x: Place) -> Place:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: Place, b: Place) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def project_roots(ctx: Context) -> set[Place]:
    markers = set(ctx.cfg("projects").get("markers", []))
    roots = set(git_roots(ctx))
    for e in ctx.inv.named(markers.__contains__):
        parent = parent_of(e.path)
        if parent and not managed(parent):
            roots.add((e.host, parent))
    return outermost(roots)


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("projects")
    roots = project_roots(ctx)
    repos = git_roots(ctx)
    uf = _Union()
    evidence: dict[frozenset, str] = {}

    # Same remote.
    by_remote: dict[str, list[Place]] = defaultdict(list)
    for host, root in sorted(roots & repos):
        if not ctx.inv.is_local(host):
            continue
        try:
            urls = ctx.git.remotes(root)
        except GitUnavailable:
            ctx.skip("projects_git_unavailable")
            continue
        for url in urls:
            by_remote[normalize_remote(url)].append((host, root))
    for remote, places in sorted(by_remote.items()):
        for other in places[1:]:
            uf.join(places[0], other)
        if len(places) > 1:
            evidence[frozenset(places)] = f"the same git remote {remote}"

    # Same root name with shared content.
    by_name: dict[str, list[Place]] = defaultdict(list)
    for place in sorted(roots):
        by_name[posixpath.basename(place[1])].append(place)
    candidates = {p for places in by_name.values() if len(places) > 1 for p in places}
    if candidates:
        index = RootIndex(candidates)
        files = index.files_by_root(ctx)
        digests = {r: {e.digest for e in fs if e.digest} for r, fs in files.items()}
        share = float(cfg.get("min_shared_fraction", 0.5))
        for name, places in sorted(by_name.items()):
            for i, a in enumerate(places):
                for b in places[i + 1 :]:
                    common = digests.get(a, set()) & digests.get(b, set())
                    smaller = min(len(files.get(a, ())), len(files.get(b, ()))) or 1
                    if common and len(common) / smaller >= share:
                        uf.join(a, b)
                        evidence.setdefault(
                            frozenset((a, b)),
                            f"the same name {name!r} with {len(common)} identical files",
                        )

    groups: dict[Place, list[Place]] = defaultdict(list)
    for place in list(uf.parent):
        groups[uf.find(place)].append(place)
    stats = ctx.inv.dirstats()
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort()
        why = sorted({text for key, text in evidence.items() if key <= set(members)})
        size = sum(stats[m].bytes for m in members if m in stats)
        newest = max(members, key=lambda m: (stats[m].newest_ns if m in stats else 0, m))
        hosts = [h for h, _ in members]
        out.append(
            Finding(
                rule="scattered-projects",
                reason=f"one project in {len(members)} places ({human_bytes(size)} in all), "
                f"linked by {' and '.join(why)}; the most recently changed copy is "
                f"{newest[1]}"
                + (f" on {newest[0] or 'this machine'}" if len(set(hosts)) > 1 else "")
                + ".",
                host=members[0][0],
                paths=[p for _, p in members],
                hosts=hosts if len(set(hosts)) > 1 else None,
                confidence=MEDIUM,
                action=None,
                reversible=True,
                size=size,
                details={"newest": newest[1]},
            )
        )
    return out
