"""JSON Lines in and out: one object per line, each with a `kind`.

Reading never loses a line silently: every line that cannot be a record becomes a
`BadLine` with the source, the line number and a reason a person can act on.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson

BOM = b"\xef\xbb\xbf"
STDIN_NAME = "<stdin>"
_DUMP_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def dumps(rec: object) -> bytes:
    """One JSON Lines line (with the newline) for a record."""
    return orjson.dumps(rec, option=_DUMP_OPTS)


def loads(line: bytes | str) -> object:
    return orjson.loads(line)


@dataclass(frozen=True)
class BadLine:
    """A line that could not become a record."""

    source: str
    line: int
    reason: str

    def to_record(self, command: str | None = None) -> dict:
        rec = {"kind": "error", "source": self.source, "line": self.line, "reason": self.reason}
        if command:
            rec["command"] = command
        return rec


_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.:~]{12,}")


def _excerpt(raw: bytes) -> str:
    """The start of a bad line for people, with long tokens cut short.

    A bad line may hold a secret (`hafs secrets scan < config.py`): any run of 12 or
    more token characters shows only its first 4, so no key reaches stderr whole.
    """
    text = raw[:60].decode("utf-8", errors="replace")
    text = _TOKEN.sub(lambda m: m.group(0)[:4] + "…", text)
    return text + ("…" if len(raw) > 60 else "")


Adopt = Callable[[dict], "dict | None"]


def parse_line(
    raw: bytes, source: str, lineno: int, last: bool, adopt: Adopt | None = None
) -> dict | BadLine:
    """Parse one line (without its newline); `last` marks a final line lacking its newline.

    `adopt` may turn an object without `kind` into a record (e.g. a plain dataset line
    into a `sample`); when it returns None the line is reported as usual.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return BadLine(source, lineno, f"invalid UTF-8 at byte {uexc.start}")
        if last:
            return BadLine(
                source, lineno, f"truncated line (no newline at end of input): {_excerpt(raw)!r}"
            )
        return BadLine(source, lineno, f"not JSON ({exc.msg}): {_excerpt(raw)!r}")
    if not isinstance(obj, dict):
        return BadLine(source, lineno, f"not a JSON object (got {type(obj).__name__})")
    kind = obj.get("kind")
    if kind is None and adopt is not None:
        adopted = adopt(obj)
        if adopted is not None:
            return adopted
    if not isinstance(kind, str) or not kind:
        return BadLine(source, lineno, "record has no string `kind` field")
    return obj


def iter_lines(
    stream: BinaryIO, source: str, adopt: Adopt | None = None
) -> Iterator[tuple[int, dict | BadLine, bytes]]:
    """(line number, record or BadLine, the line's bytes) from a binary stream.

    CRLF and a leading BOM are accepted; the bytes come without them and without the
    newline, so a stage can pass a record on exactly as it came.
    """
    lineno = 0
    for raw in stream:
        lineno += 1
        complete = raw.endswith(b"\n")
        raw = clean_line(raw[:-1] if complete else raw, lineno)
        if raw is None:
            continue
        yield lineno, parse_line(raw, source, lineno, last=not complete, adopt=adopt), raw


def clean_line(raw: bytes, lineno: int) -> bytes | None:
    """A line (without its newline) as it is parsed: no CR, no BOM on line 1; None if blank."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if lineno == 1 and raw.startswith(BOM):
        raw = raw[len(BOM) :]
    return raw if raw.strip() else None


CHUNK_BYTES = 1 << 20


def iter_chunks(stream: BinaryIO, size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, whole lines with their newlines) from a binary stream.

    For stages that take most lines in bulk (see Pipe.line_chunks); only the last chunk
    can end without a newline (a truncated last line).
    """
    read = getattr(stream, "read1", stream.read)
    size = size or CHUNK_BYTES
    _widen_pipe(stream, size)
    lineno = 1
    parts: list[bytes] = []  # an unfinished line, possibly over many reads
    while True:
        data = read(size)
        if not data:
            break
        cut = data.rfind(b"\n") + 1
        if not cut:
            parts.append(data)
            continue
        chunk = b"".join((*parts, data[:cut])) if parts else data[:cut]
        parts = [data[cut:]] if cut < len(data) else []
        yield lineno, chunk
        lineno += chunk.count(b"\n")
    if parts:
        yield lineno, b"".join(parts)


def _widen_pipe(stream: BinaryIO, size: int) -> None:
    """Let a pipe on `stream` hold `size` bytes (Linux; 64 KiB by default): the stage
    before it then writes in fewer, larger steps, with fewer switches between the two."""
    import fcntl
    import stat

    try:
        fd = stream.fileno()
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass  # not a pipe, not Linux, or above the system's limit: the default stays


def iter_stream(
    stream: BinaryIO, source: str, adopt: Adopt | None = None
) -> Iterator[tuple[int, dict | BadLine]]:
    """(line number, record or BadLine) from a binary stream (see iter_lines)."""
    for lineno, item, _raw in iter_lines(stream, source, adopt):
        yield lineno, item


@contextlib.contextmanager
def opened(src: str) -> Iterator[tuple[BinaryIO, str]]:
    """(binary stream, name) for a source path; "-" is stdin (left open)."""
    from hafs_cli.exits import HafsError

    if src == "-":
        yield sys.stdin.buffer, STDIN_NAME
        return
    try:
        fh = open(src, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise HafsError(f"cannot read {src}: {exc.strerror}; check the path") from None
    with fh:
        yield fh, src


def iter_source_lines(
    sources: Iterable[str], adopt: Adopt | None = None
) -> Iterator[tuple[str, int, dict | BadLine, bytes]]:
    """(source, line number, record or BadLine, line bytes) from files ("-" is stdin)."""
    for src in sources:
        with opened(src) as (fh, name):
            for lineno, item, raw in iter_lines(fh, name, adopt):
                yield name, lineno, item, raw


def iter_sources(
    sources: Iterable[str], adopt: Adopt | None = None
) -> Iterator[tuple[str, int, dict | BadLine]]:
    """(source, line number, record or BadLine) from files ("-" is stdin), in order."""
    for src, lineno, item, _raw in iter_source_lines(sources, adopt):
        yield src, lineno, item
