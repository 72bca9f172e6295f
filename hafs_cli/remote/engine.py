"""Run one sync profile: lock, guards, plan, transfer, records, manifest.

One-way syncs over rsync are a single rsync run (its itemized changes become the
records). Two-way syncs, and everything over SFTP, list both sides, plan, and then
carry the plan out in an order that never loses a version:
conflict renames -> staged conflict copies -> local deletions (to trash) -> pull ->
push -> remote deletions (to trash) -> new manifest.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from hafs_cli import exits, paths
from hafs_cli.exits import HafsError
from hafs_cli.remote import manifest as manifest_mod
from hafs_cli.remote import rsync
from hafs_cli.remote.listing import SYNC_DIR, Listing, walk_local
from hafs_cli.remote.planner import TYPE_NAMES, Op, Plan, plan_both, plan_oneway, resolve_compared
from hafs_cli.remote.profile import Profile, ProfileLock
from hafs_cli.remote.transports import (
    RsyncTransport,
    SftpTransport,
    choose,
    local_move_to_trash,
    remember_without_rsync,
)

_ZERO = {"copy": 0, "update": 0, "delete": 0, "conflict": 0, "skip": 0}

Emit = Callable[[dict], None]
OnError = Callable[[str], None]


class SyncRun:
    def __init__(self, profile: Profile, dry_run: bool, emit: Emit, on_error: OnError):
        self.p = profile
        self.dry_run = dry_run
        self._emit = emit
        self.on_error = on_error
        self.local_root = os.fsencode(profile.local)
        self.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.trash_rel = f"{profile.trash_dir.strip('/')}/{self.stamp}"
        self.counts = {"copy": 0, "update": 0, "delete": 0, "conflict": 0, "skip": 0}
        self.bytes = 0
        self.errors = 0
        self.transport_name = ""
        self.identical: set[bytes] = set()  # differing time-stamps, same content

    # -- records -----------------------------------------------------------------------
    def record(self, op: str, rel: bytes, direction: str, type_: str, size=None, **extra) -> None:
        rec = {
            "kind": "sync_op",
            "profile": self.p.name,
            "op": op,
            **paths.path_fields(rel),
            "direction": direction,
            "host": self.p.host.name,
            "type": type_,
        }
        if size is not None:
            rec["size"] = size
        rec.update({k: v for k, v in extra.items() if v not in (None, "")})
        rec["dry_run"] = self.dry_run
        rec["transport"] = self.transport_name
        self.counts[op] = self.counts.get(op, 0) + 1
        if op in ("copy", "update") and size:
            self.bytes += size
        self._emit(rec)

    def error(self, text: str) -> None:
        self.errors += 1
        self.on_error(text)

    def summary(self, elapsed: float) -> dict:
        return {
            "kind": "summary",
            "command": "sync",
            "profile": self.p.name,
            "host": self.p.host.name,
            "direction": self.p.direction,
            "transport": self.transport_name,
            "dry_run": self.dry_run,
            "copied": self.counts["copy"],
            "updated": self.counts["update"],
            "deleted": self.counts["delete"],
            "conflicts": self.counts["conflict"],
            "skipped": self.counts["skip"],
            "bytes": self.bytes,
            "errors": self.errors,
            "elapsed_s": round(elapsed, 3),
        }

    # -- entry point ---------------------------------------------------------------------
    def run(self) -> int:
        if os.path.lexists(self.local_root) and not os.path.isdir(self.local_root):
            raise HafsError(
                f"sync {self.p.name}: local {self.p.local} is a file, not a folder; a profile "
                f"syncs folders: set local in [sync.profiles.{self.p.name}] to a folder",
                exits.USAGE,
            )
        with ProfileLock(self.p.name):
            self.transport_name = choose(self.p.host)
            try:
                if self.p.direction != "both" and self.transport_name == "rsync":
                    return self._oneway_rsync()
                return self._planned()
            except rsync.RemoteRsyncMissing:
                if self.p.host.transport != "auto" or self.counts != _ZERO:
                    raise
                remember_without_rsync(self.p.host)
                self.transport_name = "sftp"
                return self._planned()

    # -- one-way over rsync: one rsync run -------------------------------------------------
    def _oneway_rsync(self) -> int:
        transport = RsyncTransport(
            self.p.host, self.local_root, self.p.remote_path, self.p.excludes, ""
        )
        push = self.p.direction == "push"
        self._guard_source(transport, push)
        argv = (
            rsync.base_argv(self.p.host, self.p.bwlimit, self.dry_run) + self.p.excludes.rsync_args
        )
        if self.p.delete:
            argv += ["--delete", "--backup", f"--backup-dir={self.trash_rel}"]
            if self.p.max_delete > 0:
                argv.append(f"--max-delete={self.p.max_delete}")
        local = transport._local()
        if push:
            argv += ["--mkpath", local, transport._remote()]
        else:
            if not self.dry_run:
                tmp = os.path.join(self.local_root, SYNC_DIR, b"tmp")
                _clear_dir(tmp)  # what a killed run left behind
                os.makedirs(tmp, exist_ok=True)
                argv.append(f"--temp-dir={os.fsdecode(tmp)}")
            argv += [transport._remote(), local]
        direction = "push" if push else "pull"

        def on_item(item: rsync.Item) -> None:
            if item.op == "attrs":
                return
            trash = self.trash_rel if item.op == "delete" else None
            self.record(
                item.op, item.path, direction, item.type, item.size, itemize=item.code, trash=trash
            )

        said: list[str] = []
        code = rsync.run(argv, self.p.host, on_item, said.append)
        if not push and not self.dry_run:
            _tidy(self.local_root)
        root_problem = next((_root_problem(t) for t in said if _root_problem(t)), "")
        if not push and code in (3, 23) and root_problem:
            raise HafsError(
                f"sync {self.p.name}: source {self.p.host.name}:{self.p.remote_path} "
                f"{root_problem}; nothing was changed. Check the path (is the disk mounted?)",
                exits.USAGE,
            )
        for text in said:
            self.error(text)
        if code == 25:
            raise HafsError(
                f"sync {self.p.name}: stopped deleting after {self.p.max_delete} deletions "
                f"(--max-delete); check the source, then rerun with a higher --max-delete",
                exits.USAGE,
            )
        if code == 23:
            return exits.RUNTIME
        rsync.check_exit(code, f"sync {self.p.name}")
        return exits.OK

    def _guard_source(self, transport: RsyncTransport, push: bool) -> None:
        """A missing source root is refused; an empty one too when deletions are on."""
        if push:
            exists = os.path.isdir(self.local_root)
            empty = exists and not any(
                n not in (SYNC_DIR, os.fsencode(self.p.trash_dir))
                for n in os.listdir(self.local_root)
            )
            where = self.p.local
        elif not self.p.delete:
            return  # rsync itself reports a missing source; nothing can be deleted
        else:
            listing = transport.listing_top()
            exists, empty = listing.exists, not listing.entries
            where = f"{self.p.host.name}:{self.p.remote_path}"
            if listing.not_dir:
                where += " is a file, not a folder"
        if not exists:
            what = where if where.endswith("folder") else f"{where} does not exist"
            raise HafsError(
                f"sync {self.p.name}: source {what}; nothing was changed. Check "
                "the path (is the disk mounted?)",
                exits.USAGE,
            )
        if empty and self.p.delete:
            raise HafsError(
                f"sync {self.p.name}: source {where} is empty and delete is on; refusing to "
                "delete everything at the destination. If that is really wanted, remove the "
                "files there by hand",
                exits.USAGE,
            )

    # -- planned syncs (both ways, or SFTP) -----------------------------------------------------
    def _planned(self) -> int:
        cls = RsyncTransport if self.transport_name == "rsync" else SftpTransport
        transport = cls(
            self.p.host, self.local_root, self.p.remote_path, self.p.excludes, self.p.bwlimit
        )
        try:
            return self._planned_with(transport)
        finally:
            transport.close()

    def _planned_with(self, transport) -> int:
        local = walk_local(self.local_root, self.p.excludes)
        if not self.dry_run:
            _clear_parts(self.local_root, local)
        remote = transport.listing(clean=not self.dry_run)
        for text in local.errors + remote.errors:
            self.error(text)
        both = self.p.direction == "both"
        previous = manifest_mod.load(self.p.name, self.p.local, self.p.remote) if both else {}
        if both:
            plan = plan_both(
                local,
                remote,
                previous,
                socket.gethostname(),
                self.p.host.name,
                self.stamp,
                self.p.delete,
            )
            if plan.to_compare:
                self.identical = resolve_compared(
                    plan, transport.differing(plan.to_compare, self.error)
                )
        elif self.p.direction == "push":
            plan = plan_oneway(local, remote, "push", self.p.delete)
        else:
            plan = plan_oneway(remote, local, "pull", self.p.delete)
        self._guard_planned(local, remote, previous, plan)
        if self.p.max_delete > 0 and plan.deletions() > self.p.max_delete:
            raise HafsError(
                f"sync {self.p.name}: the plan deletes {plan.deletions()} items, more than "
                f"max_delete = {self.p.max_delete}; nothing was changed. Check both sides, then "
                "rerun with a higher --max-delete",
                exits.USAGE,
            )
        if self.dry_run:
            for op in plan.ops:
                self._op_record(op)
            return exits.OK
        changed = any(op.op != "skip" for op in plan.ops)
        if changed:
            self._execute(plan, transport, local, remote)
            _tidy(self.local_root)
            local = walk_local(self.local_root, self.p.excludes)
            remote = transport.listing()
        else:
            for op in plan.ops:
                self._op_record(op)
        if both:
            self._save_manifest(local, remote, previous)
        return exits.RUNTIME if self.errors else exits.OK

    def _guard_planned(self, local: Listing, remote: Listing, previous: dict, plan: Plan) -> None:
        """Refuse when a missing or empty source root would delete things on the other side."""
        sides = [
            ("local", local, self.p.local, "push"),
            ("remote", remote, f"{self.p.host.name}:{self.p.remote_path}", "pull"),
        ]
        source_sides = {"push": ["local"], "pull": ["remote"], "both": ["local", "remote"]}
        for side, listing, where, deleting_towards in sides:
            if side not in source_sides[self.p.direction]:
                continue
            if listing.not_dir or (not listing.exists and (self.p.direction != "both" or previous)):
                raise HafsError(
                    f"sync {self.p.name}: {where} {listing.missing()}; nothing was changed. Check "
                    "the path (is the disk mounted?)",
                    exits.USAGE,
                )
            if not listing.entries and plan.of("delete", deleting_towards):
                raise HafsError(
                    f"sync {self.p.name}: {where} is empty; refusing to propagate the deletion "
                    "of everything; nothing was changed. If that is really wanted, delete the "
                    "files on the other side by hand",
                    exits.USAGE,
                )

    def _op_record(self, op: Op, trash: str | None = None) -> None:
        entry = op.entry
        type_ = TYPE_NAMES.get(entry.type, "file") if entry else "file"
        size = entry.size if entry and entry.type == "f" else None
        self.record(
            op.op,
            op.path,
            op.direction,
            type_,
            size,
            reason=op.reason,
            conflict_copy=os.fsdecode(op.conflict_copy) if op.conflict_copy else None,
            trash=trash,
        )

    def _execute(self, plan: Plan, transport, local: Listing, remote: Listing) -> None:
        conflicts = plan.of("conflict")
        # 1. a local loser steps aside under its conflict name
        for op in conflicts:
            if op.loser == "local":
                os.rename(
                    os.path.join(self.local_root, op.path),
                    os.path.join(self.local_root, op.conflict_copy),
                )
        # 2. a remote loser is fetched and kept locally under its conflict name
        remote_losers = [op for op in conflicts if op.loser == "remote"]
        if remote_losers:
            stage = os.path.join(self.local_root, SYNC_DIR, b"stage", self.stamp.encode())
            os.makedirs(stage, exist_ok=True)
            got = transport.pull(
                [o.path for o in remote_losers],
                self.error,
                into=stage,
                **_entries(transport, remote),
            )
            for op in remote_losers:
                if op.path in got:
                    os.replace(
                        os.path.join(stage, op.path),
                        os.path.join(self.local_root, op.conflict_copy),
                    )
            _clear_dir(os.path.dirname(stage))
        # 3. deletions on this side go to the local trash
        for op in plan.of("delete", "pull"):
            try:
                local_move_to_trash(self.local_root, op.path, self.trash_rel.encode(), op.entry)
                self._op_record(op, trash=self.trash_rel)
            except OSError as exc:
                self.error(f"{os.fsdecode(op.path)}: cannot move to the trash: {exc.strerror}")
        # 4. pull
        pulls = [o for o in plan.ops if o.op in ("copy", "update") and o.direction == "pull"]
        pulls += [o for o in conflicts if o.loser == "local"]
        whole = not local.entries and {o.path for o in pulls} == set(remote.entries)
        done = transport.pull(
            [o.path for o in pulls], self.error, whole=whole, **_entries(transport, remote)
        )
        self._report(pulls, done)
        # 5. push; a remote loser's replaced version also goes to the remote trash
        pushes = [o for o in plan.ops if o.op in ("copy", "update") and o.direction == "push"]
        copies = [o.conflict_copy for o in conflicts]
        local_now = {**local.entries, **{c: _entry_of(self.local_root, c) for c in copies}}
        for op in pulls:
            local_now[op.path] = op.entry
        entries = _entries(transport, local_now)
        whole = not remote.entries and not copies and {o.path for o in pushes} == set(local.entries)
        done = transport.push([o.path for o in pushes] + copies, self.error, whole=whole, **entries)
        self._report(pushes, done)
        done = transport.push(
            [o.path for o in remote_losers], self.error, backup_dir=self.trash_rel, **entries
        )
        self._report(remote_losers, done)
        # 6. deletions on the other side go to the remote trash
        deletes = sorted(plan.of("delete", "push"), key=lambda o: o.path, reverse=True)
        done = transport.delete([o.path for o in deletes], self.trash_rel, self.error)
        for op in deletes:
            if op.path in done:
                self._op_record(op, trash=self.trash_rel)
            else:
                self.error(f"{os.fsdecode(op.path)}: not deleted on {self.p.host.name}")
        for op in plan.of("skip"):
            self._op_record(op)

    def _report(self, ops: list[Op], done: set[bytes]) -> None:
        for op in ops:
            if op.path in done or (op.entry is not None and op.entry.type == "d"):
                self._op_record(op)
            elif op.entry is not None and op.entry.type != "d":
                self.error(f"{os.fsdecode(op.path)}: not transferred")

    def _save_manifest(self, local: Listing, remote: Listing, previous: dict) -> None:
        """Record what is now the same on both sides (hashing only what changed)."""
        items: dict[bytes, manifest_mod.Synced] = {}
        to_hash = []
        for rel, lentry in local.entries.items():
            rentry = remote.entries.get(rel)
            if rentry is None:
                continue
            if not lentry.same_as(rentry) and not (rel in self.identical and lentry.type == "f"):
                continue
            old = previous.get(rel)
            digest = old.blake3 if old and lentry.same_as(old.local) else ""
            items[rel] = manifest_mod.Synced(lentry, rentry, digest)
            if lentry.type == "f" and not digest:
                to_hash.append(rel)
        for rel, digest in manifest_mod.hash_files(self.local_root, to_hash).items():
            item = items[rel]
            items[rel] = manifest_mod.Synced(item.local, item.remote, digest)
        for rel, item in previous.items():  # what could not be seen keeps its last state
            if local.hidden(rel) or remote.hidden(rel):
                items.setdefault(rel, item)
        if items == previous:
            return
        manifest_mod.save(self.p.name, self.p.local, self.p.remote, items)


def _entries(transport, listing) -> dict:
    """SFTP needs the entry of each path it copies; rsync finds out itself."""
    if transport.name != "sftp":
        return {}
    entries = listing.entries if isinstance(listing, Listing) else listing
    return {"entries": entries}


def _entry_of(root: bytes, rel: bytes):
    from hafs_cli.remote.listing import _entry_from_stat

    full = os.path.join(root, rel)
    return _entry_from_stat(os.lstat(full), lambda: os.readlink(full))


def _root_problem(text: str) -> str:
    """What rsync's message says is wrong with the source root ('' when it is not about it)."""
    if "change_dir" not in text:
        return ""
    if "No such file or directory" in text:
        return "does not exist"
    if "Not a directory" in text:
        return "is a file, not a folder"
    return ""


def _clear_dir(path: bytes) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _tidy(root: bytes) -> None:
    """Remove our empty bookkeeping directories from the local root."""
    _clear_dir(os.path.join(root, SYNC_DIR, b"tmp"))
    try:
        os.rmdir(os.path.join(root, SYNC_DIR))
    except OSError:
        pass


def _clear_parts(root: bytes, listing: Listing) -> None:
    """Remove the temporary files an interrupted run left behind."""
    for rel in listing.stale_parts:
        try:
            os.unlink(os.path.join(root, rel))
        except OSError:
            pass
    _clear_dir(os.path.join(root, SYNC_DIR, b"tmp"))
