"""Backup sets from [backup.sets.NAME]: absolute paths, one tag, and excludes.

Excludes are written as in [sync] (rsync style) so one pattern list serves both:
a pattern without '/' matches a name at any depth, a leading '/' anchors it at the
set's path, a trailing '/' is dropped (restic has no directory-only patterns).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from hafs_cli import exits
from hafs_cli.backup.restic import escape_pattern
from hafs_cli.exits import HafsError

TAG_PREFIX = "hafs-set:"


@dataclass(frozen=True)
class BackupSet:
    name: str
    paths: tuple[str, ...]
    excludes: tuple[str, ...]
    repository: str

    @property
    def tag(self) -> str:
        """The one tag every snapshot of this set carries (what retention groups by)."""
        return TAG_PREFIX + self.name

    def restic_excludes(self) -> list[str]:
        """--exclude patterns for restic, anchored patterns expanded per set path."""
        out: list[str] = []
        for pattern in self.excludes:
            pat = pattern.rstrip("/")
            if not pat:
                continue
            if pat.startswith("/"):
                out += [escape_pattern(root) + pat for root in self.paths]
            else:
                out.append(pat)
        return out

    def is_excluded(self, root: str, path: str) -> bool:
        """Whether `path` (below set path `root`) matches an exclude, as restic would see it."""
        rel = os.path.relpath(path, root)
        parts = rel.split(os.sep)
        for pattern in self.excludes:
            pat = pattern.rstrip("/")
            if not pat:
                continue
            if pat.startswith("/"):
                depth = pat.count("/")
                if fnmatch.fnmatchcase("/" + "/".join(parts[:depth]), pat):
                    return True
            elif "/" not in pat:
                if any(fnmatch.fnmatchcase(part, pat) for part in parts):
                    return True
            else:
                depth = pat.count("/") + 1
                for i in range(len(parts) - depth + 1):
                    if fnmatch.fnmatchcase("/".join(parts[i : i + depth]), pat):
                        return True
        return False


def _valid_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_." for c in name)


def resolve_sets(section: dict, sync_section: dict, names: tuple[str, ...] = ()) -> list[BackupSet]:
    """The sets to work on (all configured ones when `names` is empty), in config order."""
    tables = section.get("sets") or {}
    if not tables:
        raise HafsError(
            "no backup sets configured; add [backup.sets.NAME] with paths = [...] to hafs.toml",
            exits.USAGE,
        )
    unknown = [n for n in names if n not in tables]
    if unknown:
        raise HafsError(
            f"unknown backup set(s): {', '.join(unknown)} (configured: {', '.join(tables)})",
            exits.USAGE,
        )
    wanted = names or tuple(tables)
    common = list(section.get("excludes") or [])
    if section.get("use_sync_excludes", True):
        common = list(sync_section.get("default_excludes") or []) + common
    out = []
    for name in wanted:
        table = tables[name]
        if not _valid_name(name):
            raise HafsError(
                f"[backup.sets.{name}]: a set name may hold only letters, digits, '-', '_' and '.'",
                exits.USAGE,
            )
        paths = tuple(os.path.abspath(os.path.expanduser(p)) for p in table.get("paths") or [])
        if not paths:
            raise HafsError(
                f'[backup.sets.{name}] has no paths; add paths = ["~/folder", ...] to it in '
                "hafs.toml, or remove the set",
                exits.USAGE,
            )
        excludes = tuple(dict.fromkeys(common + list(table.get("excludes") or [])))
        out.append(
            BackupSet(
                name=name,
                paths=paths,
                excludes=excludes,
                repository=table.get("repository") or section.get("repository") or "default",
            )
        )
    return out


def set_name_of(tags: list[str] | None) -> str | None:
    """The set a snapshot belongs to, from its tags (None: not made by hafs)."""
    for tag in tags or []:
        if tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX) :]
    return None
