"""The record-stream contract every pipeline stage shares.

`@pipe_command(produces=...)` adds --format/--strict/--only to a click command and hands
it a `Pipe`: read records (bad lines become `error` records on stderr), forward what
passes through, emit the stage's own records, and finish with the right exit status.
"""

from __future__ import annotations

import functools
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import click

from hafs_cli import exits, records
from hafs_cli.exits import HafsError

FORMATS = ("jsonl", "json", "table")
FLUSH_INTERVAL_S = 0.2


def _isatty(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _NullProgress:
    def __enter__(self) -> _NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, n: int = 1, bytes: int = 0) -> None:  # noqa: A002 - mirrors the label
        return None


class _RichProgress:
    """A progress line on stderr (only used when stderr is a terminal)."""

    def __init__(self, label: str, total: int | None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[bytes_h]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(label, total=total, bytes_h="")
        self._bytes = 0

    def __enter__(self) -> _RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, n: int = 1, bytes: int = 0) -> None:  # noqa: A002
        self._bytes += bytes
        fields = {"bytes_h": human_bytes(self._bytes)} if self._bytes else {}
        self._progress.update(self._task, advance=n, **fields)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class _WholeWrites:
    """Text out for an unbuffered stdout: every write is written whole.

    Under -u / PYTHONUNBUFFERED, sys.stdout's text layer sits on a raw FileIO and
    silently drops the rest of a partial write to a pipe; rich writes a table in one
    large write. This loops until all of it is written (or the pipe is closed).
    """

    def __init__(self, raw: Any, encoding: str):
        self._raw = raw
        self.encoding = encoding

    def write(self, text: str) -> int:
        data = memoryview(text.encode(self.encoding, errors="replace"))
        while data:
            written = self._raw.write(data)
            data = data[written or 0 :]
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return self._raw.isatty()

    def fileno(self) -> int:
        return self._raw.fileno()


