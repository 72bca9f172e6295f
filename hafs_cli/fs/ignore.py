"""Exclude rules in gitignore syntax: --exclude patterns and .gitignore files."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# A scope is (base, spec): `base` is the directory (relative to the scan root, as text,
# "" for the root) whose .gitignore produced `spec`. Deeper scopes win, as in git.
Scope = tuple[str, object]


_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


def any_pattern(specs: list, negations: bool = False) -> Callable[[str], object] | None:
    """One regex that matches wherever any of the specs' including patterns (and, with
    `negations`, their !patterns too) matches: a quick "no" for most paths; a "yes" is
    checked pattern by pattern. None when the patterns cannot be combined."""
    parts = [
        _NAMED_GROUP.sub("(?:", p.regex.pattern)
        for spec in specs
        for p in spec.patterns
        if (p.include or (negations and p.include is not None)) and p.regex is not None
    ]
    if not parts:
        return lambda text: None  # only negations or comments: nothing matches
    try:
        return re.compile("|".join(f"(?:{part})" for part in parts)).match
    except (re.error, TypeError):
        return None


def _check(spec, path: str):
    """spec.check_file(path).include (None: no pattern matches), after one regex that
    says "no pattern can match" for most paths (a deeper .gitignore's !pattern counts)."""
    maybe = spec.__dict__.get("_hafs_maybe", _check)
    if maybe is _check:
        maybe = spec._hafs_maybe = any_pattern([spec], negations=True)
    if maybe is not None and maybe(path) is None:
        return None
    return spec.check_file(path).include


def compile_patterns(lines: Iterable[str]):
    """A pathspec GitIgnoreSpec for gitignore-syntax lines (None when there are none)."""
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def read_gitignore(path: bytes):
    """The compiled .gitignore at `path` (None when it is empty or unreadable)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    return compile_patterns(text.splitlines())


def text(rel: bytes) -> str:
    """A relative path as text for matching (undecodable bytes kept as surrogates)."""
    return rel.decode("utf-8", "surrogateescape")


def ignored_by_scopes(scopes: tuple[Scope, ...], rel: str, is_dir: bool) -> bool:
    """Whether the deepest .gitignore that has an opinion on `rel` ignores it."""
    for base, spec in reversed(scopes):
        sub = match_rel(base, rel)
        include = _check(spec, sub + "/" if is_dir else sub)
        if include is not None:
            return bool(include)
    return False


@dataclass(frozen=True)
class Excluder:
    """Decides which entries the walk leaves out: --exclude first, then .gitignore files."""

    excludes: object | None
    gitignore: bool

    def excluded(self, scopes: tuple[Scope, ...], rel: str, is_dir: bool) -> bool:
        if self.excludes is not None and _check(self.excludes, rel + "/" if is_dir else rel):
            return True
        return bool(scopes) and ignored_by_scopes(scopes, rel, is_dir)


def outer_gitignores(root: bytes) -> tuple[Scope, ...]:
    """Scopes of the .gitignore files between the enclosing git work tree's top and `root`.

    They apply to the walk as git would apply them; their patterns are re-based so that
    they can be matched against paths relative to `root`.
    """
    root = os.path.abspath(root)
    chain = []
    here = root
    while True:
        chain.append(here)
        if os.path.exists(os.path.join(here, b".git")):
            break
        parent = os.path.dirname(here)
        if parent == here:
            return ()  # not inside a git work tree
        here = parent
    scopes: list[Scope] = []
    for directory in reversed(chain[1:]):  # top of the work tree first, root's parent last
        spec = read_gitignore(os.path.join(directory, b".gitignore"))
        if spec is None:
            continue
        prefix = text(os.path.relpath(root, directory))
        scopes.append((_rebase(prefix), spec))
    return tuple(scopes)


def _rebase(prefix: str) -> str:
    # A scope's base is negative here: paths under root are matched as PREFIX/rel.
    return "\0" + prefix


def match_rel(base: str, rel: str) -> str:
    """The path to match for scope `base` (see _rebase for scopes above the root)."""
    if base.startswith("\0"):
        return base[1:] + "/" + rel if rel else base[1:]
    return rel[len(base) + 1 :] if base else rel
