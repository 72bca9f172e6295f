"""A knowledge graph of an asar source tree: labels, routines, RAM/ROM names and addresses.

Built from every .asm/.inc/.s file under a root. Addresses come from what the source
states, never from guessing instruction sizes: `org $BBAAAA` before a label, an address
comment (`; $BB:AAAA`) on or just above a label line, SMW-style names (`CODE_00A2E6`),
and assignments (`Name = $7E0022`, `!Name = $7E0022`). Each file's parse is cached in
SQLite under the XDG cache directory, keyed by a hash of the file's bytes and the parser
version, so a changed file is never served a stale parse.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from hafs_cli.quality import rom
from hafs_cli.quality.hwregs import is_register_address
from hafs_cli.quality.instructions import MNEMONICS

PARSER_VERSION = "kg-3"
SUFFIXES = (".asm", ".inc", ".s", ".a65")
MAX_BODY_LINES = 400

_GLOBAL_LABEL = re.compile(r"^([A-Za-z_][\w]*)\s*:(?!=)")
_SUBLABEL = re.compile(r"^\s*(\.+[A-Za-z_]\w*)\s*:?\s*(?:;.*)?$")
_ASSIGN = re.compile(
    r"^\s*(!?[A-Za-z_][\w]*)\s*=\s*(\$[0-9A-Fa-f]{1,2}:?[0-9A-Fa-f]{0,4}|\$[0-9A-Fa-f]+|\d+)\b"
)
_ORG = re.compile(r"^\s*org\s+\$([0-9A-Fa-f]{1,2}):?([0-9A-Fa-f]{4})\b", re.I)
_ADDR_COMMENT = re.compile(r"^\s*;\s*(?:\w+\s+)?\$([0-9A-Fa-f]{2}):?([0-9A-Fa-f]{4})\b")
_TRAILING_ADDR = re.compile(r";\s*(?:\w+\s+)?\$([0-9A-Fa-f]{2}):?([0-9A-Fa-f]{4})\b")
_NAME_ADDR = re.compile(r"_([0-9A-Fa-f]{6})$")
_MAPPER = re.compile(r"^\s*(lorom|hirom|exlorom|exhirom|sa1rom|fullsa1rom|sfxrom|norom)\b", re.I)
# asar's mapper directives, reduced to the two bank layouts hafs folds mirrors for.
MAPPER_OF = {
    "lorom": "lorom",
    "exlorom": "lorom",
    "sa1rom": "lorom",
    "sfxrom": "lorom",
    "hirom": "hirom",
    "exhirom": "hirom",
    "fullsa1rom": "hirom",
}


@dataclass(slots=True)
class Symbol:
    name: str
    kind: str  # routine | label | symbol | define | sublabel
    address: int | None
    file: str
    line: int


@dataclass
class KnowledgeGraph:
    root: str = ""
    mapper: str = "lorom"
    symbols: dict[str, Symbol] = field(default_factory=dict)
    by_address: dict[int, list[str]] = field(default_factory=dict)
    low16: set[int] = field(default_factory=set)
    routines: dict[str, str] = field(default_factory=dict)
    files: int = 0
    cached_files: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def add(self, sym: Symbol) -> None:
        if sym.name in self.symbols:
            return  # first definition (files in sorted order) wins
        self.symbols[sym.name] = sym
        if sym.address is not None:
            key = rom.canonical(sym.address, self.mapper)
            self.by_address.setdefault(key, []).append(sym.name)
            self.low16.add(sym.address & 0xFFFF)

    def lookup(self, name: str) -> Symbol | None:
        """A symbol by label name or define name (with or without the leading '!')."""
        found = self.symbols.get(name)
        if found is None:
            found = self.symbols.get(name[1:] if name.startswith("!") else "!" + name)
        return found

    def knows_address(self, addr: int, width: int) -> bool:
        """Does the tree name this address? Short ($xxxx) addresses match any bank."""
        if width >= 3:
            if rom.canonical(addr, self.mapper) in self.by_address:
                return True
            wram = rom.wram_address(addr)
            return wram is not None and wram in self.by_address
        return addr in self.low16 or (addr < 0x2000 and (0x7E0000 | addr) in self.by_address)

    def __len__(self) -> int:
        return len(self.symbols)


def parse_source(text: str, file: str) -> tuple[list[list], list[list], str | None]:
    """(symbols, routines, mapper) of one file: [kind, name, address|None, line],
    [name, body] and the first mapper directive (lorom, hirom...) if any."""
    mapper: str | None = None
    symbols: list[list] = []
    routines: list[list] = []
    pending: int | None = None  # address stated by org or a comment, for the next label
    pending_age = 0
    current: str | None = None
    body: list[str] = []

    def close_routine() -> None:
        if current is not None and any(_looks_like_code(ln) for ln in body):
            routines.append([current, "\n".join(body[:MAX_BODY_LINES])])

    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped:
            continue
        m = _MAPPER.match(raw)
        if m and mapper is None:
            mapper = MAPPER_OF.get(m.group(1).lower())
            continue
        m = _ORG.match(raw)
        if m:
            pending, pending_age = int(m.group(1), 16) << 16 | int(m.group(2), 16), 0
            continue
        m = _ADDR_COMMENT.match(raw)
        if m:
            pending, pending_age = int(m.group(1), 16) << 16 | int(m.group(2), 16), 0
            continue
        if stripped.startswith(";"):
            continue
        m = _GLOBAL_LABEL.match(raw)
        if m:
            name = m.group(1)
            trailing = _TRAILING_ADDR.search(raw)
            named = _NAME_ADDR.search(name)
            if trailing:
                addr = int(trailing.group(1), 16) << 16 | int(trailing.group(2), 16)
            elif named:
                addr = int(named.group(1), 16)
            else:
                addr = pending if pending_age <= 2 else None
            pending = None
            close_routine()
            current, body = name, []
            symbols.append(["label", name, addr, lineno])
            rest = raw[m.end() :].strip()
            if rest and not rest.startswith((";", "{")):
                body.append(rest)
            continue
        m = _ASSIGN.match(raw)
        if m:
            name, value = m.group(1), m.group(2)
            number = int(value[1:].replace(":", ""), 16) if value.startswith("$") else int(value)
            symbols.append(["define" if name.startswith("!") else "symbol", name, number, lineno])
            continue
        m = _SUBLABEL.match(raw)
        if m and current is not None:
            symbols.append(["sublabel", f"{current}_{m.group(1).lstrip('.')}", None, lineno])
        if current is not None:
            body.append(raw)
        pending_age += 1
    close_routine()
    return symbols, routines, mapper


def _looks_like_code(line: str) -> bool:
    """Does the line start with a 65816 instruction (any case: lda and LDA alike)?"""
    word = line.strip().split(None, 1)[0] if line.strip() else ""
    return word.split(".")[0].upper() in MNEMONICS


class ParseCache:
    """Per-file parses in SQLite, keyed by the bytes' hash and the parser version."""

    def __init__(self, path: Path | None):
        self.db = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path)
            self.db.execute("CREATE TABLE IF NOT EXISTS parse (key TEXT PRIMARY KEY, data BLOB)")

    def get(self, key: str):
        if self.db is None:
            return None
        row = self.db.execute("SELECT data FROM parse WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, value) -> None:
        if self.db is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO parse VALUES (?, ?)", (key, orjson.dumps(value))
            )

    def close(self) -> None:
        if self.db is not None:
            self.db.commit()
            self.db.close()


