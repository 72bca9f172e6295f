"""`action` records for the removable copies of a duplicate group (dedup --suggest).

Only copies on this host are acted on, against a keeper on this host: when the group's
keeper lives elsewhere, the best local copy (same keeper rules) is kept here. Every name
of a hard-linked copy gets its own action, since the space comes back only when the
last name goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hafs_cli.fs.keeper import KeeperRules
from hafs_cli.paths import path_fields, record_path


@dataclass(frozen=True)
class _Copy:
    path: bytes
    mtime_ns: int
    rec: dict


def _names(member: dict) -> list[bytes]:
    names = [record_path(member)]
    raws = member.get("links_b64") or []
    for i, text in enumerate(member.get("links") or []):
        raw = raws[i] if i < len(raws) else None
        names.append(record_path({"path": text, "path_b64": raw} if raw else {"path": text}))
    return names


def _keeper_fields(keeper: dict) -> dict:
    out = {
        k: keeper[k]
        for k in ("path", "path_b64", "host", "mtime_ns", "dev", "inode")
        if k in keeper
    }
    return out


def suggest_actions(group: dict, mode: str, host: str, rules: KeeperRules) -> Iterator[dict]:
    """One `action` record per removable name of the group's copies on `host`."""
    local = [
        _Copy(record_path(m), m.get("mtime_ns", 0), m)
        for m in group["members"]
        if m.get("host", host) == host
    ]
    if len(local) < 2:
        return
    keeper_rec = group["keeper"]
    if keeper_rec.get("host", host) == host:
        rule = group.get("keeper_rule", "")
        keeper = next(c for c in local if c.path == record_path(keeper_rec))
    else:
        keeper, rule, _ = rules.choose(local)  # type: ignore[assignment]
        rule = f"{rule} (best copy on {host})"
    for copy in local:
        if copy is keeper:
            continue
        if mode == "hardlink" and copy.rec.get("dev") != keeper.rec.get("dev"):
            continue  # hard links cannot cross filesystems
        for name in _names(copy.rec):
            rec = {"kind": "action", "action": mode}
            rec.update(path_fields(name))
            rec["host"] = host
            rec["size"] = group["size"]
            for key in ("mtime_ns", "ctime_ns", "dev", "inode"):
                if key in copy.rec:
                    rec[key] = copy.rec[key]
            rec["blake3"] = group["blake3"]
            rec["keeper"] = _keeper_fields(keeper.rec)
            rec["rule"] = "duplicate"
            rec["reason"] = f"same content as {keeper.rec['path']} (keeper chosen by: {rule})"
            yield rec
