"""Diagnostics: what the validator reports, and the stable codes it reports them under."""

from __future__ import annotations

from dataclasses import dataclass, field

from hafs_cli.paths import display, path_fields

ERROR = "error"
WARNING = "warning"
INFO = "info"

#: code -> (default severity, one-line meaning); the codes are part of the record contract
CODES: dict[str, tuple[str, str]] = {
    "unknown-mnemonic": (ERROR, "not a 65816 instruction, asar directive or macro call"),
    "bad-addressing-mode": (ERROR, "the instruction has no such addressing mode"),
    "bad-size-suffix": (ERROR, "size suffix the instruction cannot take, or not .b/.w/.l"),
    "immediate-width": (ERROR, "immediate wider or narrower than the known register width"),
    "malformed-operand": (ERROR, "operand that is not a well-formed expression"),
    "bad-operand-count": (ERROR, "wrong number of operands (MVN/MVP, macro calls)"),
    "bad-statement": (ERROR, "a line asar cannot read as label, instruction or directive"),
    "bad-directive": (ERROR, "directive with missing or invalid arguments"),
    "unbalanced-block": (ERROR, "if/while/macro/struct/pushpc without its partner"),
    "duplicate-label": (ERROR, "a label defined twice (asar: label redefined)"),
    "missing-include": (ERROR, "incsrc/incbin/table file that does not exist"),
    "include-cycle": (ERROR, "a file that includes itself"),
    "undefined-macro": (WARNING, "call of a macro not defined in what was read"),
    "undefined-define": (WARNING, "!define used but not defined in what was read"),
    "unknown-width": (WARNING, "immediate where the register width is not known"),
    "odd-operand": (WARNING, "legal for asar but probably not what was meant"),
}


@dataclass(slots=True)
class Diagnostic:
    """One finding at one place in assembly source."""

    line: int
    column: int
    severity: str
    code: str
    message: str
    suggestion: str | None = None
    path: str | None = None  # the file the line is in (an included file keeps its own path)
    text: str | None = None  # the source line, stripped
    context: dict = field(default_factory=dict)  # e.g. {"macro": "name", "called_from": "f:3"}

    def to_record(self, **extra: object) -> dict:
        """The `asm_diag` record for this diagnostic; `extra` adds fields (sample, field...)."""
        rec: dict = {"kind": "asm_diag"}
        if self.path is not None:
            rec.update(path_fields(self.path))
        rec.update(extra)
        rec.update(
            line=self.line,
            column=self.column,
            severity=self.severity,
            code=self.code,
            message=printable(self.message),
        )
        if self.suggestion:
            rec["suggestion"] = printable(self.suggestion)
        if self.text is not None:
            rec["text"] = printable(self.text)
        rec.update({k: printable(v) for k, v in self.context.items()})
        return rec

    def format(self) -> str:
        """`path:line:col: severity: message [code]` as compilers print it."""
        where = f"{self.path or '<text>'}:{self.line}:{self.column}"
        hint = f" ({self.suggestion})" if self.suggestion else ""
        return f"{where}: {self.severity}: {self.message}{hint} [{self.code}]"


def printable(value: object) -> object:
    """Text that JSON can carry: a file name that is not UTF-8 shows its bad bytes as U+FFFD."""
    return display(value) if isinstance(value, str) else value