def source_files(root: Path) -> list[Path]:
    """Assembly files under root, in a stable order (symlinked directories not followed)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.lower().endswith(SUFFIXES))
    return sorted(found)


def _read_source(path: Path) -> tuple[bytes | None, str]:
    """A source file's bytes, or None and why not (a broken link, a FIFO, no permission)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the read forever
            return None, "not a regular file"
        return path.read_bytes(), ""
    except OSError as exc:
        return None, exc.strerror or str(exc)


def build_graph(root: Path, mapper: str = "auto", cache_path: Path | None = None) -> KnowledgeGraph:
    """The knowledge graph of a source tree (a single file works too).

    mapper "auto": the tree's own directive (lorom, hirom, exhirom...), else LoROM.
    """
    import blake3

    files = [root] if root.is_file() else source_files(root)
    cache = ParseCache(cache_path)
    parsed_files = []
    unreadable = []
    cached = 0
    try:
        for path in files:
            data, why = _read_source(path)
            if data is None:
                unreadable.append((str(path), why))
                continue
            key = f"{PARSER_VERSION}:{blake3.blake3(data).hexdigest()}"
            parsed = cache.get(key)
            if parsed is None:
                parsed = parse_source(data.decode("utf-8", "replace"), str(path))
                cache.put(key, parsed)
            else:
                cached += 1
            rel = str(path.relative_to(root)) if path != root else path.name
            parsed_files.append((rel, parsed))
    finally:
        cache.close()
    if mapper == "auto":
        found = [m for _, (_, _, m) in parsed_files if m]
        mapper = found[0] if found else "lorom"
    graph = KnowledgeGraph(
        root=str(root), mapper=mapper, cached_files=cached, unreadable=unreadable
    )
    for rel, (symbols, routines, _) in parsed_files:
        for kind, name, addr, line in symbols:
            graph.add(Symbol(name, kind, addr, rel, line))
        for name, body in routines:
            graph.routines.setdefault(name, body)
            sym = graph.symbols.get(name)
            if sym is not None and sym.kind == "label":
                sym.kind = "routine"
        graph.files += 1
    return graph


def address_grounded(graph: KnowledgeGraph, addr: int, width: int) -> bool:
    """An address is grounded when the tree names it or it is a hardware register."""
    if addr > 0xFF and is_register_address(addr):
        return True
    return graph.knows_address(addr, width)
