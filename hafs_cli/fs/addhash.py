"""`hafs scan --hash`: add each file's blake3 to its `file` record.

For catalogs of a drive and for duplicates across machines: `hafs scan nas:/srv` runs
`hafs scan --hash` on the NAS, so `hafs dedup` here joins records by their blake3 without
copying a byte. The persistent hash cache (keyed by dev, inode, size, mtime and ctime)
answers for unchanged files, so a second scan of the same tree reads no content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from hafs_cli import paths
from hafs_cli.exits import HafsError

BATCH = 512
_KEY_FIELDS = ("dev", "inode", "size", "mtime_ns", "ctime_ns")


def add_hashes(recs: Iterable[dict], on_error: Callable[..., None], cache=None) -> Iterator[dict]:
    """The records, in order, each `file` record with its `blake3` added.

    A file that cannot be read (or changes while it is read) is reported through
    `on_error` and passed on without a hash. `cache` is a HashCache (None: no cache).
    """
    pending: list[dict] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for rec in recs:
            pending.append(rec)
            if len(pending) >= BATCH:
                yield from _hash_batch(pending, cache, pool, on_error)
                pending = []
        yield from _hash_batch(pending, cache, pool, on_error)


def _digest(rec: dict):
    from hafs_cli.fs.hashing import hash_file

    try:
        return hash_file(paths.record_path(rec))
    except (OSError, HafsError) as exc:
        return exc


def _hash_batch(batch: list[dict], cache, pool, on_error) -> list[dict]:
    todo = [r for r in batch if r.get("kind") == "file" and "blake3" not in r]
    if cache is not None:
        keyed = [r for r in todo if all(type(r.get(f)) is int for f in _KEY_FIELDS)]
        keys = [tuple(r[f] for f in _KEY_FIELDS) for r in keyed]
        for i, (_, full) in cache.lookup(keys).items():
            if full:
                keyed[i]["blake3"] = full.hex()
    misses = [r for r in todo if "blake3" not in r]
    fresh = []
    for rec, result in zip(misses, pool.map(_digest, misses), strict=True):
        if isinstance(result, BaseException):
            reason = getattr(result, "strerror", None) or getattr(result, "message", None)
            on_error(
                f"cannot hash: {reason or result}", **paths.path_fields(paths.record_path(rec))
            )
            continue
        st, hexdigest = result
        rec["blake3"] = hexdigest
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        fresh.append((key, None, bytes.fromhex(hexdigest)))
    if cache is not None and fresh:
        cache.store(fresh)
    return batch
