"""`hafs scan HOST:PATH`: scan a directory on another machine, records tagged with the host.

When hafs is installed there ([hosts.NAME] hafs_command), the remote host runs
`hafs scan --hash ...` and its JSON Lines stream back over ssh: files
are hashed (blake3) where they live, so `hafs dedup` can join duplicates across
machines without copying a byte. Otherwise the tree is walked over SFTP (no hashes:
that would mean reading every file over the network).
"""

from __future__ import annotations

import os
import posixpath
import shlex
import stat
import subprocess
import threading
from collections.abc import Iterator

from hafs_cli import exits, paths, records
from hafs_cli.exits import HafsError
from hafs_cli.remote.hosts import Host, parse_remote, require_hosts_table
from hafs_cli.remote.ssh import SSH_FAILED, ssh_argv, ssh_failure

NOT_INSTALLED = 127


def scan_remote(spec: str, options: dict, config) -> Iterator[dict]:
    """Records for HOST:PATH: `file` (and `dir`/`symlink` if asked), plus `error` records."""
    host, path = parse_remote(spec, require_hosts_table(config))
    if host.hafs_command.strip():
        got = yield from _scan_with_remote_hafs(host, path, options)
        if got:
            return
    yield from _scan_over_sftp(host, path, options)


def remote_path_arg(path: str) -> str:
    """Quote a remote path for a POSIX shell, leaving a leading ~ to be expanded."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def remote_scan_command(host: Host, path: str, options: dict) -> str:
    """The shell command run on the remote host (POSIX sh)."""
    hafs = host.hafs_command.strip()
    argv = ["scan", "--format", "jsonl"]
    for pattern in options.get("exclude") or ():
        argv += ["--exclude", pattern]
    flags = {
        "gitignore": ("--gitignore", "--no-gitignore"),
        "hidden": ("--hidden", "--no-hidden"),
    }
    for key, (yes, no) in flags.items():
        if key in options:
            argv.append(yes if options[key] else no)
    for key, flag in (
        ("one_file_system", "--one-file-system"),
        ("follow_symlinks", "--follow-symlinks"),
        ("dirs", "--dirs"),
        ("symlinks", "--symlinks"),
    ):
        if options.get(key):
            argv.append(flag)
    if options.get("max_depth"):
        argv += ["--max-depth", str(int(options["max_depth"]))]
    if options.get("hash", True):
        argv.append("--hash")
    scan = f"{hafs} {shlex.join(argv)} -- {remote_path_arg(path)}"
    probe = shlex.split(hafs)[0]
    return (
        f"if command -v {shlex.quote(probe)} >/dev/null 2>&1; then {scan}; "
        f"else exit {NOT_INSTALLED}; fi"
    )


def _scan_with_remote_hafs(host: Host, path: str, options: dict):
    """Stream the remote scan; return False when hafs is not installed there."""
    proc = subprocess.Popen(
        ssh_argv(host, remote_scan_command(host, path, options)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)
    reader.start()
    emitted = 0
    try:
        for line in proc.stdout:
            item = records.parse_line(
                line.rstrip(b"\r\n"), f"{host.name}:{path}", emitted + 1, False
            )
            if isinstance(item, records.BadLine):
                yield {"kind": "error", "reason": item.reason, "host": host.name}
                continue
            if item.get("kind") == "summary":
                continue  # the local scan writes one summary for everything
            item["host"] = host.name
            emitted += 1
            yield item
    except BaseException:  # the consumer stopped early, or Ctrl-C
        proc.kill()
        proc.wait()
        raise
    code = proc.wait()
    reader.join()
    if code == SSH_FAILED:
        raise ssh_failure(host, b"".join(stderr), f"scanning {host.name}:{path}")
    if code == NOT_INSTALLED and not emitted:
        return False
    if not emitted and options.get("hash", True) and any(b"--hash" in r for r in stderr):
        # an older hafs there: scan without remote hashing rather than not at all
        yield {
            "kind": "error",
            "reason": f"hafs on {host.name} cannot hash (upgrade it there); files listed without blake3",
            "host": host.name,
        }
        return (yield from _scan_with_remote_hafs(host, path, {**options, "hash": False}))
    for raw in stderr:
        yield _remote_error(raw, host)
    if code not in (0, 1, 2, 3):
        yield {
            "kind": "error",
            "reason": f"remote scan exited with status {code}",
            "host": host.name,
        }
    return True


def _remote_error(raw: bytes, host: Host) -> dict:
    try:
        rec = records.loads(raw)
    except Exception:
        rec = None
    if isinstance(rec, dict) and rec.get("kind") == "error":
        rec = {k: v for k, v in rec.items() if k != "command"}
        rec["host"] = host.name
        rec.setdefault("reason", "remote error")
        return rec
    return {"kind": "error", "reason": raw.decode(errors="replace").strip(), "host": host.name}


def _scan_over_sftp(host: Host, path: str, options: dict) -> Iterator[dict]:
    """Walk the remote tree over SFTP (file records without hashes)."""
    from hafs_cli.remote.listing import Excludes, sftp_list_error
    from hafs_cli.remote.ssh import connect
    from hafs_cli.remote.transports import remote_root_path

    client = connect(host)
    try:
        sftp = client.open_sftp()
        root = remote_root_path(path)
        root = sftp.normalize(root)
        try:
            top = sftp.lstat(root)
        except OSError as exc:
            yield {
                "kind": "error",
                "reason": f"cannot scan: {sftp_list_error(exc)}",
                "path": root,
                "host": host.name,
            }
            return
        if not stat.S_ISDIR(top.st_mode or 0):  # a file (or link) given as the root, as scan allows
            top.filename = posixpath.basename(root)
            yield from _sftp_record(root, top, host, options, sftp)
            return
        excludes = Excludes(options.get("exclude") or (), trash_dir=".hafs-trash")
        max_depth = int(options.get("max_depth") or 0)
        stack: list[tuple[str, int]] = [(root, 1)]
        while stack:
            directory, depth = stack.pop()
            try:
                items = sftp.listdir_attr(directory)
            except (OSError, UnicodeDecodeError) as exc:
                yield {
                    "kind": "error",
                    "reason": f"cannot list: {sftp_list_error(exc)}",
                    "path": directory,
                    "host": host.name,
                }
                continue
            for attr in sorted(items, key=lambda a: a.filename):
                full = f"{directory.rstrip('/')}/{attr.filename}"
                rel = os.fsencode(full[len(root) :].lstrip("/"))
                mode = attr.st_mode or 0
                if not options.get("hidden", True) and attr.filename.startswith("."):
                    continue
                if excludes.excluded(rel, stat.S_ISDIR(mode)):
                    continue
                yield from _sftp_record(full, attr, host, options, sftp)
                if stat.S_ISDIR(mode) and (not max_depth or depth < max_depth):
                    stack.append((full, depth + 1))
    except OSError as exc:
        raise HafsError(f"scanning {host.name}:{path} over SFTP: {exc}", exits.RUNTIME) from None
    finally:
        client.close()


def _sftp_record(full: str, attr, host: Host, options: dict, sftp) -> Iterator[dict]:
    mode = attr.st_mode or 0
    base = {**paths.path_fields(full), "host": host.name, "mode": mode}
    if stat.S_ISREG(mode):
        ext = os.path.splitext(attr.filename)[1].lstrip(".").lower()
        yield {
            "kind": "file",
            **base,
            "size": attr.st_size or 0,
            "mtime_ns": int(attr.st_mtime or 0) * 1_000_000_000,
            "extension": ext,
        }
    elif stat.S_ISDIR(mode) and options.get("dirs"):
        yield {"kind": "dir", **base, "mtime_ns": int(attr.st_mtime or 0) * 1_000_000_000}
    elif stat.S_ISLNK(mode) and options.get("symlinks"):
        yield {"kind": "symlink", **base, "target": sftp.readlink(full) or ""}
