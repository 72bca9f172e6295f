"""65816 / asar assembly validation (the library behind `hafs validate-asm`).

Public API (stable; `score` and `hooks` build on it):

    validate_text(text, name="<text>", *, base_dir=None, config=None) -> list[Diagnostic]
    validate_file(path, *, config=None) -> list[Diagnostic]
    validate_paths(paths, *, config=None) -> Iterator[FileResult]
    Diagnostic(line, column, severity, code, message, suggestion, path, text, context)
        .to_record(**extra) -> the `asm_diag` record
    INSTRUCTIONS: mnemonic -> {operand syntax: opcode}     (256 opcodes, 92 mnemonics)
    legal_modes(mnemonic) -> list of operand forms, e.g. ['#const', 'dp', 'addr', ...]
    is_mnemonic(word) -> bool

`config` is the [validate-asm] table of hafs.toml as a dict (or an Options).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hafs_cli.asm.diagnostics import CODES, ERROR, INFO, WARNING, Diagnostic
from hafs_cli.asm.opcodes import INSTRUCTIONS, datasheet_mode, legal_forms, opcode_map
from hafs_cli.asm.validator import Options, Session

__all__ = [
    "CODES",
    "ERROR",
    "INFO",
    "INSTRUCTIONS",
    "WARNING",
    "Diagnostic",
    "FileResult",
    "Options",
    "datasheet_mode",
    "is_mnemonic",
    "legal_modes",
    "opcode_map",
    "validate_file",
    "validate_paths",
    "validate_text",
]


def _options(config: Options | dict | None) -> Options:
    if isinstance(config, Options):
        return config
    return Options.from_config(config)


def validate_text(
    text: str,
    name: str = "<text>",
    *,
    path: str | os.PathLike | None = None,
    base_dir: str | os.PathLike | None = None,
    config: Options | dict | None = None,
) -> list[Diagnostic]:
    """Diagnostics for assembly held in a string; includes resolve against base_dir.

    `path` names the file the text came from (e.g. a staged file): it is the name in
    the diagnostics, and its directory is base_dir unless base_dir is given.
    """
    if path is not None:
        name = os.fspath(path)
        if base_dir is None:
            base_dir = os.path.dirname(name) or "."
    session = Session(_options(config))
    session.run_text(text, name, base_dir)
    return session.finish()


def validate_file(
    path: str | os.PathLike, *, config: Options | dict | None = None
) -> list[Diagnostic]:
    """Diagnostics for one file and everything it includes."""
    session = Session(_options(config))
    session.run_file(path)
    return session.finish()


@dataclass
class FileResult:
    """The outcome for one root file (a file no other given file includes)."""

    path: str
    diagnostics: list[Diagnostic]
    lines: int
    files: list[str]  # the root and every file it included


def validate_paths(
    paths: Iterable[str | os.PathLike], *, config: Options | dict | None = None
) -> Iterator[FileResult]:
    """Validate files and directories (recursively, *.asm/*.s/*.inc).

    A file that another given file includes is checked as part of its includer, with
    the includer's defines and macros, not on its own.
    """
    from hafs_cli.asm.tree import roots

    options = _options(config)
    for root in roots(paths):
        session = Session(options)
        session.run_file(root)
        yield FileResult(os.fspath(root), session.finish(), session.lines, list(session.files))


def legal_modes(mnemonic: str) -> list[str]:
    """Operand forms an instruction takes, as written in source (['#const', 'dp', ...])."""
    return legal_forms(mnemonic)


def is_mnemonic(word: str) -> bool:
    """True for the 92 W65C816S mnemonics (any case, size suffix allowed: 'lda.w')."""
    return word.split(".", 1)[0].upper() in INSTRUCTIONS
