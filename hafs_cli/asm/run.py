"""What `hafs validate-asm` does with a Pipe: validate paths or records, write records."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from hafs_cli.asm import samples
from hafs_cli.asm.diagnostics import ERROR, INFO, WARNING, Diagnostic, printable
from hafs_cli.asm.tree import SUFFIXES, roots
from hafs_cli.asm.validator import Options, Session
from hafs_cli.paths import path_fields

_RANK = {ERROR: 2, WARNING: 1, INFO: 0}
DEFAULT_FIELDS = ["output"]
DEFAULT_TEXT_FIELDS = ["input", "instruction", "prompt", "text", "response"]


class ValidateRun:
    """One invocation: counts what was checked and writes asm_diag/asm_summary/summary."""

    def __init__(self, section: dict, pipe):  # noqa: ANN001 - hafs_cli.pipe.Pipe
        self.pipe = pipe
        self.options = Options.from_config(section)
        self.fields = list(section.get("fields") or DEFAULT_FIELDS)
        self.text_fields = list(section.get("text_fields") or DEFAULT_TEXT_FIELDS)
        self.min_rank = _RANK[section.get("min_severity") or INFO]
        self.started = time.monotonic()
        self.counts = {ERROR: 0, WARNING: 0, INFO: 0}
        self.files = 0
        self.lines = 0
        self.samples = 0
        self.invalid_samples = 0
        self._reported: set[tuple] = set()

    # -- files ---------------------------------------------------------------------
    def validate_paths(self, paths: Iterable[str]) -> None:
        todo = roots(paths)
        with self.pipe.progress("validate-asm", total=len(todo)) as bar:
            for root in todo:
                session = Session(self.options)
                try:
                    session.run_file(root)
                except OSError as exc:
                    self.pipe.error(
                        printable(f"cannot read {root}: {exc.strerror}"), **path_fields(root)
                    )
                    continue
                self._write([d for d in session.finish() if self._first_time(d)])
                self.files += len(session.files)
                self.lines += session.lines
                bar.advance(1)

    # -- records -------------------------------------------------------------------
    def validate_stream(self, records: Iterable[dict]) -> None:
        asm_files = []
        for index, rec in enumerate(records):
            self.pipe.forward(rec)
            kind = rec.get("kind")
            if kind == "sample":
                self._sample(rec, index)
            elif (
                kind == "file"
                and isinstance(rec.get("path"), str)
                and rec["path"].lower().endswith(SUFFIXES)
            ):
                from hafs_cli.exits import HafsError
                from hafs_cli.paths import record_path

                try:
                    asm_files.append(os.fsdecode(record_path(rec)))
                except HafsError as exc:  # one bad record: reported, the stream goes on
                    self.pipe.error(exc.message, path=rec["path"])
        if asm_files:
            self.validate_paths(asm_files)

    def _sample(self, rec: dict, index: int) -> None:
        sid = samples.sample_id(rec, index)
        found = list(samples.blocks(rec, self.fields, self.text_fields))
        all_diags: list[Diagnostic] = []
        lines = 0
        for block in found:
            session = Session(self.options)
            session.run_text(block.text, f"<sample {sid}>", None)
            diags = session.finish()
            lines += session.lines
            for d in diags:
                d.path = None
                d.line += block.first_line - 1
            all_diags += diags
            self._write(diags, sample=sid, field=block.field)
        self.samples += 1
        self.lines += lines
        summary = samples.summary(sid, all_diags, lines, found)
        if not summary["valid"]:
            self.invalid_samples += 1
        self.pipe.emit(summary)

    def _first_time(self, d: Diagnostic) -> bool:
        """A file two roots include is read twice: report each finding in it once."""
        key = (d.path, d.line, d.column, d.code, d.message)
        if key in self._reported:
            return False
        self._reported.add(key)
        return True

    # -- output ----------------------------------------------------------------------
    def _write(self, diags: list[Diagnostic], **extra: object) -> None:
        for d in diags:
            self.counts[d.severity] = self.counts.get(d.severity, 0) + 1
            if _RANK.get(d.severity, 2) >= self.min_rank:
                self.pipe.emit(d.to_record(**extra))

    def finish(self) -> int:
        rec = {
            "kind": "summary",
            "command": "validate-asm",
            "files": self.files,
            "samples": self.samples,
            "invalid_samples": self.invalid_samples,
            "lines": self.lines,
            "errors": self.counts[ERROR],
            "warnings": self.counts[WARNING],
            "infos": self.counts[INFO],
            "elapsed_s": round(time.monotonic() - self.started, 3),
        }
        self.pipe.emit(rec)
        return 1 if self.counts[ERROR] else 0
