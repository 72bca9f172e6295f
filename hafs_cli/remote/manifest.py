"""The last synced state of a two-way profile: path -> (local entry, remote entry, blake3).

Kept under the XDG state directory, one JSON Lines file per profile, written atomically.
A manifest made for other roots than the profile's current ones is ignored (first-sync
rules apply again: union, conflicts for differing content, no deletions).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson

from hafs_cli import paths, xdg
from hafs_cli.remote.listing import Entry


@dataclass(frozen=True)
class Synced:
    local: Entry
    remote: Entry
    blake3: str = ""


def manifest_path(profile: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", profile)
    return str(xdg.state_dir() / "sync" / f"{safe}.manifest.jsonl")


def _entry(value: list) -> Entry:
    size, mtime, kind = value[0], value[1], value[2]
    target = os.fsencode(value[3]) if len(value) > 3 else b""
    return Entry(kind, size, mtime, target)


def _pack(entry: Entry) -> list:
    out: list = [entry.size, entry.mtime, entry.type]
    if entry.type == "l":
        out.append(os.fsdecode(entry.target))
    return out


def load(profile: str, local_root: str, remote: str) -> dict[bytes, Synced]:
    """The manifest for these roots, or {} when there is none (or it is for other roots)."""
    path = manifest_path(profile)
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return {}
    out: dict[bytes, Synced] = {}
    with fh:
        header = orjson.loads(fh.readline() or b"{}")
        if header.get("local") != local_root or header.get("remote") != remote:
            return {}
        for line in fh:
            rec = orjson.loads(line)
            out[paths.record_path(rec)] = Synced(
                _entry(rec["l"]), _entry(rec["r"]), rec.get("blake3", "")
            )
    return out


def save(profile: str, local_root: str, remote: str, items: dict[bytes, Synced]) -> None:
    path = manifest_path(profile)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        header = {
            "kind": "sync_manifest",
            "profile": profile,
            "local": local_root,
            "remote": remote,
        }
        fh.write(orjson.dumps(header) + b"\n")
        for rel in sorted(items):
            item = items[rel]
            rec = {**paths.path_fields(rel), "l": _pack(item.local), "r": _pack(item.remote)}
            if item.blake3:
                rec["blake3"] = item.blake3
            fh.write(orjson.dumps(rec) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def hash_file(path: bytes) -> str:
    import blake3

    hasher = blake3.blake3(max_threads=1)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def hash_files(root: bytes, rels: Iterable[bytes]) -> dict[bytes, str]:
    """blake3 of local files (in threads; blake3 and reads release the GIL)."""
    rels = list(rels)
    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = pool.map(lambda r: hash_file(os.path.join(root, r)), rels)
        return dict(zip(rels, digests, strict=True))
