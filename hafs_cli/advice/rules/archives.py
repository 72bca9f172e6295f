"""Archives already extracted: every file the archive lists exists beside it, same size.

The archive's own index is read (zipfile/tarfile); names are never trusted alone. The
contents are looked up in the input, so only scanned files count as present.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import zipfile

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import MEDIUM, Finding, acting_on, plural
from hafs_cli.advice.inventory import Entry, basename, parent_of
from hafs_cli.pipe import human_bytes

SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".tar", ".zip")


def archive_stem(name: str) -> str | None:
    low = name.lower()
    for suffix in SUFFIXES:
        if low.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


class UnreadableArchive(Exception):
    pass


def _clean(name: str) -> str | None:
    """A member name as a relative path, or None when it could escape (absolute, `..`)."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if not name or name.startswith("/") or ".." in name.split("/"):
        return None
    return posixpath.normpath(name)


def _member(name: str) -> str:
    clean = _clean(name)
    if clean is None:
        raise UnreadableArchive(f"unsafe member name {name!r}")
    return clean


def list_members(path: str) -> dict[str, int]:
    """Regular files an archive lists: relative name -> size."""
    members: dict[str, int] = {}
    try:
        with open(os.fsencode(path), "rb") as fh:
            if zipfile.is_zipfile(fh):
                fh.seek(0)
                with zipfile.ZipFile(fh) as zf:
                    for info in zf.infolist():
                        if info.is_dir():
                            continue
                        members[_member(info.filename)] = info.file_size
                return members
            fh.seek(0)
            with tarfile.open(fileobj=fh, mode="r:*") as tf:
                for info in tf:
                    if info.isdir():
                        continue
                    if not info.isfile():
                        # links and devices cannot be compared by size: not provably extracted
                        raise UnreadableArchive(f"member {info.name!r} is not a regular file")
                    members[_member(info.name)] = info.size
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise UnreadableArchive(str(exc)) from None
    return members


def _extracted_into(
    ctx: Context, archive: Entry, members: dict[str, int]
) -> tuple[str, list[Entry]] | None:
    """The directory beside the archive that holds every member with the same size, and
    those files."""
    parent = parent_of(archive.path)
    stem = archive_stem(basename(archive.path)) or ""
    files = ctx.inv.files
    for base in (parent, posixpath.join(parent, stem)):
        found = []
        for name, size in members.items():
            e = files.get((archive.host, posixpath.join(base, name)))
            if e is None or e.size != size:
                break
            found.append(e)
        else:
            return base, found
    return None


def find(ctx: Context) -> list[Finding]:
    cfg = ctx.cfg("archives")
    limit = int(cfg.get("max_archive_bytes", 1 << 30))
    out = []
    candidates = [e for e in ctx.inv.named(lambda name: bool(archive_stem(name)))]
    for archive in sorted(candidates, key=lambda e: (e.host, e.path)):
        if not ctx.inv.is_local(archive.host):
            ctx.skip("archives_not_local")
            continue
        # A zip's index is at its end and a plain tar's headers are seeked over; only a
        # compressed tar must be decompressed whole to be listed.
        compressed_tar = not archive.path.lower().endswith((".zip", ".tar"))
        if compressed_tar and archive.size > limit:
            ctx.skip("archives_over_size_limit")
            continue
        try:
            members = list_members(archive.path)
        except UnreadableArchive:
            ctx.skip("archives_unreadable")
            continue
        if not members:
            continue
        extracted = _extracted_into(ctx, archive, members)
        if extracted is None:
            continue
        base, copies = extracted
        total = sum(members.values())
        reason = (
            f"all {plural(len(members), 'file')} listed in this archive ({human_bytes(total)}) "
            f"exist in {base} with the same sizes; the archive ({human_bytes(archive.size)}) "
            "repeats them."
        )
        finding = acting_on(
            "extracted-archives",
            [archive],
            reason,
            MEDIUM,
            "trash",
            extracted_to=base,
            members=len(members),
        )
        finding.relies_on = copies
        out.append(finding)
    return out
