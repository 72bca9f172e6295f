"""Abandoned experiments: repositories and training runs unchanged for N months, and large
checkpoints untouched for N days, as archive candidates."""

from __future__ import annotations

import posixpath

from hafs_cli.advice.context import NS_PER_DAY, Context, name_matcher
from hafs_cli.advice.findings import LOW, MEDIUM, Finding, acting_on, day, plural
from hafs_cli.advice.gitinfo import GitUnavailable
from hafs_cli.advice.inventory import Place, parent_of
from hafs_cli.advice.roots import RootIndex, git_roots, managed, outermost
from hafs_cli.pipe import human_bytes


def _run_dirs(ctx: Context) -> set[Place]:
    is_marker = name_matcher(ctx.cfg("experiments").get("run_markers", []))
    runs = set()
    for e in ctx.inv.named(is_marker):
        parent = parent_of(e.path)
        if parent and not managed(parent):
            runs.add((e.host, parent))
    return runs


def _repo_state(ctx: Context, host: str, root: str) -> tuple[dict | None, str]:
    """What git says about unsaved work in a repository, and a clause for the reason."""
    if not ctx.inv.is_local(host):
        return None, "; git could not be asked about unpushed work (another host)"
    try:
        state = ctx.git.work_state(root)
    except GitUnavailable as exc:
        ctx.git.failures[(host, root)] = str(exc)
        return None, "; git could not be asked about unpushed work"
    notes = []
    if state["uncommitted"]:
        notes.append(plural(state["uncommitted"], "uncommitted change"))
    if not state["has_remote"]:
        notes.append("no remote")
    elif state["unpushed"]:
        notes.append(plural(state["unpushed"], "commit") + " on no remote")
    return state, "; " + (", ".join(notes) if notes else "clean, and every commit is on a remote")


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("experiments")
    months = int(cfg.get("months", 6))
    stale_before = ctx.now_ns - months * 30 * NS_PER_DAY
    stats = ctx.inv.dirstats()
    repos = git_roots(ctx)
    runs = _run_dirs(ctx)
    # The outermost stale place speaks for everything stale inside it.
    stale = outermost(
        {p for p in repos | runs if p in stats and 0 < stats[p].newest_ns <= stale_before}
    )
    index = RootIndex(stale)
    files = index.files_by_root(ctx)
    out = []
    for place in sorted(stale):
        host, path = place
        entries = sorted(files.get(place, []), key=lambda e: e.path)
        if not entries:
            continue
        what = "git repository" if place in repos else "training-run directory"
        size = sum(e.size for e in entries)
        reason = (
            f"{what} with {plural(len(entries), 'file')} ({human_bytes(size)}) unchanged since "
            f"{day(stats[place].newest_ns)}, more than {months} months ago"
        )
        details: dict = {"files": len(entries), "what": what.split()[0]}
        confidence = LOW
        if place in repos:
            state, note = _repo_state(ctx, host, path)
            reason += note
            if state is not None:
                details.update(state)
                if state["has_remote"] and not state["uncommitted"] and not state["unpushed"]:
                    confidence = MEDIUM
        finding = acting_on(
            "abandoned-experiments", entries, reason + ".", confidence, "archive", [path], **details
        )
        out.append(finding)
    out.extend(_checkpoints(ctx, index))
    return out


def _checkpoints(ctx: Context, covered: RootIndex) -> list[Finding]:
    cfg = ctx.cfg("experiments")
    exts = {x.lower() for x in cfg.get("checkpoint_extensions", [])}
    days = int(cfg.get("checkpoint_days", 90))
    min_bytes = int(cfg.get("checkpoint_min_bytes", 100 << 20))
    out = []
    for (host, path), e in ctx.inv.files.items():
        if e.size < min_bytes or posixpath.splitext(path)[1].lower() not in exts:
            continue
        if not ctx.older_than_days(e.touched_ns, days):
            ctx.skip("checkpoints_recent")
            continue
        if covered.inside(host, parent_of(path)):
            continue
        reason = (
            f"checkpoint of {human_bytes(e.size)} untouched since {day(e.touched_ns)}, "
            f"more than {days} days ago."
        )
        out.append(
            acting_on("abandoned-experiments", [e], reason, MEDIUM, "archive", what="checkpoint")
        )
    return out
