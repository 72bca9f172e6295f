"""Where trashed files go: a quarantine on the file's own filesystem, or the OS trash.

Quarantine: QUARANTINE/RUN/<absolute path>, so the relative layout is kept and the move
is a rename. QUARANTINE is [apply] quarantine when set, else the XDG data directory's
quarantine/ when it is on the same filesystem, else MOUNTPOINT/.hafs-quarantine-UID.
OS trash: the freedesktop.org trash (home trash, or TOPDIR/.Trash-UID on other drives).
"""

from __future__ import annotations

import os
from datetime import datetime
from urllib.parse import quote

from hafs_cli import xdg
from hafs_cli.fs import ops
from hafs_cli.fs.keeper import TRASH_PATTERNS  # noqa: F401 - where callers look for it


def _on_same_fs(directory: bytes, dev: int) -> bool:
    try:
        return os.lstat(directory).st_dev == dev
    except OSError:
        return False


def quarantine_root(path: bytes, configured: str = "") -> bytes:
    if configured:
        return os.fsencode(os.path.expanduser(configured))
    dev = os.lstat(path).st_dev
    data = os.fsencode(str(xdg.data_dir()))
    if _on_same_fs(data, dev):
        return os.path.join(data, b"quarantine")
    return os.path.join(ops.mount_point(path), b".hafs-quarantine-%d" % os.getuid())


def os_trash_root(path: bytes) -> bytes:
    dev = os.lstat(path).st_dev
    data_home = os.fsencode(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"))
    ops.makedirs(data_home)
    home_trash = os.path.join(data_home, b"Trash")
    if _on_same_fs(data_home, dev):
        return home_trash
    return os.path.join(ops.mount_point(path), b".Trash-%d" % os.getuid())


def destination(path: bytes, run: str, mode: str, configured: str = "") -> bytes:
    """Where `path` goes when trashed in run `run`."""
    if mode == "os":
        root = os_trash_root(path)
        name = os.path.basename(path)
        candidate, n = name, 1
        while ops.exists(os.path.join(root, b"files", candidate)) or ops.exists(
            info_path_for(os.path.join(root, b"files", candidate))
        ):
            n += 1
            candidate = name + b".%d" % n
        return os.path.join(root, b"files", candidate)
    root = quarantine_root(path, configured)
    return os.path.join(root, os.fsencode(run), path.lstrip(b"/"))


def info_path_for(dest: bytes) -> bytes:
    """The .trashinfo file that belongs to a file in TRASH/files/."""
    root = os.path.dirname(os.path.dirname(dest))
    return os.path.join(root, b"info", os.path.basename(dest) + b".trashinfo")


def write_info(path: bytes, info: bytes) -> None:
    """Write the freedesktop.org .trashinfo (exclusive create, like a lock on the name)."""
    ops.makedirs(os.path.dirname(info))
    text = (
        "[Trash Info]\n"
        f"Path={quote(path, safe='/')}\n"
        f"DeletionDate={datetime.now().strftime('%Y-%m-%dT%H:%M:%S')}\n"
    ).encode()
    fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)


# Places whose content is on its way out: a copy there must never be the one kept.


def in_trash(path: bytes, configured: str = "") -> bool:
    """Whether `path` lies in a hafs quarantine or an OS trash (so it may be purged)."""
    text = os.fsdecode(os.path.abspath(path))
    if configured:
        root = os.path.abspath(os.path.expanduser(configured)).rstrip("/") + "/"
        if text.startswith(root):
            return True
    parts = text.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.startswith((".hafs-quarantine-", ".Trash-")):
            return True
        if part == "Trash" and parts[i + 1 : i + 2] == ["files"]:
            return True
        if part == "hafs" and parts[i + 1 : i + 2] == ["quarantine"]:
            return True
    return False
