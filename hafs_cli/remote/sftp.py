"""The SFTP transport (paramiko), for hosts without rsync (e.g. Windows OpenSSH).

Same semantics as the rsync transport: a file is written under a temporary name in its
target directory, its time-stamp set, then renamed over the old one with the
posix-rename extension, so a partial file never replaces a good one.
"""

from __future__ import annotations

import os
import posixpath
import stat
import time
from collections.abc import Iterable

from hafs_cli.remote.listing import PART_PREFIX, Entry

CHUNK = 1 << 20
_UNITS = {"": 1024, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_rate(text: str) -> int:
    """rsync's --bwlimit syntax (default unit KiB/s) -> bytes per second (0: unlimited)."""
    text = (text or "").strip().upper().removesuffix("IB").removesuffix("B") or ""
    if not text:
        return 0
    unit = text[-1] if text[-1] in _UNITS else ""
    number = text[: -1 if unit else None]
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise ValueError(f"bad bandwidth limit {text!r}; write e.g. 500K or 5M") from None


class Throttle:
    """Sleep as needed to keep to a byte rate (0: no limit)."""

    def __init__(self, rate: int):
        self.rate = rate
        self.start = time.monotonic()
        self.sent = 0

    def __call__(self, n: int) -> None:
        if not self.rate:
            return
        self.sent += n
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


def _part_name(path: bytes) -> bytes:
    head, _, name = path.rpartition(b"/")
    part = PART_PREFIX + os.urandom(4).hex().encode() + b"." + name
    return head + b"/" + part if head else part


def rjoin(root: str, rel: bytes) -> bytes:
    return os.fsencode(root.rstrip("/") or "/") + b"/" + rel if rel else os.fsencode(root)


def makedirs_remote(sftp, path: bytes) -> None:
    """mkdir -p over SFTP."""
    missing = []
    while path and path not in (b"/", b"."):
        try:
            if stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                break
        except OSError:
            missing.append(path)
            path = posixpath.dirname(path)
            continue
        break
    for p in reversed(missing):
        try:
            sftp.mkdir(p)
        except OSError:
            if not stat.S_ISDIR(sftp.stat(p).st_mode or 0):
                raise


def upload(
    sftp, local_root: bytes, remote_root: str, rel: bytes, entry: Entry, throttle=None
) -> None:
    """Copy one local item to the remote tree (temporary name, then posix-rename)."""
    target = rjoin(remote_root, rel)
    makedirs_remote(sftp, posixpath.dirname(target))
    src = os.path.join(local_root, rel)
    if entry.type == "d":
        makedirs_remote(sftp, target)
        return
    if entry.type == "l":
        try:
            sftp.remove(target)
        except OSError:
            pass
        sftp.symlink(os.fsdecode(entry.target), target)
        return
    part = rjoin(remote_root, _part_name(rel))
    st = os.stat(src)
    try:
        with open(src, "rb") as fh, sftp.open(part, "wb") as out:
            out.set_pipelined(True)
            while chunk := fh.read(CHUNK):
                out.write(chunk)
                if throttle:
                    throttle(len(chunk))
        sftp.chmod(part, stat.S_IMODE(st.st_mode))
        sftp.utime(part, (int(st.st_atime), int(st.st_mtime)))
        replace_remote(sftp, part, target)
    except BaseException:
        try:
            sftp.remove(part)
        except OSError:
            pass
        raise


def replace_remote(sftp, part: bytes, target: bytes) -> None:
    """Rename `part` over `target` atomically (posix-rename); servers without that
    extension (older Windows OpenSSH) get a rename that keeps the old file until the
    new one is in place."""
    try:
        sftp.posix_rename(part, target)
        return
    except OSError as exc:
        if "unsupported" not in str(exc).lower() and "not supported" not in str(exc).lower():
            raise
    try:
        sftp.rename(part, target)  # plain SFTP rename fails when the target exists
        return
    except OSError:
        pass
    old = target + b".hafs-old-" + os.urandom(4).hex().encode()
    sftp.rename(target, old)
    sftp.rename(part, target)
    sftp.remove(old)


def download(
    sftp, local_root: bytes, remote_root: str, rel: bytes, entry: Entry, throttle=None
) -> None:
    """Copy one remote item into the local tree (temporary name, then rename)."""
    target = os.path.join(local_root, rel)
    os.makedirs(os.path.dirname(target) or b".", exist_ok=True)
    if entry.type == "d":
        os.makedirs(target, exist_ok=True)
        return
    if entry.type == "l":
        if os.path.lexists(target):
            os.unlink(target)
        os.symlink(entry.target, target)
        return
    part = os.path.join(local_root, _part_name(rel))
    src = rjoin(remote_root, rel)
    attrs = sftp.stat(src)
    try:
        with sftp.open(src, "rb") as fh, open(part, "wb") as out:
            fh.prefetch(attrs.st_size)
            while chunk := fh.read(CHUNK):
                out.write(chunk)
                if throttle:
                    throttle(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(part, stat.S_IMODE(attrs.st_mode or 0o644))
        os.utime(part, (attrs.st_atime or attrs.st_mtime, attrs.st_mtime))
        os.replace(part, target)
    except BaseException:
        try:
            os.unlink(part)
        except OSError:
            pass
        raise


def move_to_trash_remote(sftp, remote_root: str, rel: bytes, trash_rel: bytes) -> None:
    src = rjoin(remote_root, rel)
    dst = rjoin(remote_root, trash_rel + b"/" + rel)
    makedirs_remote(sftp, posixpath.dirname(dst))
    dst = free_name(dst, lambda p: _lexists(sftp, p))
    sftp.posix_rename(src, dst)


def free_name(path: bytes, exists) -> bytes:
    """`path`, or `path~N` when something (an earlier trashed item) already has the name."""
    candidate, n = path, 1
    while exists(candidate):
        candidate = path + f"~{n}".encode()
        n += 1
    return candidate


def _lexists(sftp, path: bytes) -> bool:
    try:
        sftp.lstat(path)
        return True
    except OSError:
        return False


def remove_parts(sftp, remote_root: str, rels: Iterable[bytes]) -> None:
    """Delete temporary files an interrupted run left behind."""
    for rel in rels:
        try:
            sftp.remove(rjoin(remote_root, rel))
        except OSError:
            pass


def hash_remote(sftp, remote_root: str, rel: bytes) -> str:
    import blake3

    hasher = blake3.blake3()
    with sftp.open(rjoin(remote_root, rel), "rb") as fh:
        fh.prefetch()
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
