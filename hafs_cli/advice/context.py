"""What every rule gets: the indexed input, git, its settings, the reference time, counters."""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from dataclasses import dataclass, field

from hafs_cli.advice.gitinfo import Git
from hafs_cli.advice.inventory import Inventory

NS_PER_DAY = 86_400 * 10**9


@dataclass
class Context:
    inv: Inventory
    settings: dict  # the [recommend] section, defaults applied
    now_ns: int
    git: Git = None  # type: ignore[assignment]
    counts: Counter = field(default_factory=Counter)
    summary: dict = field(default_factory=dict)  # extra summary fields a rule reports
    cache: dict = field(default_factory=dict)  # facts several rules share (computed once)

    def __post_init__(self) -> None:
        if self.git is None:
            self.git = Git(self.inv)

    def cfg(self, rule: str) -> dict:
        return self.settings.get(rule, {})

    def older_than_days(self, ns: int, days: int) -> bool:
        return ns <= self.now_ns - days * NS_PER_DAY

    def skip(self, reason: str, n: int = 1) -> None:
        """Count something a rule left alone on purpose (reported in the summary)."""
        self.counts[reason] += n


def name_matcher(patterns: list[str]):
    """A case-insensitive matcher for file-name globs (returns a match or None)."""
    if not patterns:
        return lambda name: None
    rx = re.compile("|".join(fnmatch.translate(p) for p in patterns), re.IGNORECASE)
    return rx.match
