"""The two ways bytes travel: rsync over ssh, or paramiko SFTP. Same operations, same safety.

Each transport lists the remote tree, copies given paths either way (never in place),
moves remote items into the trash, and tells which files differ in content.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import orjson

from hafs_cli import exits
from hafs_cli.exits import HafsError
from hafs_cli.remote import rsync, sftp
from hafs_cli.remote.hosts import Host
from hafs_cli.remote.listing import SYNC_DIR, Entry, Excludes, Listing, parse_rsync_list, walk_sftp

OnError = Callable[[str], None]


def remote_root_path(path: str) -> str:
    """`~` and `~/x` mean the login directory: SFTP and rsync take them as relative paths."""
    if path in ("~", "~/"):
        return "."
    if path.startswith("~/"):
        return path[2:] or "."
    return path


def _cache_key(host: Host) -> str:
    return f"{host.address}|{host.port}|{host.user}|{host.rsync_path}"


def _cache_file():
    from hafs_cli import xdg

    return xdg.cache_dir() / "remote-transports.json"


def choose(host: Host) -> str:
    """rsync when both ends have it, else sftp (transport = auto).

    Optimistic: rsync is tried first and a host found without it is remembered (XDG
    cache), so no extra ssh round trip is spent on finding out.
    """
    if host.transport in ("rsync", "sftp"):
        return host.transport
    if shutil.which("rsync") is None:
        return "sftp"
    try:
        known = orjson.loads(_cache_file().read_bytes())
    except (OSError, ValueError):
        known = {}
    return "sftp" if known.get(_cache_key(host)) == "sftp" else "rsync"


def remember_without_rsync(host: Host) -> None:
    path = _cache_file()
    try:
        known = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        known = {}
    known[_cache_key(host)] = "sftp"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(orjson.dumps(known))
    os.replace(tmp, path)


class _Transport:
    name = ""

    def __init__(
        self, host: Host, local_root: bytes, remote_root: str, excludes: Excludes, bwlimit: str
    ):
        self.host = host
        self.local_root = local_root
        self.remote_root = remote_root_path(remote_root).rstrip("/") or "/"
        self.excludes = excludes
        self.bwlimit = bwlimit

    def close(self) -> None:
        return None


class RsyncTransport(_Transport):
    name = "rsync"

    def _remote(self) -> str:
        return rsync.remote_arg(self.host, self.remote_root + "/")

    def _local(self, sub: bytes = b"") -> str:
        return os.fsdecode(os.path.join(self.local_root, sub) if sub else self.local_root) + "/"

    def listing_top(self) -> Listing:
        """Only the top level of the remote root (enough to tell missing or empty)."""
        return self.listing(recursive=False)

    def listing(self, recursive: bool = True, clean: bool = True) -> Listing:
        out, code, err = rsync.list_remote(
            self.host, self.remote_root, self.excludes.rsync_args, recursive
        )
        listing = Listing()
        if code != 0 and not out:
            if b"No such file" in err or b"change_dir" in err:
                listing.exists = False
                listing.not_dir = b"Not a directory" in err
                return listing
            raise HafsError(
                f"listing {self.host.name}:{self.remote_root}: rsync: {rsync.exit_message(code)}: "
                f"{err.decode(errors='replace').strip()}",
                exits.RUNTIME,
            )
        listing.entries = parse_rsync_list(out, self.excludes)
        listing.unreadable = list(rsync.unreadable_from_stderr(err, self.remote_root))
        return listing

    def _transfer(
        self, argv: list[str], paths: list[bytes] | None, on_error: OnError
    ) -> set[bytes]:
        """Run rsync for `paths` (None: the whole tree, with the excludes)."""
        seen: set[bytes] = set()
        if paths is None:
            argv = argv[:-2] + self.excludes.rsync_args + argv[-2:]
        code = rsync.run(argv, self.host, lambda item: seen.add(item.path), on_error, paths)
        if code != 23:  # 23: some files failed; each was reported through on_error
            rsync.check_exit(code, f"sync with {self.host.name}")
        return seen

    def push(
        self, paths: list[bytes], on_error: OnError, backup_dir: str = "", whole: bool = False
    ) -> set[bytes]:
        """Copy local paths to the remote root; returns the paths rsync reported.

        whole: the paths are the entire local tree (a recursive run is faster than a list).
        """
        if not paths:
            return set()
        argv = rsync.base_argv(self.host, self.bwlimit) + ["--mkpath"]
        if backup_dir:
            argv += ["--backup", f"--backup-dir={backup_dir}"]
        argv += [self._local(), self._remote()]
        return self._transfer(argv, None if whole else paths, on_error)

    def pull(
        self, paths: list[bytes], on_error: OnError, into: bytes = b"", whole: bool = False
    ) -> set[bytes]:
        """Copy remote paths into the local root (or into the local directory `into`)."""
        if not paths:
            return set()
        tmp = os.path.join(self.local_root, SYNC_DIR, b"tmp")
        os.makedirs(tmp, exist_ok=True)
        dest = os.fsdecode(into or self.local_root) + "/"
        argv = rsync.base_argv(self.host, self.bwlimit) + [f"--temp-dir={os.fsdecode(tmp)}"]
        return self._transfer([*argv, self._remote(), dest], None if whole else paths, on_error)

    def delete(self, paths: list[bytes], trash_rel: str, on_error: OnError) -> set[bytes]:
        """Move remote paths (missing locally) into the remote trash."""
        if not paths:
            return set()
        argv = rsync.base_argv(self.host, self.bwlimit) + [
            "--delete-missing-args",
            "--backup",
            f"--backup-dir={trash_rel}",
            "--force",  # a directory that still holds excluded files goes as a whole
        ]

        def report(text: str) -> None:  # the paths are missing here on purpose
            if "file has vanished" not in text and "some files vanished" not in text:
                on_error(text)

        return self._transfer([*argv, self._local(), self._remote()], paths, report)

    def differing(self, paths: list[bytes], on_error: OnError) -> set[bytes]:
        """Which of these files differ in content (rsync --checksum, dry run)."""
        if not paths:
            return set()
        argv = rsync.base_argv(self.host, dry_run=True) + ["--checksum"]
        argv += [self._local(), self._remote()]
        differ: set[bytes] = set()

        def on_item(item: rsync.Item) -> None:
            if item.op == "copy" or item.code[2:3] == "c":  # 'c': the checksum differs
                differ.add(item.path)

        code = rsync.run(argv, self.host, on_item, on_error, paths)
        rsync.check_exit(code, f"comparing with {self.host.name}")
        return differ


class SftpTransport(_Transport):
    name = "sftp"

    def __init__(
        self, host: Host, local_root: bytes, remote_root: str, excludes: Excludes, bwlimit: str
    ):
        from hafs_cli.remote.ssh import connect

        super().__init__(host, local_root, remote_root, excludes, bwlimit)
        try:
            self.throttle = sftp.Throttle(sftp.parse_rate(bwlimit))
        except ValueError as exc:
            raise HafsError(str(exc), exits.USAGE) from None
        self.client = connect(host)
        self.sftp = self.client.open_sftp()

    def listing(self, clean: bool = True) -> Listing:
        listing = walk_sftp(self.sftp, self.remote_root, self.excludes)
        if clean:  # temporary files of an interrupted run
            sftp.remove_parts(self.sftp, self.remote_root, listing.stale_parts)
        return listing

    def _each(self, paths, entries, fn, on_error: OnError) -> set[bytes]:
        done: set[bytes] = set()
        for rel in paths:
            try:
                fn(rel, entries[rel])
                done.add(rel)
            except OSError as exc:
                on_error(f"{os.fsdecode(rel)}: {exc}")
        return done

    def push(
        self, paths, on_error, backup_dir: str = "", entries=None, whole: bool = False
    ) -> set[bytes]:
        if backup_dir:
            for rel in paths:  # keep what is about to be replaced
                try:
                    sftp.move_to_trash_remote(
                        self.sftp, self.remote_root, rel, os.fsencode(backup_dir)
                    )
                except OSError:
                    pass
        return self._each(
            paths,
            entries,
            lambda rel, e: sftp.upload(
                self.sftp, self.local_root, self.remote_root, rel, e, self.throttle
            ),
            on_error,
        )

    def pull(
        self, paths, on_error, into: bytes = b"", entries=None, whole: bool = False
    ) -> set[bytes]:
        root = into or self.local_root
        return self._each(
            paths,
            entries,
            lambda rel, e: sftp.download(self.sftp, root, self.remote_root, rel, e, self.throttle),
            on_error,
        )

    def delete(self, paths, trash_rel: str, on_error: OnError) -> set[bytes]:
        done: set[bytes] = set()
        for rel in paths:
            try:
                full = sftp.rjoin(self.remote_root, rel)
                attrs = self.sftp.lstat(full)
                is_dir = attrs.st_mode and (attrs.st_mode & 0o170000) == 0o040000
                try:
                    if not is_dir:
                        raise OSError("not a directory")
                    self.sftp.rmdir(full)  # reached once its files were moved
                except OSError:  # a file, or a directory still holding excluded files
                    sftp.move_to_trash_remote(
                        self.sftp, self.remote_root, rel, os.fsencode(trash_rel)
                    )
                done.add(rel)
            except OSError as exc:
                on_error(f"{os.fsdecode(rel)}: {exc}")
        return done

    def differing(self, paths: list[bytes], on_error: OnError) -> set[bytes]:
        from hafs_cli.remote.manifest import hash_file

        out: set[bytes] = set()
        for rel in paths:
            local = hash_file(os.path.join(self.local_root, rel))
            if sftp.hash_remote(self.sftp, self.remote_root, rel) != local:
                out.add(rel)
        return out

    def close(self) -> None:
        self.client.close()


def local_move_to_trash(root: bytes, rel: bytes, trash_rel: bytes, entry: Entry | None) -> None:
    src = os.path.join(root, rel)
    if entry is not None and entry.type == "d":
        try:
            os.rmdir(src)
            return
        except OSError:
            pass  # excluded files (__pycache__...) inside: the directory goes to the trash
    dst = os.path.join(root, trash_rel, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.rename(src, sftp.free_name(dst, os.path.lexists))
