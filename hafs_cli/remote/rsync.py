"""The rsync driver: argv, `--itemize-changes` lines -> operations, exit codes -> errors.

hafs never asks rsync to write in place: rsync writes a temporary file and renames it
over the old one, so an interrupted transfer leaves the previous version intact.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from hafs_cli import exits
from hafs_cli.exits import HafsError
from hafs_cli.remote.hosts import Host
from hafs_cli.remote.listing import unescape_rsync
from hafs_cli.remote.ssh import rsync_rsh, ssh_failure

OUT_FORMAT = "--out-format=%i %l %n"

# rsync(1) EXIT VALUES, with what a user should do about each.
EXIT_MEANINGS = {
    1: "syntax or usage error (a bad option or exclude pattern)",
    2: "protocol incompatibility (the two rsync versions cannot talk; upgrade the older one)",
    3: "errors selecting input/output files or directories (does the path exist?)",
    4: "requested action not supported (an option the remote rsync lacks)",
    5: "error starting the client-server protocol",
    10: "error in socket I/O (the connection dropped)",
    11: "error in file I/O (disk full or read-only filesystem?)",
    12: "error in the rsync protocol data stream (the connection dropped, or the remote shell prints text on login)",
    13: "errors with program diagnostics",
    14: "error in IPC code",
    20: "received SIGUSR1 or SIGINT (interrupted)",
    21: "some error returned by waitpid()",
    22: "error allocating core memory buffers",
    23: "partial transfer due to error (some files could not be read or written; see the errors)",
    24: "partial transfer due to vanished source files (files changed during the sync; run it again)",
    25: "the --max-delete limit stopped deletions",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    127: 'rsync is not installed on the remote host (set rsync_path in [hosts], or transport = "sftp")',
}


_SSH_TRUSTED = "Warning: Permanently added"  # ssh, when accept-new trusted a new host key
_MISSING = (b"command not found", b"is not recognized as an internal or external command")


class RemoteRsyncMissing(HafsError):
    """The remote host has no rsync (the caller may fall back to SFTP)."""


def _check_missing(host: Host, code: int, stderr: bytes) -> None:
    closed = b"No such file or directory" in stderr and b"connection unexpectedly closed" in stderr
    if code in (12, 14, 127) and (closed or any(sign in stderr for sign in _MISSING)):
        raise RemoteRsyncMissing(
            f"{host.name} has no {host.rsync_path!r}: {EXIT_MEANINGS[127]}", exits.RUNTIME
        )


def exit_message(code: int) -> str:
    return EXIT_MEANINGS.get(code, f"rsync failed with exit status {code}")


@dataclass
class Item:
    """One line of --itemize-changes output."""

    op: str  # copy | update | delete | attrs
    type: str  # file | dir | symlink | other
    path: bytes
    size: int | None
    code: str


_TYPES = {"f": "file", "d": "dir", "L": "symlink"}


def parse_itemize(line: bytes) -> Item | None:
    """Parse `%i %l %n`; None for lines that are not itemized changes."""
    line = line.rstrip(b"\r\n")
    if len(line) < 13:
        return None
    code = line[:11].decode("ascii", errors="replace")
    rest = line[12:]
    size_text, _, name = rest.partition(b" ")
    if not size_text.isdigit() or code[0] not in "<>ch.*":
        return None
    path = unescape_rsync(name)
    if code.startswith("*deleting"):
        kind = "dir" if path.endswith(b"/") else "file"
        return Item("delete", kind, path.rstrip(b"/"), None, code.strip())
    kind = _TYPES.get(code[1], "other")
    path = path.rstrip(b"/")
    if kind == "symlink":
        path = path.split(b" -> ", 1)[0]
    if path in (b"", b"."):
        return None
    if code[0] == ".":
        return Item("attrs", kind, path, int(size_text), code)
    new = code[2:].startswith("+++")
    size = int(size_text) if kind == "file" else None
    return Item("copy" if new else "update", kind, path, size, code)


def remote_arg(host: Host, path: str) -> str:
    return f"{host.address}:{path}"


def base_argv(host: Host, bwlimit: str = "", dry_run: bool = False) -> list[str]:
    argv = ["rsync", "-a", "--no-h", OUT_FORMAT, "-e", rsync_rsh(host)]
    if host.rsync_path and host.rsync_path != "rsync":
        argv.append(f"--rsync-path={host.rsync_path}")
    if bwlimit:
        argv.append(f"--bwlimit={bwlimit}")
    if dry_run:
        argv.append("--dry-run")
    return argv


def run(
    argv: list[str],
    host: Host,
    on_item: Callable[[Item], None],
    on_error: Callable[[str], None],
    files_from: Iterable[bytes] | None = None,
) -> int:
    """Run rsync, streaming its items; return its exit status (ssh failures raise)."""
    if files_from is not None:
        argv = [*argv, "--files-from=-", "--from0"]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if files_from is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if files_from is not None:
        # written from a thread: rsync may fill its stdout before it has read the whole list
        data = b"".join(p + b"\0" for p in files_from)
        threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True).start()
    assert proc.stdout is not None and proc.stderr is not None
    stderr_lines: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        for line in proc.stdout:
            item = parse_itemize(line)
            if item is not None:
                on_item(item)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    code = proc.wait()
    reader.join()
    stderr = b"".join(stderr_lines)
    if code == 255 or (code in (12, 5) and _ssh_said(stderr)):
        raise ssh_failure(host, stderr, "rsync")
    _check_missing(host, code, stderr)
    for text in stderr.decode(errors="replace").splitlines():
        if text.startswith(("rsync error:", _SSH_TRUSTED)) or not text.strip():
            continue  # the exit status says it; a key trusted under accept-new is no error
        on_error(text.strip())
    return code


def _feed(stream, data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, ValueError, OSError):
        pass  # rsync stopped early; its exit status says why


def _ssh_said(stderr: bytes) -> bool:
    """Whether ssh itself failed (rsync then reports a broken protocol stream)."""
    return (
        b"Host key verification failed" in stderr
        or b"Connection refused" in stderr
        or any(line.startswith(b"ssh: ") for line in stderr.splitlines())
    )


def list_remote(
    host: Host, path: str, exclude_args: list[str], recursive: bool = True
) -> tuple[bytes, int, bytes]:
    """`rsync [-r] --list-only` of a remote directory: (stdout, exit status, stderr)."""
    argv = ["rsync", "-l", "--list-only", "--no-h", "-e", rsync_rsh(host), *exclude_args]
    if recursive:
        argv.insert(1, "-r")
    if host.rsync_path and host.rsync_path != "rsync":
        argv.append(f"--rsync-path={host.rsync_path}")
    argv.append(remote_arg(host, path.rstrip("/") + "/"))
    # times in UTC: no daylight-saving hour is ambiguous when they are read back
    env = {**os.environ, "TZ": "UTC"}
    proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, env=env)
    if proc.returncode == 255 or (proc.returncode in (12, 5) and _ssh_said(proc.stderr)):
        raise ssh_failure(host, proc.stderr, "listing")
    _check_missing(host, proc.returncode, proc.stderr)
    return proc.stdout, proc.returncode, proc.stderr


def unreadable_from_stderr(stderr: bytes, root: str) -> Iterator[bytes]:
    """Directories rsync could not open (`opendir "X" failed`), relative to root."""
    prefix = os.fsencode(root.rstrip("/") + "/")
    for line in stderr.splitlines():
        if b"opendir" in line and b'"' in line:
            name = line.split(b'"')[1]
            if name.startswith(prefix):
                name = name[len(prefix) :]
            yield unescape_rsync(name.rstrip(b"/"))


def check_exit(code: int, what: str) -> None:
    if code in (0, 24):
        return
    raise HafsError(f"{what}: rsync: {exit_message(code)}", exits.RUNTIME)
