"""Find duplicate files in stages, as fclones does.

size groups -> drop singletons -> collapse hard links -> head+tail digest -> full blake3.
Each stage only looks at what the previous one could not rule out; digests come from the
persistent cache when the file is unchanged. Records that already carry a `blake3` (for
example hashed on another host) join the groups of their content without being read.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter, itemgetter

import orjson

from hafs_cli import records, speedups
from hafs_cli.exits import HafsError
from hafs_cli.fs.hashcache import HashCache
from hafs_cli.fs.hashing import EDGE, Changed, edges_many, full_many
from hafs_cli.fs.keeper import KeeperRules
from hafs_cli.paths import path_fields, record_path

_INT64_MAX = (1 << 63) - 1
LOOKUP_EVERY = 4096  # records read between two batches of cache lookups


def _first(pair: tuple) -> object:
    return pair[0]


_WASTE_ORDER = itemgetter(0, 1)  # (-waste, blake3, group): biggest waste first


_INODE = attrgetter("inode")
_WANT_SIZE = itemgetter(1)
_WANT = attrgetter("path", "size", "mtime_ns", "ctime_ns")
_ROW = attrgetter("dev", "inode", "size", "mtime_ns", "ctime_ns", "edges", "full")
EMPTY_DIGEST = bytes.fromhex("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")


@dataclass(frozen=True)
class DedupOptions:
    min_size: int = 1
    max_size: int | None = None
    jobs: int = 0
    rules: KeeperRules = field(default_factory=KeeperRules)

    @property
    def include_empty(self) -> bool:
        return self.min_size == 0


@dataclass(slots=True)
class Candidate:
    """One distinct file (one inode): its first path and any hard-linked other paths."""

    path: bytes
    size: int
    mtime_ns: int
    ctime_ns: int | None
    dev: int | None
    inode: int | None
    host: str
    local: bool
    links: list[bytes] | None = None  # most files have one name: no list for them
    edges: int | None = None  # head+tail digest (hashing.edges_digest)
    full: bytes | None = None
    fresh: bool = False  # digests computed in this run (to be cached)


@dataclass
class DedupStats:
    files: int = 0
    hard_links: int = 0
    candidates: int = 0
    edges_hashed: int = 0
    full_hashed: int = 0
    bytes_hashed: int = 0
    cache_hits: int = 0
    not_readable: int = 0
    remote_unhashed: int = 0
    groups: int = 0
    duplicates: int = 0
    waste: int = 0


class DupFinder:
    """Collects `file` records, then yields `dupgroup` records."""

    def __init__(
        self,
        opts: DedupOptions,
        host: str,
        cache: HashCache | None,
        on_error: Callable[..., None],
        progress: Callable[..., object] | None = None,
    ):
        self.opts = opts
        self.host = host
        self.cache = cache
        self.on_error = on_error
        self.progress = progress
        self.stats = DedupStats()
        # size -> (path, host or None for this one, dev, inode, mtime_ns, ctime_ns, blake3,
        # size)
        self._by_size: dict[int, list[tuple]] = defaultdict(list)
        self._hosts: dict[str, str] = {}
        self._fresh: list[Candidate] = []  # digests computed in this run, for the cache
        # Cached digests of the entries whose identity and times match, looked up in
        # batches as records arrive; entries not looked up yet wait in _recent.
        self._known: dict[int, tuple] = {}  # id(entry) -> (edges, full), entries live on
        self._hits = 0
        self._lookups = cache is not None and not cache.empty
        self._recent: list[tuple] | None = [] if self._lookups else None
        self._min = opts.min_size
        self._host_bytes = host.encode("utf-8", "surrogateescape")
        self._max = opts.max_size if opts.max_size is not None else 1 << 63
        # With the C module, hafs scan's plain records stay in C (add_lines) until they
        # matter; entries filed here get an input position so that a size shared by both
        # is merged back in input order (_seq: the next position; _base: a chunk's first).
        cdedup = speedups.load("_cdedup")
        self._index = cdedup.FileIndex() if cdedup is not None else None
        # With its own connection to the cache (the same SQLite library as Python's), C
        # looks its records up and stores their rows without a Python object per row.
        self._direct = bool(
            self._index is not None
            and cache is not None
            and self._index.open_cache(str(cache.path))
        )
        self._seq = self._base = self._unlooked = 0
        self._order: dict[int, int] = {}  # id(entry) -> input position

    # -- input -------------------------------------------------------------------
    def add(self, rec: dict, at: int | None = None) -> None:
        """Take one `file` record into account (other kinds are ignored).

        Called once per input record, so it only files the fields it needs under the
        size; objects are built later, and only for sizes shared by two or more files.
        `at`: the record's line index in the chunk last given to add_lines.
        """
        get = rec.get
        size = get("size")
        if get("kind") != "file" or type(size) is not int or not self._min <= size <= self._max:
            return
        path = get("path")
        if type(path) is not str or "path_b64" in rec:
            try:
                path = record_path(rec)
            except HafsError as exc:
                self.on_error(exc.message)
                return
        host = get("host")
        if host == self.host or host is None:
            host = None  # this machine: kept as None, no string per file
        else:
            if type(get("blake3")) is not str:  # another machine's file, not hashed there
                self.stats.files += 1
                self.stats.remote_unhashed += 1
                return
            host = self._hosts.setdefault(str(host), str(host))
        entry = (
            path,
            host,
            get("dev"),
            get("inode"),
            get("mtime_ns"),
            get("ctime_ns"),
            get("blake3"),
            size,
        )
        self._by_size[size].append(entry)
        if self._recent is not None:
            self._recent.append(entry)
        if self._index is not None:
            if at is None:
                self._order[id(entry)] = self._seq
                self._seq += 1
            else:
                self._order[id(entry)] = self._base + at

    @property
    def bulk(self) -> bool:
        """Whether add_lines can take lines (the C module is there)."""
        return self._index is not None

    def add_lines(self, chunk: bytes) -> tuple[int, list[tuple[int, int, int]]]:
        """add() for every line of `chunk` in hafs scan's own shape, kept in C.

        (records taken, [(line index, start, end) of each line left for add(rec, at=index)]).
        Every LOOKUP_EVERY records the new ones are looked up in the cache (prefetch), so
        lookups fill the time spent waiting for the rest of the input.
        """
        taken, lines, slow = self._index.add_lines(  # type: ignore[union-attr]
            chunk, self._host_bytes, self._min, min(self._max, _INT64_MAX), self._seq
        )
        self._base = self._seq
        self._seq += lines
        self._unlooked += lines
        if self._unlooked >= LOOKUP_EVERY:
            self._unlooked = 0
            self.prefetch()
        return taken, slow

    def prefetch(self) -> None:
        """Look the files read since the last call up in the cache.

        Called every few thousand records while the previous stage is still writing:
        the lookups then fill time spent waiting for input instead of adding to the end.
        """
        if not self._lookups:
            return
        index = self._index
        if index is not None:  # the records kept in C
            done = self._direct and index.lookup_cache(self.cache.min_stored_s()) is not None  # type: ignore[union-attr]
            if not done:
                for dev, inodes in index.pending().items():
                    index.match(dev, self.cache.entries_json(dev, inodes))  # type: ignore[union-attr]
        recent = self._recent
        if not recent:
            return
        known = self._known
        by_dev: dict[int, dict[int, list[tuple]]] = {}  # dev -> inode -> entries
        for entry in recent:
            host, dev, inode, ctime_ns = entry[1], entry[2], entry[3], entry[5]
            if host is None and type(dev) is int and type(inode) is int and type(ctime_ns) is int:
                inodes = by_dev.get(dev)
                if inodes is None:
                    inodes = by_dev[dev] = {}
                inodes.setdefault(inode, []).append(entry)
        recent.clear()
        for dev, inodes in by_dev.items():
            for row in self.cache.entries(dev, list(inodes)):  # type: ignore[union-attr]
                for entry in inodes[row[0]]:
                    # valid only for the same size, mtime and ctime as this record
                    if row[1] == entry[7] and row[2] == entry[4] and row[3] == entry[5]:
                        known[id(entry)] = (row[4], row[5])

    def _candidates(self, size: int, entries: list[tuple]) -> list[Candidate]:
        """The distinct files among one size's entries (hard links folded into one)."""
        stats = self.stats
        out: list[Candidate] = []
        seen: dict[tuple, Candidate] = {}  # (host, dev, inode) -> file
        known = self._known if self._lookups else None
        hits = 0
        for entry in entries:
            path, host, dev, inode, mtime_ns, ctime_ns, digest, _size = entry
            if type(path) is str:
                path = path.encode("utf-8", "surrogateescape")
            stats.files += 1
            full = bytes.fromhex(digest) if type(digest) is str and len(digest) == 64 else None
            local = host is None
            if not local and full is None:
                stats.remote_unhashed += 1  # a blake3 that is not one
                continue
            if type(dev) is int and type(inode) is int:
                ident = (host, dev, inode)
                same = seen.get(ident)
                if same is not None:
                    if path == same.path or (same.links and path in same.links):
                        continue  # the same name twice (overlapping scan roots)
                    if same.links is None:
                        same.links = []
                    if path < same.path:  # a file is named by its smallest path, whatever
                        same.links.append(same.path)  # the order the names came in
                        same.path = path
                    else:
                        same.links.append(path)
                    stats.hard_links += 1
                    continue
            else:
                ident = dev = inode = None
            cand = Candidate(
                path,
                size,
                mtime_ns if type(mtime_ns) is int else 0,
                ctime_ns if type(ctime_ns) is int else None,
                dev,
                inode,
                host or self.host,
                local,
                None,
                None,
                EMPTY_DIGEST if size == 0 else full,
            )
            if ident is not None:
                seen[ident] = cand
                if known is not None and cand.full is None:
                    hit = known.get(id(entry))  # checked against this record's times
                    if hit is not None:
                        cand.edges, cand.full = hit
                        hits += 1
            out.append(cand)
        self._hits += hits
        return out

    # -- stages ------------------------------------------------------------------
    def groups(self) -> Iterator[dict]:
        """Run the stages and yield one `dupgroup` record per set of identical files."""
        for group in self.group_lines():
            yield group if type(group) is dict else records.loads(group)

    def group_lines(self) -> Iterator[dict | bytes]:
        """groups(), where a group of records kept in C comes as its JSON Lines line
        already (bytes: what records.dumps makes of the same record)."""
        if self._lookups:
            self.prefetch()  # the records read since the last batch
        singles = 0
        kept, survivors_c, c_cands, c_rows = self._stages_in_c()
        sized: list[list[Candidate]] = []
        by_size = self._by_size
        for size, entries in by_size.items():
            if len(entries) < 2:
                singles += 1
                continue
            group = self._candidates(size, entries)
            if len(group) > 1:
                sized.append(group)
        self.stats.files += singles
        by_size.clear()
        self.stats.candidates = sum(len(g) for g in sized) + c_cands
        self._from_cache()
        survivors = self._edges_stage(sized) + survivors_c
        self._full_stage(survivors)
        self._remember(c_rows)
        by_content: dict[tuple[int, bytes], list[Candidate]] = defaultdict(list)
        for group in survivors:
            for cand in group:
                if cand.full is not None:
                    by_content[(cand.size, cand.full)].append(cand)
        # biggest waste first (the same order for both kinds)
        out: list[tuple] = [
            (-g[0].size * (len(g) - 1), g[0].full, g) for g in by_content.values() if len(g) > 1
        ]
        out += kept
        out.sort(key=_WASTE_ORDER)
        for _waste, _full, group in out:
            yield self._record(group) if type(group) is list else group

    def _stages_in_c(self) -> tuple[list[tuple], list[list[Candidate]], int, list]:
        """_candidates and the head+tail stage for the records kept in C.

        (content groups that need no full digest, as (-waste, blake3, JSON Lines line);
        groups the full stage must finish; the candidates counted; cache rows for the
        files hashed here that need no full digest). Sizes shared with Python's own
        entries go back to _by_size first.
        """
        index, self._index = self._index, None  # its memory goes with it
        if index is None:
            return [], [], 0, []
        mixed, wants, counts = index.prepare(self._by_size)
        files, links, cands, hits, singles = counts
        stats = self.stats
        stats.files += files + singles
        stats.hard_links += links
        self._hits += hits
        # Sizes with entries on both sides: back to Python, in input order.
        order, known = self._order, self._known
        for size, kept in mixed:
            for _seq, entry, hit in kept:
                if hit is not None:
                    known[id(entry)] = hit
            merged = [(order[id(e)], e) for e in self._by_size.get(size, ())]
            merged += [(seq, e) for seq, e, _hit in kept]
            merged.sort(key=_first)
            self._by_size[size] = [e for _seq, e in merged]
        results = self._hash("head+tail", edges_many, wants, 2 * EDGE)
        survivors, rows, failed, hashed, nbytes = index.finish(results, self._direct, 2 * EDGE)
        if rows is None:  # rows for C to write (through Python's connection if it cannot)
            written = index.store_cache(*self.cache.store_params())  # type: ignore[union-attr]
            if written is None:
                rows = index.rows()
            else:
                self.cache.stored_elsewhere(written)  # type: ignore[union-attr]
                rows = []
        for i in failed:  # in inode order, as _edges_stage reports them
            self._report(wants[i][0], results[i])
        stats.edges_hashed += hashed
        stats.bytes_hashed += nbytes
        kept_lines = self._kept_lines(index)
        del index
        host, fresh = self.host, self._fresh
        groups = []
        for size, members in survivors:
            group = []
            for e, others, hit, new in members:
                cand = self._candidate(size, e, others, hit, host)
                if new:  # hashed in this run: stored with its full digest
                    cand.fresh = True
                    fresh.append(cand)
                group.append(cand)
            groups.append(group)
        return kept_lines, groups, cands, rows

    def _kept_lines(self, index) -> list[tuple]:
        """The `dupgroup` lines C writes for the content groups it kept (the keeper rules'
        patterns matched here, all paths at once), as (-waste, blake3, line)."""
        rules = self.opts.rules
        texts = index.set_paths()
        lines = index.dupgroups(
            orjson.dumps(self.host),
            rules.indices(True, texts),
            rules.indices(False, texts),
            [orjson.dumps(p) for p in rules.prefer],
            [orjson.dumps(p) for p in rules.avoid],
        )
        stats = self.stats
        out = []
        for waste, full, count, line in lines:
            stats.groups += 1
            stats.duplicates += count - 1
            stats.waste += waste
            out.append((-waste, full, line))
        return out

    @staticmethod
    def _candidate(
        size: int, entry: tuple, others: list | None, hit: tuple | None, host: str
    ) -> Candidate:
        """The Candidate _candidates makes of a local entry (its hard links, cache hit)."""
        edges, full = hit if hit is not None else (None, None)
        return Candidate(
            entry[0].encode("utf-8", "surrogateescape"),
            size,
            entry[4],
            entry[5],
            entry[2],
            entry[3],
            host,
            True,
            [e[0].encode("utf-8", "surrogateescape") for e in others] if others else None,
            edges,
            full,
        )

    def _hashable(self, cand: Candidate) -> bool:
        return cand.local and cand.full is None

    def _from_cache(self) -> None:
        """Count the cache hits (the digests were taken while building candidates)."""
        self._known.clear()
        if self.cache is not None:
            self.cache.hits += self._hits
            self.stats.cache_hits = self.cache.hits

    def _run(self, label: str, many, cands: list[Candidate], bytes_each: int | None = None) -> list:
        """Hash the candidates (hashing.edges_many or full_many) with a progress display."""
        if not cands:
            return []
        wants = list(map(_WANT, cands))  # (path, size, mtime_ns, ctime_ns): what Expect holds
        return self._hash(label, many, wants, bytes_each)

    def _hash(self, label: str, many, wants: list[tuple], bytes_each: int | None = None) -> list:
        """many(wants) with a progress display: wants are (path, size, mtime_ns, ctime_ns)."""
        if not wants:
            return []
        if self.progress is None:
            return many(wants, self.opts.jobs)
        sizes = map(_WANT_SIZE, wants)  # bytes read per file (the progress line shows a rate)
        weights = list(sizes if bytes_each is None else map(min, sizes, repeat(bytes_each)))
        with self.progress(label, len(wants)) as bar:  # type: ignore[attr-defined]
            return many(wants, self.opts.jobs, weights, lambda n, b: bar.advance(n, bytes=b))

    def _report(self, path: bytes, exc: object) -> None:
        """An `error` record for a file that could not be hashed (a bug re-raises)."""
        if isinstance(exc, Changed):
            self.on_error("file changed since it was scanned; scan again", **path_fields(path))
        elif isinstance(exc, OSError):
            self.stats.not_readable += 1
            message = exc.strerror or str(exc)
            self.on_error(
                f"cannot read file: {message}",
                **path_fields(path),
                errno=exc.errno or 0,
                message=message,
            )
        elif isinstance(exc, BaseException):
            raise exc
        else:
            raise TypeError(f"unexpected hashing result {exc!r}")

    def _edges_stage(self, sized: list[list[Candidate]]) -> list[list[Candidate]]:
        todo = [c for g in sized for c in g if c.local and c.full is None and c.edges is None]
        try:  # inode order: the cache rows then go in (nearly) in primary-key order
            todo.sort(key=_INODE)
        except TypeError:  # a record without an inode
            todo.sort(key=lambda c: c.inode or 0)
        results = self._run("head+tail", edges_many, todo, 2 * EDGE)
        fresh = self._fresh
        failed = nbytes = 0
        cap = 2 * EDGE  # what is read of each file at most
        for cand, result in zip(todo, results, strict=True):
            if type(result) is int:
                cand.edges = result
                cand.fresh = True
                size = cand.size
                nbytes += size if size < cap else cap
            else:  # an exception: report it, drop the file
                self._report(cand.path, result)
                cand.local = False
                failed += 1
        fresh.extend(c for c in todo if c.fresh) if failed else fresh.extend(todo)
        self.stats.edges_hashed += len(todo) - failed
        self.stats.bytes_hashed += nbytes
        survivors = []
        for group in sized:
            by_edges: dict[int | None, list[Candidate]] = {}
            for cand in group:
                if cand.local or cand.full is not None:  # not dropped above
                    same = by_edges.get(cand.edges)
                    if same is None:
                        by_edges[cand.edges] = [cand]
                    else:
                        same.append(cand)
            if None in by_edges:
                # A member known only by its full digest matches any head and tail.
                group = [c for same in by_edges.values() for c in same]
                if len(group) > 1:
                    survivors.append(group)
                continue
            survivors.extend(g for g in by_edges.values() if len(g) > 1)
        return survivors

    def _full_stage(self, groups: list[list[Candidate]]) -> None:
        todo = [c for g in groups for c in g if self._hashable(c)]
        todo.sort(key=lambda c: -c.size)  # big files first: the workers finish together
        for cand, result in zip(todo, self._run("blake3", full_many, todo), strict=True):
            if type(result) is not bytes:
                self._report(cand.path, result)
                cand.local = False
                continue
            cand.full = result
            if not cand.fresh:
                cand.fresh = True
                self._fresh.append(cand)
            self.stats.full_hashed += 1
            self.stats.bytes_hashed += cand.size

    def _remember(self, rows: list | None = None) -> None:
        """Store every digest computed in this run (one transaction): `rows` made in C,
        and the candidates'."""
        if self.cache is None:
            return
        # rows without a key are left out
        self.cache.store_rows((rows or []) + list(map(_ROW, self._fresh)))

    # -- output ------------------------------------------------------------------
    def _member(self, cand: Candidate) -> dict:
        try:  # path_fields, without its generality: most paths are UTF-8
            rec = {"path": cand.path.decode()}
        except UnicodeDecodeError:
            rec = path_fields(cand.path)
        rec["host"] = cand.host
        rec["mtime_ns"] = cand.mtime_ns
        if cand.ctime_ns is not None:
            rec["ctime_ns"] = cand.ctime_ns
        if cand.dev is not None:
            rec["dev"] = cand.dev
        if cand.inode is not None:
            rec["inode"] = cand.inode
        if cand.links:
            links = [path_fields(p) for p in sorted(cand.links)]
            rec["links"] = [f["path"] for f in links]
            if any("path_b64" in f for f in links):
                rec["links_b64"] = [f.get("path_b64") for f in links]
        return rec

    def _record(self, group: list[Candidate]) -> dict:
        keeper, rule, pattern = self.opts.rules.choose(group)
        ordered = [keeper] + sorted((c for c in group if c is not keeper), key=lambda c: c.path)
        size = group[0].size
        waste = size * (len(group) - 1)
        self.stats.groups += 1
        self.stats.duplicates += len(group) - 1
        self.stats.waste += waste
        rec = {
            "kind": "dupgroup",
            "blake3": group[0].full.hex(),  # type: ignore[union-attr]
            "size": size,
            "count": len(group),
            "waste": waste,
            "members": (members := [self._member(c) for c in ordered]),
            "keeper": dict(members[0]),  # the keeper comes first
            "keeper_rule": rule,
        }
        if pattern is not None:
            rec["keeper_pattern"] = pattern
        return rec


def elapsed_since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def local_paths_records(paths: list[str], host: str) -> Iterator[dict]:
    """`file` records for paths given on the command line (directories are walked)."""
    from hafs_cli.fs.walk import ScanOptions, Walker

    walker = Walker(ScanOptions(host=host))
    yield from walker.walk([os.fsencode(p) for p in paths])
