"""What a sync must do, decided from listings (and, both ways, the manifest).

Pure functions: no I/O. The engine carries the plan out and the transports move bytes.

Both ways, per path (L local now, R remote now, M the manifest):
  changed on one side only      -> copied to the other side
  deleted on one side, unchanged on the other -> deleted there (into the trash)
  deleted on one side, changed on the other   -> the changed version is copied back
  changed on both, same content -> nothing to do
  changed on both, different    -> conflict: the newer version keeps the name on both
                                   sides; the other is saved as NAME.conflict-HOST-TIME
  no manifest entry             -> union; differing content is a conflict
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hafs_cli.remote.listing import Entry, Listing
from hafs_cli.remote.manifest import Synced

TYPE_NAMES = {"f": "file", "d": "dir", "l": "symlink"}


@dataclass
class Op:
    """One planned operation. direction: push (applied remotely) or pull (applied locally)."""

    op: str  # copy | update | delete | conflict | skip
    path: bytes
    direction: str
    entry: Entry | None = None
    reason: str = ""
    loser: str = ""  # conflict: "local" or "remote"
    conflict_copy: bytes = b""


@dataclass
class Plan:
    ops: list[Op] = field(default_factory=list)
    # both changed with equal size and time-stamps that differ: content decides
    to_compare: list[bytes] = field(default_factory=list)

    def of(self, op: str, direction: str | None = None) -> list[Op]:
        return [
            o for o in self.ops if o.op == op and (direction is None or o.direction == direction)
        ]

    def deletions(self) -> int:
        return sum(1 for o in self.ops if o.op == "delete")


def conflict_name(path: bytes, host: str, stamp: str) -> bytes:
    safe_host = "".join(c if c.isalnum() or c in "-_." else "_" for c in host)
    return path + f".conflict-{safe_host}-{stamp}".encode()


def plan_oneway(src: Listing, dst: Listing, direction: str, delete: bool) -> Plan:
    """Make dst like src (quick check: type, size, mtime); extra dst items deleted if asked."""
    plan = Plan()
    for rel, entry in sorted(src.entries.items()):
        have = dst.entries.get(rel)
        if dst.hidden(rel):
            plan.ops.append(Op("skip", rel, direction, entry, reason="destination unreadable"))
        elif have is None:
            plan.ops.append(Op("copy", rel, direction, entry))
        elif not entry.same_as(have):
            if have.type == "d" or entry.type == "d":
                plan.ops.append(
                    Op("skip", rel, direction, entry, reason="file on one side, dir on the other")
                )
            else:
                plan.ops.append(Op("update", rel, direction, entry))
    if delete:
        for rel, entry in sorted(dst.entries.items(), reverse=True):
            if rel not in src.entries and not src.hidden(rel):
                plan.ops.append(Op("delete", rel, direction, entry))
    return plan


def _state(now: Entry | None, before: Entry | None, known: bool) -> str:
    if not known:
        return "new" if now is not None else "absent"
    if now is None:
        return "deleted"
    return "same" if now.same_as(before) else "changed"


def plan_both(
    local: Listing,
    remote: Listing,
    manifest: dict[bytes, Synced],
    local_host: str,
    remote_host: str,
    stamp: str,
    delete: bool = True,
) -> Plan:
    """The two-way plan (see the module docstring)."""
    plan = Plan()
    dir_deletes: list[Op] = []
    for rel in sorted(set(local.entries) | set(remote.entries) | set(manifest)):
        lnow, rnow = local.entries.get(rel), remote.entries.get(rel)
        if local.hidden(rel) or remote.hidden(rel):
            if not (lnow and rnow and lnow.same_as(rnow)):
                side = "local" if local.hidden(rel) else "remote"
                plan.ops.append(
                    Op("skip", rel, "push", lnow or rnow, reason=f"unreadable on {side}")
                )
            continue
        known = manifest.get(rel)
        ls = _state(lnow, known.local if known else None, known is not None)
        rs = _state(rnow, known.remote if known else None, known is not None)
        op = _decide(rel, lnow, rnow, ls, rs, plan)
        if op is None:
            continue
        if op.op == "delete" and not delete:
            # deletions not propagated: bring the item back instead
            back = lnow or rnow
            op = Op("copy", rel, "pull" if rnow else "push", back, reason="deletion not propagated")
        if op.op == "delete" and op.entry is not None and op.entry.type == "d":
            dir_deletes.append(op)
            continue
        if op.op == "conflict":
            _settle_conflict(op, lnow, rnow, local_host, remote_host, stamp)
        plan.ops.append(op)
    _add_dir_deletes(plan, dir_deletes, local, remote)
    return plan


def _decide(rel, lnow, rnow, ls, rs, plan: Plan) -> Op | None:
    if lnow is None and rnow is None:
        return None
    if ls in ("same", "absent") and rs in ("same", "absent") and ls == rs == "same":
        return None
    if (ls == "new" and rs == "absent") or (ls == "changed" and rs == "same"):
        return Op("copy" if rnow is None else "update", rel, "push", lnow)
    if (rs == "new" and ls == "absent") or (rs == "changed" and ls == "same"):
        return Op("copy" if lnow is None else "update", rel, "pull", rnow)
    if ls == "deleted" and rs == "same":
        return Op("delete", rel, "push", rnow)
    if rs == "deleted" and ls == "same":
        return Op("delete", rel, "pull", lnow)
    if ls == "deleted" and rs == "changed":
        return Op("copy", rel, "pull", rnow, reason="changed remotely, deleted locally")
    if rs == "deleted" and ls == "changed":
        return Op("copy", rel, "push", lnow, reason="changed locally, deleted remotely")
    # present on both sides and new or changed on both
    assert lnow is not None and rnow is not None
    if ls == rs == "changed" and lnow.type == rnow.type == "f" and lnow.size == rnow.size:
        # both edited since the last sync: equal size and time-stamp prove nothing
        plan.to_compare.append(rel)
        return Op("conflict", rel, "push", lnow)
    if lnow.same_as(rnow):
        return None
    if lnow.type != rnow.type:
        if "d" in (lnow.type, rnow.type):
            return Op("skip", rel, "push", lnow, reason="file on one side, directory on the other")
        return Op("conflict", rel, "push", lnow)
    if lnow.type == "f" and lnow.size == rnow.size:
        plan.to_compare.append(rel)
    return Op("conflict", rel, "push", lnow)


def _settle_conflict(
    op: Op, lnow: Entry, rnow: Entry, local_host: str, remote_host: str, stamp: str
):
    """The newer version keeps the name (a tie goes to local); the other gets a conflict name."""
    if rnow.mtime > lnow.mtime:
        op.loser, op.direction, op.entry = "local", "pull", rnow
        op.conflict_copy = conflict_name(op.path, local_host, stamp)
    else:
        op.loser, op.direction, op.entry = "remote", "push", lnow
        op.conflict_copy = conflict_name(op.path, remote_host, stamp)
    op.reason = f"changed on both sides; the {op.loser} version is kept as the conflict copy"


def _add_dir_deletes(plan: Plan, dir_deletes: list[Op], local: Listing, remote: Listing) -> None:
    """Delete a directory only when nothing inside it stays; otherwise recreate it."""
    deleted = {o.path for o in plan.ops if o.op == "delete"} | {o.path for o in dir_deletes}
    for op in sorted(dir_deletes, key=lambda o: o.path, reverse=True):
        side = remote if op.direction == "push" else local
        prefix = op.path + b"/"
        keeps = any(p.startswith(prefix) and p not in deleted for p in side.entries)
        if keeps:
            deleted.discard(op.path)
            back = "pull" if op.direction == "push" else "push"
            plan.ops.append(Op("copy", op.path, back, op.entry, reason="directory still has files"))
        else:
            plan.ops.append(op)


def resolve_compared(plan: Plan, differing: set[bytes]) -> set[bytes]:
    """Drop the conflicts whose content turned out to be identical; return those paths."""
    same = set(plan.to_compare) - differing
    plan.ops = [o for o in plan.ops if not (o.op == "conflict" and o.path in same)]
    plan.to_compare = []
    return same
