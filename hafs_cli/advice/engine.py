"""Run the rules over an inventory and put their findings in a stable order.

Order of work: every rule but duplicates runs; findings that would trash git-tracked
files lose those files; each file is claimed by the first finding (in CLAIM_ORDER) that
acts on it; then duplicates runs and picks keepers among the files nobody else removes,
so no content ever loses its last copy to two findings acting at once.
"""

from __future__ import annotations

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import RULES, Finding, plural
from hafs_cli.advice.gitinfo import in_git_dir
from hafs_cli.advice.inventory import parent_of
from hafs_cli.advice.roots import managed
from hafs_cli.advice.rules import (
    archives,
    downloads,
    duplicates,
    experiments,
    largest,
    projects,
    regenerable,
    temporary,
)

# rule name in findings -> (config section, module)
RULE_MODULES = {
    "regenerable": ("regenerable", regenerable),
    "extracted-archives": ("archives", archives),
    "temporary": ("temporary", temporary),
    "old-downloads": ("downloads", downloads),
    "abandoned-experiments": ("experiments", experiments),
    "scattered-projects": ("projects", projects),
    "largest": ("largest", largest),
}
# Whole-directory advice first, so a file inside a cache is not also a lone temp file.
CLAIM_ORDER = (
    "regenerable",
    "extracted-archives",
    "temporary",
    "old-downloads",
    "abandoned-experiments",
)
# Rules whose trash actions must never touch what git tracks (regenerable checks itself).
GIT_GUARDED = ("extracted-archives", "temporary", "old-downloads")


def enabled(settings: dict, section: str) -> bool:
    return bool(settings.get(section, {}).get("enabled", True))


def run_rules(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for _rule, (section, module) in RULE_MODULES.items():
        if enabled(ctx.settings, section):
            findings.extend(module.find(ctx))
    findings = _guard_tracked(ctx, findings)
    findings = _claim(ctx, findings)
    if enabled(ctx.settings, "duplicates"):
        findings.extend(duplicates.find(ctx))
    findings.sort(key=Finding.sort_key)
    return findings


def _guard_tracked(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """Drop trash targets git tracks (or cannot vouch for) or that installed software owns,
    and any target inside `.git/`."""
    guarded = {id(f) for f in findings if f.rule in GIT_GUARDED and f.action == "trash"}
    tracked, unknown = ctx.git.protected(
        {t.place for f in findings if id(f) in guarded for t in f.targets}
    )
    ctx.skip("tracked_by_git", len(tracked))
    ctx.skip("git_unavailable", len(unknown))
    keep_out = tracked | unknown
    out = []
    for f in findings:
        if f.action and f.rule != "abandoned-experiments":
            left = [
                t
                for t in f.targets
                if not in_git_dir(t.path)
                and (
                    id(f) not in guarded
                    or (t.place not in keep_out and not managed(parent_of(t.path)))
                )
            ]
            if not left:
                continue
            if len(left) < len(f.targets):
                gone = len(f.targets) - len(left)
                f.reason += (
                    f" ({plural(gone, 'file')} tracked by git, or inside .git or installed "
                    "software, left out.)"
                )
                kept = {t.place for t in left}
                f.targets = left
                if f.rule in GIT_GUARDED:
                    f.paths = [p for p in f.paths if (f.host, p) in kept]
        out.append(f)
    return out


def _claim(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """Give each file to the first finding that acts on it; files a finding relies on
    (an archive's extracted copies) can then be removed by no other."""
    claimed: set = set()
    protected: set = set()
    out = []
    acting = sorted(
        (f for f in findings if f.action),
        key=lambda f: (CLAIM_ORDER.index(f.rule), RULES.index(f.rule), f.sort_key()),
    )
    for f in acting:
        if any(e.place in claimed for e in f.relies_on):
            ctx.skip("evidence_removed_by_other_findings")
            continue
        left = [t for t in f.targets if t.place not in claimed and t.place not in protected]
        if not left:
            ctx.skip("covered_by_other_findings")
            continue
        if len(left) < len(f.targets):
            _narrow(f, left, claimed)
        claimed.update(t.place for t in left)
        protected.update(e.place for e in f.relies_on)
        out.append(f)
    out.extend(f for f in findings if not f.action)
    ctx.cache["claimed"] = claimed
    ctx.cache["protected"] = protected
    return out


def _narrow(f: Finding, left: list, claimed: set) -> None:
    """Keep only the targets `left`, and say why the others went."""
    covered = sum(1 for t in f.targets if t.place in claimed)
    kept = len(f.targets) - len(left) - covered
    notes = []
    if covered:
        notes.append(f"{plural(covered, 'file')} already covered by another finding")
    if kept:
        notes.append(f"{plural(kept, 'file')} kept as the extracted copy of an archive")
    f.reason += f" ({'; '.join(notes)}.)"
    if set(f.paths) == {t.path for t in f.targets}:
        f.paths = [t.path for t in left]
    f.targets = left