class Pipe:
    """One stage's view of the stream: input records, output records, errors, config."""

    def __init__(
        self,
        command: str,
        produces: Iterable[str],
        fmt: str | None = None,
        strict: bool = False,
        only: bool = False,
        out: Any = None,
        err: Any = None,
    ):
        self.command = command
        self.produces = frozenset(produces)
        self.strict = strict
        self.only = only
        self._out = out if out is not None else sys.stdout
        self._err = err if err is not None else sys.stderr
        self.fmt = fmt or ("table" if _isatty(self._out) else "jsonl")
        self.error_count = 0
        self.input_count = 0
        self.emitted_count = 0
        self._table_rows: list[dict] = []
        self._json_started = False
        self.table_columns: dict[str, list[str]] = {}
        self.table_renderer: Callable[[list[dict]], Any] | None = None
        # extra --format values a command declares: name -> writer(rows, out stream)
        self.renderers: dict[str, Callable[[list[dict], Any], None]] = {}
        self._config = None
        self._pending = bytearray()
        self._sink_kind: str | None = None
        self._sink_stream: Any = None
        self._last_flush = time.monotonic()

    # -- configuration -------------------------------------------------------------
    @property
    def config(self):
        if self._config is None:
            from hafs_cli.config import load_config

            self._config = load_config()
        return self._config

    # -- input ---------------------------------------------------------------------
    def records(self, sources: Iterable[str] = (), adopt: records.Adopt | None = None):
        """Input records from files, or stdin when none are named (nothing from a terminal).

        `adopt` may give objects without `kind` one (see records.parse_line).
        """
        for _source, _line, rec in self.numbered_records(sources, adopt):
            yield rec

    def numbered_records(
        self, sources: Iterable[str] = (), adopt: records.Adopt | None = None
    ) -> Iterator[tuple[str, int, dict]]:
        """(source, line number, record) for each good input record; bad lines reported."""
        for source, lineno, rec, _raw in self.record_lines(sources, adopt):
            yield source, lineno, rec

    def record_lines(
        self, sources: Iterable[str] = (), adopt: records.Adopt | None = None
    ) -> Iterator[tuple[str, int, dict, bytes]]:
        """(source, line number, record, the line's bytes): pass the bytes to forward_line()
        to pass a record on exactly as it came, without serialising it again."""
        sources = list(sources)
        if not sources:
            if _isatty(sys.stdin):
                return
            sources = ["-"]
        bad = records.BadLine
        for src in sources:
            with records.opened(src) as (stream, source):
                for lineno, item, raw in records.iter_lines(stream, source, adopt):
                    if item.__class__ is bad:
                        self.bad_line(item)
                        continue
                    self.input_count += 1
                    yield source, lineno, item, raw

    def line_chunks(self, sources: Iterable[str] = ()) -> Iterator[tuple[str, int, bytes]]:
        """(source, number of its first line, whole lines) for stages that parse in bulk.

        The stage takes the lines it can vouch for itself (forward_chunk passes them on)
        and hands every other line to take_line, which reports it as record_lines would.
        """
        sources = list(sources)
        if not sources:
            if _isatty(sys.stdin):
                return
            sources = ["-"]
        for src in sources:
            with records.opened(src) as (stream, source):
                for lineno, chunk in records.iter_chunks(stream):
                    yield source, lineno, chunk

    def take_line(
        self, source: str, lineno: int, raw: bytes, complete: bool
    ) -> tuple[dict, bytes] | None:
        """One line of a chunk (without its newline) as record_lines takes it: (record, the
        bytes to forward), or None for a blank or bad line (reported here)."""
        raw = records.clean_line(raw, lineno)
        if raw is None:
            return None
        item = records.parse_line(raw, source, lineno, last=not complete)
        if item.__class__ is records.BadLine:
            self.bad_line(item)
            return None
        self.input_count += 1
        return item, raw

    def forward_chunk(self, data: bytes) -> None:
        """Pass on input records that are whole JSON Lines already (jsonl output only; the
        stage counts them in input_count)."""
        if not self.only and data:
            if self.fmt != "jsonl":
                raise ValueError("forward_chunk is for JSON Lines output")
            self._out_bytes(data)
            self._maybe_flush()

    def bad_line(self, bad: records.BadLine) -> None:
        """Report a line that is not a record (an `error` record; --strict stops)."""
        self._write_error(bad.to_record(self.command))
        if self.strict:
            raise HafsError(
                f"{bad.source}:{bad.line}: {bad.reason} (stopped by --strict)", exits.USAGE
            )

    # -- output --------------------------------------------------------------------
    def forward(self, rec: dict) -> None:
        """Pass an input record on unchanged (suppressed by --only)."""
        if not self.only:
            self._write(rec)

    def forward_line(self, rec: dict, line: bytes) -> None:
        """forward() for a record whose input line is at hand: writes those bytes as they are."""
        if self.only:
            return
        if self.fmt == "jsonl" and "kind" in rec:
            self._out_bytes(line + b"\n")
            self._maybe_flush()
        else:
            self._write(rec)

    def emit_lines(self, payload: bytes, count: int) -> None:
        """Own records already serialised as JSON Lines (e.g. by worker processes)."""
        self.emitted_count += count
        if self.fmt == "jsonl":
            self._out_bytes(payload)
            self._maybe_flush()
        else:
            for line in payload.splitlines():
                self._write(records.loads(line))

    def emit(self, rec: dict) -> None:
        """Write one of this stage's own records."""
        if "kind" not in rec:
            raise ValueError(f"{self.command}: record without kind: {rec!r}")
        self.emitted_count += 1
        self._write(rec)

    def error(self, reason: str, **fields: Any) -> None:
        """An `error` record on stderr; counted towards the exit status."""
        rec = {"kind": "error", "command": self.command, "reason": reason, **fields}
        self._write_error(rec)

    def _write_error(self, rec: dict) -> None:
        self.error_count += 1
        stream = getattr(self._err, "buffer", None)
        if stream is not None:
            stream.write(records.dumps(rec))
            stream.flush()
        else:
            self._err.write(records.dumps(rec).decode())
            self._err.flush()

    def _write(self, rec: dict) -> None:
        if self.fmt == "jsonl":
            self._out_bytes(records.dumps(rec))
        elif self.fmt == "json":
            prefix = b",\n" if self._json_started else b"[\n"
            self._json_started = True
            self._out_bytes(prefix + records.dumps(rec)[:-1])
        else:
            self._table_rows.append(rec)
            return
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        # Stream: a slow stage's records reach the next stage within a fraction of a
        # second, while a fast one still writes in large batches.
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_INTERVAL_S:
            self._last_flush = now
            self.flush()

    def _sink(self) -> tuple[str, Any]:
        """Where bytes go, decided once: ("text", stream), ("raw", fileio) or ("buffered", io)."""
        if self._sink_kind is None:
            stream = getattr(self._out, "buffer", None)
            if stream is None:
                self._sink_kind, self._sink_stream = "text", self._out
            elif isinstance(stream, io.RawIOBase):
                self._sink_kind, self._sink_stream = "raw", stream
            else:
                self._sink_kind, self._sink_stream = "buffered", stream
        return self._sink_kind, self._sink_stream

    def _out_bytes(self, data: bytes) -> None:
        kind, stream = self._sink_kind, self._sink_stream
        if kind is None:
            kind, stream = self._sink()
        if kind == "buffered":
            stream.write(data)
        elif kind == "raw":
            # Python runs unbuffered (-u, PYTHONUNBUFFERED): batch records ourselves
            # rather than paying one system call per record.
            self._pending += data
            if len(self._pending) >= 1 << 16:
                self._drain(stream)
        else:
            stream.write(data.decode())

    def _text_out(self) -> Any:
        """The text stream for people-facing formats (tables, markdown)."""
        kind, stream = self._sink()
        if kind == "raw":
            self.flush()
            self._out.flush()
            return _WholeWrites(stream, getattr(self._out, "encoding", None) or "utf-8")
        return self._out

    def _drain(self, raw) -> None:
        data = memoryview(bytes(self._pending))
        self._pending.clear()
        while data:
            written = raw.write(data)
            data = data[written or 0 :]

    def flush(self) -> None:
        kind, stream = self._sink()
        if kind == "raw":
            self._drain(stream)
        else:
            stream.flush()

    def progress(self, label: str, total: int | None = None):
        """A progress display on stderr when it is a terminal; otherwise a no-op."""
        if _isatty(self._err) and self.config.get("output.progress", True):
            return _RichProgress(label, total)
        return _NullProgress()

    def close(self, failed: bool = False) -> None:
        """Finish the output; after a failure only flush what was already written."""
        if failed:
            try:
                self.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
            return
        if self.fmt == "json":
            self._out_bytes(b"\n]\n" if self._json_started else b"[]\n")
        elif self.fmt in self.renderers:
            self.renderers[self.fmt](self._table_rows, self._text_out())
        elif self.fmt == "table":
            from hafs_cli.tables import render_records

            render_records(
                self._table_rows,
                self._text_out(),
                self.table_columns,
                self.table_renderer,
                max_rows=self.config.get("output.table_rows", 500),
            )
        self.flush()

    def exit_status(self, returned: int | None) -> int:
        code = returned or exits.OK
        if self.error_count and code < exits.USAGE:
            code = exits.USAGE
        return code


