"""Reading samples and score records from the stream (datasets without `kind` too)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

import orjson

from hafs_cli import records
from hafs_cli.exits import HafsError

SAMPLE_KEYS = (
    "messages",
    "conversations",
    "instruction",
    "output",
    "prompt",
    "completion",
    "question",
)


def looks_like_sample(obj: dict) -> bool:
    return any(k in obj for k in SAMPLE_KEYS)


def _stream(source: str):
    if source == "-":
        return sys.stdin.buffer, records.STDIN_NAME
    try:
        return open(source, "rb"), source  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise HafsError(f"cannot read {source}: {exc.strerror}; check the path") from None


def iter_dataset(sources: list[str]) -> Iterator[tuple[str, int, dict | records.BadLine]]:
    """(source, line, record or BadLine) like records.iter_sources, except that a line
    without `kind` that has sample fields (instruction/output, messages, ...) is read
    as a `sample` record: plain training datasets can be used as they are."""
    for source in sources:
        fh, name = _stream(source)
        try:
            lineno = 0
            for raw in fh:
                lineno += 1
                complete = raw.endswith(b"\n")
                line = raw.rstrip(b"\r\n")
                if lineno == 1 and line.startswith(records.BOM):
                    line = line[len(records.BOM) :]
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    obj = None
                if isinstance(obj, dict) and "kind" not in obj and looks_like_sample(obj):
                    yield name, lineno, {"kind": "sample", **obj}
                else:
                    yield name, lineno, records.parse_line(line, name, lineno, last=not complete)
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def dataset_records(pipe, sources: Iterable[str]) -> Iterator[dict]:
    """The stage's input (files, or stdin unless it is a terminal) through iter_dataset;
    bad lines become `error` records."""
    sources = list(sources)
    if not sources:
        if sys.stdin.isatty():
            return
        sources = ["-"]
    for _source, _line, item in iter_dataset(sources):
        if isinstance(item, records.BadLine):
            pipe._bad_line(item)
            continue
        pipe.input_count += 1
        yield item
