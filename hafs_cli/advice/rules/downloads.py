"""Downloads folders: files untouched for N days, and installers."""

from __future__ import annotations

import posixpath

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import LOW, MEDIUM, Finding, acting_on, day, plural
from hafs_cli.advice.inventory import Entry
from hafs_cli.pipe import human_bytes


def _downloads_folder(path: str, names: set[str]) -> str | None:
    """The innermost ancestor of `path` named like a downloads folder."""
    parts = path.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i].lower() in names:
            return "/".join(parts[: i + 1])
    return None


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("downloads")
    names = {n.lower() for n in cfg.get("folders", [])}
    exts = {x.lower() for x in cfg.get("installer_extensions", [])}
    days = int(cfg.get("days", 90))
    installer_days = int(cfg.get("installer_days", 14))
    old: dict[tuple[str, str], list[Entry]] = {}
    installers: dict[tuple[str, str], list[Entry]] = {}
    needles = tuple(f"/{n}/" for n in names)
    for (host, path), e in ctx.inv.files.items():
        low = "/" + path.lower()
        if any(n in low for n in needles):
            folder = _downloads_folder(path, names)
            if folder is None:
                continue
            if posixpath.splitext(path)[1].lower() in exts:
                if ctx.older_than_days(e.touched_ns, installer_days):
                    installers.setdefault((host, folder), []).append(e)
                else:
                    ctx.skip("downloads_recent")
            elif ctx.older_than_days(e.touched_ns, days):
                old.setdefault((host, folder), []).append(e)
            else:
                ctx.skip("downloads_recent")
    out = []
    for (host, folder), files in sorted(installers.items()):
        out.append(_finding(host, folder, files, installer_days, "installer", MEDIUM))
    for (host, folder), files in sorted(old.items()):
        out.append(_finding(host, folder, files, days, "file", LOW))
    return out


def _finding(
    host: str, folder: str, files: list[Entry], days: int, what: str, confidence: float
) -> Finding:
    size = sum(e.size for e in files)
    newest = max(e.touched_ns for e in files)
    extra = " (installers are downloaded again when needed)" if what == "installer" else ""
    reason = (
        f"{plural(len(files), what)} in {folder} ({human_bytes(size)}) untouched for more "
        f"than {days} days, the newest on {day(newest)}{extra}."
    )
    return acting_on(
        "old-downloads", files, reason, confidence, "trash", files=len(files), folder=folder
    )
