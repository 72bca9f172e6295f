"""Which copy of a duplicate group to keep, and the rule that decided it.

Order of rules: a preferred path pattern (earlier patterns first), not in an avoided
path pattern, the oldest mtime, the shortest path, then plain path order (so the choice
is always the same for the same group).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Member(Protocol):
    path: bytes
    mtime_ns: int


_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


def _any_pattern(specs: list) -> Callable[[str], object] | None:
    """One regex that matches wherever any of the specs' including patterns matches
    (a quick "no" for most paths; a "yes" is checked pattern by pattern). None when
    the patterns cannot be combined."""
    parts = [
        _NAMED_GROUP.sub("(?:", p.regex.pattern)
        for spec in specs
        for p in spec.patterns
        if p.include and p.regex is not None
    ]
    if not parts:
        return lambda text: None  # only negations or comments: nothing matches
    try:
        return re.compile("|".join(f"(?:{part})" for part in parts)).match
    except (re.error, TypeError):
        return None


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
    _maybe_prefer: Callable[[str], object] | None = field(init=False, repr=False, compare=False)
    _maybe_avoid: Callable[[str], object] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from hafs_cli.fs.trash import TRASH_PATTERNS

        # Copies in a trash or quarantine are kept last, whatever else is configured.
        object.__setattr__(self, "avoid", tuple(self.avoid) + TRASH_PATTERNS)
        object.__setattr__(self, "_prefer", [_spec(p) for p in self.prefer])
        object.__setattr__(self, "_avoid", [_spec(p) for p in self.avoid])
        object.__setattr__(self, "_maybe_prefer", _any_pattern(self._prefer))
        object.__setattr__(self, "_maybe_avoid", _any_pattern(self._avoid))

    @staticmethod
    def _first_match(specs: list, path: bytes, maybe: Callable[[str], object] | None) -> int:
        text = path.decode("utf-8", "surrogateescape").lstrip("/")
        if maybe is not None and maybe(text) is None:
            return len(specs)  # no pattern can match: most paths end here
        for i, spec in enumerate(specs):
            if spec.match_file(text):
                return i
        return len(specs)

    def rank(self, m: Member) -> tuple:
        preferred = self._first_match(self._prefer, m.path, self._maybe_prefer)
        avoided = self._first_match(self._avoid, m.path, self._maybe_avoid) < len(self._avoid)
        return (preferred, avoided, m.mtime_ns, len(m.path), m.path)

    def choose(self, members: Sequence[Member]) -> tuple[Member, str, str | None]:
        """(keeper, rule, pattern) where rule is prefer|avoid|oldest|shortest_path|path_order."""
        ranks = sorted((self.rank(m), i) for i, m in enumerate(members))  # each ranked once
        (a, first), (b, second) = ranks[0], ranks[1]
        best, runner_up = members[first], members[second]
        if a[0] != b[0]:
            return best, "prefer", self.prefer[a[0]]
        if a[1] != b[1]:
            avoided = self._first_match(self._avoid, runner_up.path, self._maybe_avoid)
            return best, "avoid", self.avoid[avoided]
        if a[2] != b[2]:
            return best, "oldest", None
        if a[3] != b[3]:
            return best, "shortest_path", None
        return best, "path_order", None
