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

from hafs_cli.fs.ignore import any_pattern


class Member(Protocol):
    path: bytes
    mtime_ns: int


def _spec(pattern: str):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines([os.path.expanduser(pattern)])


# Where copies sit in a trash or a hafs quarantine (kept last, and hafs.fs.trash's
# business); here so that dedup need not import the trash module.
TRASH_PATTERNS = (".hafs-quarantine-*/", ".Trash-*/", "**/Trash/files/", "**/hafs/quarantine/")

# The regexes pathspec makes of TRASH_PATTERNS (named groups plain), so that a
# run without patterns of its own imports no pathspec until a path may be in a trash
# (a test checks them against pathspec).
TRASH_REGEXES = (
    r"^(?:.+/)?\.hafs\-quarantine\-[^/]*(?:/)",
    r"^(?:.+/)?\.Trash\-[^/]*(?:/)",
    r"^(?:.+/)?Trash/files(?:/)",
    r"^(?:.+/)?hafs/quarantine(?:/)",
)
# Whatever TRASH_REGEXES match contains one of these words (a test checks it): a batch of
# paths without them needs no regex at all.
TRASH_WORDS = ("Trash", "quarantine")


@dataclass(frozen=True)
class KeeperRules:
    """Preferred and avoided path patterns (gitignore syntax, ~ expanded, absolute paths)."""

    prefer: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    # compiled on first need (None until then)
    _prefer: list | None = field(init=False, repr=False, compare=False, default=None)
    _avoid: list | None = field(init=False, repr=False, compare=False, default=None)
    _maybe_prefer: Callable[[str], object] | None = field(init=False, repr=False, compare=False)
    _maybe_avoid: Callable[[str], object] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Copies in a trash or quarantine are kept last, whatever else is configured.
        object.__setattr__(self, "avoid", tuple(self.avoid) + TRASH_PATTERNS)
        if not self.prefer and self.avoid == TRASH_PATTERNS:
            trash = re.compile("|".join(f"(?:{r})" for r in TRASH_REGEXES)).match
            object.__setattr__(self, "_maybe_prefer", lambda text: None)
            object.__setattr__(self, "_maybe_avoid", trash)
        else:
            self._compile()
            object.__setattr__(self, "_maybe_prefer", any_pattern(self._prefer))
            object.__setattr__(self, "_maybe_avoid", any_pattern(self._avoid))

    def _compile(self) -> None:
        object.__setattr__(self, "_prefer", [_spec(p) for p in self.prefer])
        object.__setattr__(self, "_avoid", [_spec(p) for p in self.avoid])

    def specs(self, prefer: bool) -> list:
        """The compiled prefer (or avoid) patterns."""
        if self._prefer is None:
            self._compile()
        return self._prefer if prefer else self._avoid  # type: ignore[return-value]

    def match(self, prefer: bool, path: bytes) -> int:
        """Index of the first prefer (or avoid) pattern `path` matches; the count if none."""
        maybe = self._maybe_prefer if prefer else self._maybe_avoid
        text = path.decode("utf-8", "surrogateescape").lstrip("/")
        if maybe is not None and maybe(text) is None:
            return len(self.prefer if prefer else self.avoid)  # most paths end here
        return self._first_text(self.specs(prefer), text)

    def indices(self, prefer: bool, texts: list[str]) -> list[int] | None:
        """match() for many paths at once, given as text (decoded, leading slashes
        stripped): the index of each one's first prefer (or avoid) pattern, the pattern
        count where none matches; None when no path matches any."""
        patterns = self.prefer if prefer else self.avoid
        if not patterns:
            return None
        if not prefer and self.avoid == TRASH_PATTERNS:
            blob = "\n".join(texts)
            if not any(word in blob for word in TRASH_WORDS):
                return None  # the common case: no copy in a trash
        maybe = self._maybe_prefer if prefer else self._maybe_avoid
        todo = (
            range(len(texts))
            if maybe is None
            else [i for i, m in enumerate(map(maybe, texts)) if m is not None]
        )
        if not todo:
            return None
        out = [len(patterns)] * len(texts)
        specs = self.specs(prefer)
        for i in todo:
            out[i] = self._first_text(specs, texts[i])
        return out

    @staticmethod
    def _first_text(specs: list, text: str) -> int:
        for i, spec in enumerate(specs):
            if spec.match_file(text):
                return i
        return len(specs)

    def rank(self, m: Member) -> tuple:
        path = m.path
        text = path.decode("utf-8", "surrogateescape").lstrip("/")  # once for both
        maybe = self._maybe_prefer
        if maybe is not None and maybe(text) is None:
            preferred = len(self.prefer)
        else:
            preferred = self._first_text(self.specs(True), text)
        maybe = self._maybe_avoid
        if maybe is not None and maybe(text) is None:
            avoided = False
        else:
            avoided = self._first_text(self.specs(False), text) < len(self.avoid)
        return (preferred, avoided, m.mtime_ns, len(path), path)

    def choose(self, members: Sequence[Member]) -> tuple[Member, str, str | None]:
        """(keeper, rule, pattern) where rule is prefer|avoid|oldest|shortest_path|path_order."""
        ranks = sorted((self.rank(m), i) for i, m in enumerate(members))  # each ranked once
        (a, first), (b, second) = ranks[0], ranks[1]
        best, runner_up = members[first], members[second]
        if a[0] != b[0]:
            return best, "prefer", self.prefer[a[0]]
        if a[1] != b[1]:
            return best, "avoid", self.avoid[self.match(False, runner_up.path)]
        if a[2] != b[2]:
            return best, "oldest", None
        if a[3] != b[3]:
            return best, "shortest_path", None
        return best, "path_order", None
