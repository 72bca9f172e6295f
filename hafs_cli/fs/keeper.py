"""Which copy of a duplicate group to keep, and the rule that decided it.

Order of rules: a preferred path pattern (earlier patterns first), not in an avoided
path pattern, the oldest mtime, the shortest path, then plain path order (so the choice
is always the same for the same group).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Member(Protocol):
    path: bytes
    mtime_ns: int


def _spec(pattern: str):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines([os.path.expanduser(pattern)])


@dataclass(frozen=True)
class KeeperRules:
    """Preferred and avoided path patterns (gitignore syntax, ~ expanded, absolute paths)."""

    prefer: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    _prefer: list = field(init=False, repr=False, compare=False)
    _avoid: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from hafs_cli.fs.trash import TRASH_PATTERNS

        # Copies in a trash or quarantine are kept last, whatever else is configured.
        object.__setattr__(self, "avoid", tuple(self.avoid) + TRASH_PATTERNS)
        object.__setattr__(self, "_prefer", [_spec(p) for p in self.prefer])
        object.__setattr__(self, "_avoid", [_spec(p) for p in self.avoid])

    @staticmethod
    def _first_match(specs: list, path: bytes) -> int:
        text = path.decode("utf-8", "surrogateescape").lstrip("/")
        for i, spec in enumerate(specs):
            if spec.match_file(text):
                return i
        return len(specs)

    def rank(self, m: Member) -> tuple:
        preferred = self._first_match(self._prefer, m.path)
        avoided = self._first_match(self._avoid, m.path) < len(self._avoid)
        return (preferred, avoided, m.mtime_ns, len(m.path), m.path)

    def choose(self, members: Sequence[Member]) -> tuple[Member, str, str | None]:
        """(keeper, rule, pattern) where rule is prefer|avoid|oldest|shortest_path|path_order."""
        ranks = sorted((self.rank(m), i) for i, m in enumerate(members))  # each ranked once
        (a, first), (b, second) = ranks[0], ranks[1]
        best, runner_up = members[first], members[second]
        if a[0] != b[0]:
            return best, "prefer", self.prefer[a[0]]
        if a[1] != b[1]:
            return best, "avoid", self.avoid[self._first_match(self._avoid, runner_up.path)]
        if a[2] != b[2]:
            return best, "oldest", None
        if a[3] != b[3]:
            return best, "shortest_path", None
        return best, "path_order", None
