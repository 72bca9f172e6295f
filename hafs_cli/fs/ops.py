"""File operations apply builds on, each safe to interrupt at any point.

Every operation's intermediate states are recognisable from the file system alone, so
undo (which knows the operation's journal intent) can finish or reverse it:
relocate: `link(src, dest)` then `unlink(src)` (same filesystem), or copy to a
temporary name, fsync, rename into place, then unlink (across filesystems).
replace: make the replacement under a temporary name beside the file, then rename it
over the file (atomic).
"""

from __future__ import annotations

import errno
import fcntl
import filecmp
import os
import shutil
import stat as stat_mod

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


def fsync_dir(path: bytes) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs(path: bytes) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)


def mount_point(path: bytes) -> bytes:
    """The top directory of the filesystem that holds `path`."""
    path = os.path.abspath(path)
    dev = os.lstat(path).st_dev
    while True:
        parent = os.path.dirname(path)
        if parent == path or os.lstat(parent).st_dev != dev:
            return path
        path = parent


def prune_empty_dirs(start: bytes, stop: bytes) -> None:
    """Remove `start` and its parents while empty, up to and including `stop`."""
    stop = stop.rstrip(b"/")
    here = start.rstrip(b"/")
    while here.startswith(stop) and len(here) >= len(stop):
        try:
            os.rmdir(here)
        except OSError:
            return
        if here == stop:
            return
        here = os.path.dirname(here)


def same_file(a: bytes, b: bytes) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except FileNotFoundError:
        return False


def exists(path: bytes) -> bool:
    return os.path.lexists(path)


def copy_file(src: bytes, dest: bytes, reflink: bool = False) -> None:
    """Copy content and metadata into a new file `dest` (fails if it exists), fsync'd."""
    with open(src, "rb") as fin:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as fout:
                if reflink:
                    fcntl.ioctl(fd, FICLONE, fin.fileno())
                else:
                    shutil.copyfileobj(fin, fout, 1 << 20)
            os.fsync(fd)
        finally:
            os.close(fd)
    shutil.copystat(src, dest, follow_symlinks=False)


def set_meta(path: bytes, meta: dict) -> None:
    """Restore mode, owner (when permitted) and times recorded in a journal intent."""
    if "uid" in meta and "gid" in meta:
        try:
            os.chown(path, meta["uid"], meta["gid"], follow_symlinks=False)
        except PermissionError:
            pass
    if "mode" in meta:
        os.chmod(path, stat_mod.S_IMODE(meta["mode"]))
    if "mtime_ns" in meta:
        os.utime(path, ns=(meta.get("atime_ns", meta["mtime_ns"]), meta["mtime_ns"]))


def meta_of(st: os.stat_result) -> dict:
    return {
        "mode": st.st_mode,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "atime_ns": st.st_atime_ns,
        "mtime_ns": st.st_mtime_ns,
    }


# -- relocate (trash, archive, move) ------------------------------------------------
def relocate(src: bytes, dest: bytes, tmp: bytes) -> None:
    """Move a file to `dest` (which must not exist); never leaves it in neither place."""
    makedirs(os.path.dirname(dest))
    if exists(dest):
        raise FileExistsError(errno.EEXIST, "destination exists", dest)
    try:
        os.link(src, dest)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        copy_file(src, tmp)
        os.rename(tmp, dest)
    fsync_dir(os.path.dirname(dest))
    os.unlink(src)
    fsync_dir(os.path.dirname(src))


def relocate_back(src: bytes, dest: bytes, tmp: bytes, tmp_back: bytes) -> str:
    """Undo `relocate(src, dest, tmp)` from whatever state it reached; returns what it did.

    `tmp_back` is the temporary name (beside `src`) for moving back across filesystems.
    Raises FileExistsError when both names exist with different content (nothing changed).
    """
    for scratch in (tmp, tmp_back):
        if exists(scratch):
            os.unlink(scratch)
    if exists(src) and exists(dest):
        # The move (or an earlier undo) stopped before removing its source.
        if not (same_file(src, dest) or filecmp.cmp(src, dest, shallow=False)):
            raise FileExistsError(
                errno.EEXIST, "a different file now exists at the original path", src
            )
        os.unlink(dest)
        return "removed the second copy"
    if exists(dest):
        relocate(dest, src, tmp_back)
        return "moved back"
    if exists(src):
        return "was not moved"
    raise FileNotFoundError(errno.ENOENT, "neither the file nor its moved copy exists", src)


# -- replace by a link (hardlink, symlink, reflink) --------------------------------
def replace_with(kind: str, path: bytes, keeper: bytes, tmp: bytes, meta: dict) -> None:
    """Atomically replace `path` by a hard link, symlink or reflinked copy of `keeper`."""
    if kind == "hardlink":
        os.link(keeper, tmp)
    elif kind == "symlink":
        os.symlink(os.path.abspath(keeper), tmp)
    elif kind == "reflink":
        copy_file(keeper, tmp, reflink=True)
        set_meta(tmp, meta)
    else:
        raise ValueError(kind)
    os.rename(tmp, path)
    fsync_dir(os.path.dirname(path))


def is_link_to(kind: str, path: bytes, keeper: bytes) -> bool:
    if kind == "hardlink":
        return same_file(path, keeper)
    if kind == "symlink":
        return os.path.islink(path) and os.readlink(path) == os.path.abspath(keeper)
    return False


def restore_copy(path: bytes, source: bytes, tmp: bytes, meta: dict) -> None:
    """Replace `path` by an independent copy of `source` with the recorded metadata."""
    if exists(tmp):
        os.unlink(tmp)
    copy_file(source, tmp)
    set_meta(tmp, meta)
    os.rename(tmp, path)
    fsync_dir(os.path.dirname(path))
