"""Stale restic locks: removed only when the process that made them is gone from this host.

A killed restic leaves its lock file behind and the next exclusive operation (check,
forget, prune) refuses to run. restic's own `unlock` also removes any lock older than
30 minutes, even one held by another machine; hafs is stricter: a lock is stale only if
it names this host and its process no longer runs (or the PID now belongs to a process
started after the lock was taken).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from hafs_cli import exits
from hafs_cli.backup.repository import hostname, is_local, local_path
from hafs_cli.backup.restic import Restic, ResticLocked
from hafs_cli.exits import HafsError

RESTIC_STALE_AGE_S = 30 * 60  # restic's own staleness timeout (internal/restic/lock.go)

T = TypeVar("T")


@dataclass(frozen=True)
class Lock:
    id: str
    hostname: str
    pid: int
    time: datetime
    exclusive: bool

    def describe(self) -> str:
        kind = "exclusive" if self.exclusive else "shared"
        return f"{kind} lock {self.id[:8]} by PID {self.pid} on {self.hostname} since {self.time:%Y-%m-%d %H:%M:%S}Z"


def parse_time(text: str) -> datetime:
    """restic's RFC 3339 time with nanoseconds (Python keeps microseconds)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, sep, tail = text.partition(".")
    if sep:
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).astimezone(UTC)


def read_locks(restic: Restic) -> list[Lock]:
    proc = restic.run("list", "locks", "--no-lock")
    out = []
    for lock_id in proc.stdout.decode().split():
        try:
            data = restic.json("cat", "lock", lock_id, "--no-lock")
        except HafsError:
            continue  # removed meanwhile
        if isinstance(data, dict):
            out.append(
                Lock(
                    id=lock_id,
                    hostname=str(data.get("hostname", "")),
                    pid=int(data.get("pid", 0)),
                    time=parse_time(str(data.get("time", "1970-01-01T00:00:00Z"))),
                    exclusive=bool(data.get("exclusive")),
                )
            )
    return out


def process_gone(pid: int, since: datetime) -> bool:
    """True when no process `pid` runs here, or the one that does started after `since`."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, owned by someone else
    if _is_zombie(pid):
        return True  # killed, not yet reaped by its parent: it holds nothing any more
    started = _process_start(pid)
    return started is not None and started > since.timestamp() + 1.0


def _is_zombie(pid: int) -> bool:
    """True for a process that has exited but was not reaped yet (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


def _process_start(pid: int) -> float | None:
    """A process's start time (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as fh:
            btime = next(int(ln.split()[1]) for ln in fh if ln.startswith(b"btime "))
        return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def is_stale(lock: Lock, here: str) -> bool:
    return lock.hostname == here and process_gone(lock.pid, lock.time)


def remove_stale_locks(restic: Restic) -> list[Lock]:
    """Remove this host's locks whose process is gone; raise if a live lock remains."""
    here = hostname()
    locks = read_locks(restic)
    stale = [lk for lk in locks if is_stale(lk, here)]
    live = [lk for lk in locks if lk not in stale]
    if stale:
        if is_local(restic.repository):
            for lk in stale:
                try:
                    os.unlink(os.path.join(local_path(restic.repository), "locks", lk.id))
                except FileNotFoundError:
                    pass
        else:
            # restic unlock would also remove old locks of other hosts: only use it when
            # every lock it considers stale is one we consider stale too.
            now = datetime.now(UTC)
            foreign_old = [
                lk
                for lk in live
                if lk.hostname != here and (now - lk.time).total_seconds() > RESTIC_STALE_AGE_S
            ]
            if foreign_old:
                raise HafsError(
                    f"repository '{restic.name}' has stale locks of this host and old locks of "
                    f"other hosts ({'; '.join(lk.describe() for lk in foreign_old)}); hafs removes "
                    "only this host's stale locks and cannot do that selectively here: if those "
                    "hosts are not running restic, run 'restic unlock' yourself",
                    exits.RUNTIME,
                )
            restic.run("unlock")
    return stale


def with_stale_lock_retry(restic: Restic, action: Callable[[], T], removed: list[Lock]) -> T:
    """Run `action`; if restic finds the repository locked, clear stale locks and retry once."""
    try:
        return action()
    except ResticLocked as exc:
        cleared = remove_stale_locks(restic)
        if not cleared:
            holders = "; ".join(lk.describe() for lk in read_locks(restic)) or "unknown holder"
            raise HafsError(
                f"{exc.message}; held by a running process ({holders}); try again when it ends",
                exits.RUNTIME,
            ) from None
        removed.extend(cleared)
        return action()