def pipe_options(f: Callable, extra_formats: tuple[str, ...] = ()) -> Callable:
    f = click.option(
        "--only",
        is_flag=True,
        help="Write only this stage's own records (drop the records passed through).",
    )(f)
    f = click.option("--strict", is_flag=True, help="Stop at the first bad input line (exit 2).")(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS + extra_formats),
        default=None,
        help="Output format (default: table on a terminal, jsonl otherwise).",
    )(f)
    return f


def pipe_command(produces: Iterable[str] = (), formats: Iterable[str] = ()) -> Callable:
    """Decorate a click command callback: inject a Pipe, finish with the exit status.

    `formats` adds --format values; the command sets `pipe.renderers[name]` for each.
    """
    produced = tuple(produces)
    extra = tuple(formats)

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, fmt: str | None, strict: bool, only: bool, **kwargs: Any):
            ctx = click.get_current_context()
            name = ctx.command_path.removeprefix("hafs").strip() or fn.__name__
            pipe = Pipe(name, produced, fmt=fmt, strict=strict, only=only)
            try:
                returned = fn(pipe, *args, **kwargs)
            except BaseException:
                pipe.close(failed=True)
                raise
            pipe.close()
            ctx.exit(pipe.exit_status(returned))

        return pipe_options(wrapper, extra)

    return decorate
