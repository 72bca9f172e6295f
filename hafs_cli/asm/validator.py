"""The validation engine: reads asar source the way asar does and reports what would not assemble.

It follows includes, expands !defines and %macros, evaluates if/elseif/while where the
condition is knowable (and checks every branch where it is not), and records a flat list
of events for the register-width tracker (hafs_cli/asm/widths.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from hafs_cli.asm import directives as dirs
from hafs_cli.asm import widths
from hafs_cli.asm.conditionals import Conditionals, Frame
from hafs_cli.asm.defines import BUILTIN_DEFINES, UNDEFINED_PREFIX, Defines
from hafs_cli.asm.diagnostics import CODES, ERROR, INFO, WARNING, Diagnostic
from hafs_cli.asm.includes import Includes, read_source
from hafs_cli.asm.instructions import check_instruction
from hafs_cli.asm.labels import LabelScopes
from hafs_cli.asm.macros import VARIADIC, Macro, Macros
from hafs_cli.asm.opcodes import IMM_FOLLOWS_M, IMM_FOLLOWS_X, INSTRUCTIONS
from hafs_cli.asm.source import (
    ASSIGNMENT,
    DEFINE_ASSIGN,
    LABEL,
    TABLE_ENTRY,
    WORD,
    logical_lines,
    split_statements,
)
from hafs_cli.asm.suggest import suggest_mnemonic

_LABEL_STARTS = frozenset(".+-?#")
# the commonest line: [Label:] MNEMONIC[.s] [operand]  -- no defines, macros, strings or ' : '
_FAST_INSTRUCTION = re.compile(
    r"[ \t]*(?:(#?[A-Za-z_][A-Za-z0-9_]*):[ \t]+)?([A-Za-z]{3})(?:\.([A-Za-z]))?"
    r"(?:[ \t]+([^!%:\"';<\s][^!%:\"';<]*?))?[ \t]*$"
)


@dataclass
class Options:
    """Validator settings (the [validate-asm] table of hafs.toml)."""

    unknown_width: str = "ignore"  # "ignore" or "warning": immediates where M/X is unknown
    calls_preserve_width: bool = False  # assume JSR/JSL return with the caller's widths
    undefined: str = "warning"  # severity of undefined-macro/undefined-define: warning|info|ignore
    include_paths: tuple[str, ...] = ()
    defines: dict[str, str] = field(default_factory=dict)
    m: int | None = None  # accumulator width at the start (8, 16 or unknown)
    x: int | None = None  # index width at the start

    @classmethod
    def from_config(cls, section: dict | None) -> Options:
        section = dict(section or {})
        known = {k: section[k] for k in cls.__dataclass_fields__ if k in section}
        if "include_paths" in known:
            known["include_paths"] = tuple(known["include_paths"])
        for reg in ("m", "x"):
            if known.get(reg) in (0, "unknown", None):
                known[reg] = None
        return cls(**known)


class Session(LabelScopes, Defines, Macros, Conditionals, Includes):
    """One validation run over a text or a root file and everything it includes."""

    def __init__(self, options: Options | None = None):
        self.opts = options or Options()
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple] = set()
        self.defines: dict[str, str] = {**BUILTIN_DEFINES, **self.opts.defines}
        self.tainted: set[str] = set()
        self.macros: dict[str, Macro] = {}
        self.events: list[tuple] = []
        self.targets: set[str] = set()  # labels some branch/jump/call names
        self.labels: dict[str, tuple[str, int]] = {}  # label -> (file, line) of its definition
        self.namespace = ""  # prefix of labels defined now ("Name_")
        self.nested_namespaces = False
        self.struct_scopes: list[list[str]] = []
        self.frames: list[Frame] = []
        self.unknown_depth = 0
        self.arch65816 = True
        self.arch_stack: list[bool] = []
        self.pc_depth = 0
        self.missing_include = False
        self.include_stack: list[str] = []
        self.once: set[str] = set()
        self.files: list[str] = []
        self.lines = 0
        self.label_path: list[str] = [""]
        self.anon_plus: dict[str, int] = {}
        self.anon_minus: dict[str, int] = {}
        self.macro_stack: list[
            tuple[str, int, str, list[str]]
        ] = []  # name, call id, from, variadic args
        self.macro_calls = 0
        self.recording: Macro | None = None
        self.skip_depth = 0  # >0: inside a macro definition in a branch that is not assembled
        self.macro_depth = 0  # macro definitions nested inside the one being recorded
        self.uncertain = False
        self._undefined_reported: set[str] = set()
        self._path = "<text>"
        self._base: Path | None = None

    # -- entry points ------------------------------------------------------------------
    def run_text(
        self, text: str, name: str = "<text>", base_dir: str | os.PathLike | None = None
    ) -> None:
        self._run(text.splitlines(), name, Path(base_dir) if base_dir is not None else None)

    def run_file(self, path: str | os.PathLike) -> None:
        display = os.fspath(path)
        text = read_source(Path(path))
        self._run(text.splitlines(), display, Path(path).parent)

    def finish(self) -> list[Diagnostic]:
        """Close open blocks, run the width tracker; the diagnostics, in source order."""
        for frame in self.frames:
            closer = dirs.BLOCK_OPENERS.get(frame.kind, "end" + frame.kind)
            self._report_at(
                frame.path, frame.line, 1, "unbalanced-block", f"'{frame.kind}' without '{closer}'"
            )
        self.frames.clear()
        if self.recording is not None:
            rec = self.recording
            self._report_at(
                rec.path, rec.line, 1, "unbalanced-block", f"macro '{rec.name}' without 'endmacro'"
            )
            self.recording = None
        widths.analyse(
            widths.drop_unreferenced_labels(self.events, self.targets),
            self._width_report,
            calls_preserve_width=self.opts.calls_preserve_width,
            initial=(self.opts.m, self.opts.x, None, None),
        )
        self.events = []
        order = {p: i for i, p in enumerate(self.files)}
        self.diagnostics.sort(key=lambda d: (order.get(d.path, -1), d.line, d.column))
        return self.diagnostics

    # -- lines -------------------------------------------------------------------------
    def _run(self, lines: list[str], path: str, base: Path | None) -> None:
        saved = self._path, self._base
        self._path, self._base = path, base
        if path not in self.files:
            self.files.append(path)
        try:
            for lineno, code, original in logical_lines(lines):
                self.lines += 1
                self._line(code, lineno, original)
        finally:
            self._path, self._base = saved

    def _line(self, code: str, lineno: int, original: str) -> None:
        if self.recording is not None:
            self._record_macro_line(code, lineno, original)
            return
        if not code or code.isspace():
            return
        live = not self.frames or self.frames[-1].live
        if live and self.arch65816 and not self.skip_depth:
            fast = _FAST_INSTRUCTION.match(code)
            if fast is not None:
                label, word, suffix, operand = fast.groups()
                upper = word.upper()
                if upper in INSTRUCTIONS and (upper != "REP" or not operand or operand[0] == "#"):
                    self.uncertain = False
                    if label is not None:
                        self._main_label(label, lineno, fast.start(1) + 1)
                    col = fast.start(2) + 1
                    self._instruction(upper, suffix, operand or "", lineno, col, original)
                    return
        for col, stmt in split_statements(code):
            if not stmt or stmt.isspace():
                continue
            if not live or self.skip_depth:
                self._dead_statement(stmt, lineno, col)
                live = not self.frames or self.frames[-1].live
                continue
            if self.recording is not None:
                self._record_macro_line(stmt, lineno, original)
                continue
            self._statement(stmt, lineno, col, original)
            live = not self.frames or self.frames[-1].live

    def _statement(self, stmt: str, lineno: int, col: int, original: str) -> None:
        self.uncertain = False
        m = DEFINE_ASSIGN.match(stmt)
        if m:
            self._assign_define(m.group(1), m.group(2), m.group(3))
            return
        if "!" in stmt:
            stmt = self._expand(stmt, lineno, col + 1 + len(stmt) - len(stmt.lstrip()))
            if "<...[" in stmt and self.macro_stack:
                stmt = VARIADIC.sub(self._variadic_arg, stmt)
            if " : " in stmt or "\t:" in stmt or ":\t" in stmt:
                uncertain = self.uncertain
                for sub_col, sub in split_statements(stmt):
                    self._plain_statement(sub, lineno, col + sub_col, original)
                    self.uncertain = uncertain
                return
        self._plain_statement(stmt, lineno, col, original)

    def _plain_statement(self, stmt: str, lineno: int, col: int, original: str) -> None:  # noqa: C901
        rest = stmt
        head = stmt.lstrip()[:1]
        while head in _LABEL_STARTS or ":" in rest:
            m = LABEL.match(rest)
            if not m or m.end() == 0:
                break
            self._label(m, lineno, col + m.start(m.lastindex or 0) + 1)
            rest = rest[m.end() :]
            head = rest.lstrip()[:1]
        s = rest.strip()
        if not s:
            return
        col += len(stmt) - len(rest.lstrip()) + 1  # 1-based column of the word
        c0 = s[0]
        if c0 == "%":
            self._macro_call(s, lineno, col, original)
            return
        if c0 in "{}" and s.strip("{} \t") == "":
            return
        if c0 == "'" and TABLE_ENTRY.match(s):
            return
        if c0 == "!":
            m = DEFINE_ASSIGN.match(s)
            if m:
                self._assign_define(m.group(1), m.group(2), m.group(3))
                return
        m = WORD.match(s)
        if m is None:
            a = ASSIGNMENT.match(s)
            if a:
                return  # Label = value
            self._bad_statement(s, lineno, col)
            return
        word, suffix, operand = m.group(1), m.group(2), m.group(3)
        if operand[:1] == "=" and operand[1:2] != "=":
            return  # Label = value
        if word.startswith(UNDEFINED_PREFIX):
            self.events.append((widths.RESET,))  # a statement held by an undefined define
            return
        upper = word.upper()
        if upper in INSTRUCTIONS and (upper != "REP" or not operand or operand[0] == "#"):
            if self.arch65816:
                self._instruction(upper, suffix, operand, lineno, col, original)
            return
        lower = word.lower()
        if suffix is None and lower in dirs.ALL:
            self._directive(lower, operand, lineno, col, original)
            return
        if ASSIGNMENT.match(s):
            return
        if not self.arch65816 or lower.startswith("@"):
            return  # SPC700/SuperFX code, or an asar file-header command
        hint = suggest_mnemonic(word if suffix is None else upper, tuple(sorted(dirs.ALL)))
        if lower in self.macros:
            hint = f"call the macro as %{word}(...)"
        elif operand and not hint and re.match(r"\.?[A-Za-z_]\w*$", word):
            hint = f"a label needs a colon: '{word}:'"
        shown = word if suffix is None else f"{word}.{suffix}"
        self._report(
            lineno,
            col,
            "unknown-mnemonic",
            f"'{shown}' is not a 65816 instruction or asar directive",
            hint,
            original,
        )

    def _bad_statement(self, s: str, lineno: int, col: int) -> None:
        m = re.match(r"([A-Za-z]{2,5})(?:\.\w)?([#$(\[%].*)", s)
        if m and m.group(1).upper() in INSTRUCTIONS:
            self._report(lineno, col, "malformed-operand", f"'{s}': no space between {m.group(1)} and its operand",
                         f"write '{m.group(1)} {m.group(2)}'", s)  # fmt: skip
        else:
            self._report(lineno, col, "bad-statement", f"cannot read statement '{s}'",
                         "a statement is a label, an instruction, a directive or a %macro() call", s)  # fmt: skip

    # -- instructions ------------------------------------------------------------------
    def _instruction(
        self, upper: str, suffix: str | None, operand: str, lineno: int, col: int, original: str
    ) -> None:
        problems, checked = check_instruction(
            upper, suffix, operand, widths_known=not self.uncertain
        )
        fatal = False
        for p in problems:
            self._report(
                lineno, col, p.code, p.message, p.suggestion, original, severity=p.severity
            )
            fatal = fatal or p.severity == ERROR
        if fatal:
            self.events.append((widths.INSN, upper, None, None, None, None))
            return
        imm_width = checked.imm_width
        ref = None
        if imm_width is not None:
            if self.uncertain or (upper not in IMM_FOLLOWS_M and upper not in IMM_FOLLOWS_X):
                imm_width = None
            else:
                context = self._context() if self.macro_stack else None
                ref = (self._path, lineno, col, original, upper, suffix, operand, context)
        if (operand[:1] == "#" and operand[1:2] != "$") or upper == "PEA" or upper == "PER":
            self._escape_labels(operand)  # (#$12 and the like name no label: skipped cheaply)
        target = None
        if checked.target:
            target = self._target_key(checked.target)
            if target is not None:
                self.targets.add(target)
        self.events.append((widths.INSN, upper, imm_width, checked.imm_value, target, ref))

    def _width_report(self, ref: tuple, register: str, imm_width: int, known: int | None) -> None:
        path, lineno, col, text, upper, suffix, operand, context = ref
        mnem = f"{upper}.{suffix}" if suffix else upper
        name = "A" if register == "M" else "X/Y"
        flag = "$20" if register == "M" else "$10"
        if known is None:
            if self.opts.unknown_width == "warning":
                self._report_at(path, lineno, col, "unknown-width",
                                f"{mnem} {operand}: the width of {name} is not known here",
                                f"add REP #{flag} or SEP #{flag} before it", text, WARNING, context)  # fmt: skip
            return
        if imm_width * 8 == known:
            return
        if imm_width * 8 > known:
            hint = f"{name} is 8-bit here: add REP #{flag} before it, or use a 2-digit value"
        else:
            hint = f"{name} is 16-bit here: write the value with 4 hex digits, or add SEP #{flag} before it"
        self._report_at(path, lineno, col, "immediate-width",
                        f"{mnem} {operand}: {imm_width * 8}-bit immediate but {name} is {known}-bit here",
                        hint, text, ERROR, context)  # fmt: skip

    # -- directives ----------------------------------------------------------------------
    def _directive(self, name: str, args: str, lineno: int, col: int, original: str) -> None:  # noqa: C901
        if name in ("if", "elseif", "else", "endif", "while", "endwhile", "for", "endfor"):
            self._conditional(name, args, lineno, col, original)
            return
        problem = dirs.check(name, args)
        if problem:
            self._report(lineno, col, "bad-directive", problem, None, original)
            return
        if name in dirs.DATA:
            self._escape_labels(args)
        elif name == "macro":
            self._start_macro(args, lineno, col, original)
        elif name == "endmacro":
            self._report(
                lineno, col, "unbalanced-block", "'endmacro' without 'macro'", None, original
            )
        elif name in ("incsrc", "include", "incbin", "table", "includefrom"):
            if name == "include" or name == "includefrom":
                return
            self._include(name, args, lineno, col, original)
        elif name == "undef":
            self.defines.pop(args.strip().strip('"').lstrip("!"), None)
        elif name == "includeonce":
            self.once.add(self._path)
        elif name == "arch":
            self.arch65816 = args.lower() == "65816"
            self.events.append((widths.RESET,))
        elif name in ("org", "freecode", "freedata", "freespace", "pullpc", "base"):
            if name == "pullpc":
                if self.pc_depth == 0:
                    self._report(
                        lineno, col, "unbalanced-block", "'pullpc' without 'pushpc'", None, original
                    )
                self.pc_depth = max(0, self.pc_depth - 1)
            self.events.append((widths.RESET,))
        elif name == "pushpc":
            self.pc_depth += 1
        elif name == "namespace":
            self._namespace(args)
        elif name in ("struct", "spcblock"):
            self.frames.append(Frame(name, self._path, lineno, self._live(), self._live()))
            if name == "struct":
                self.struct_scopes.append(self.label_path)
                words = args.split()
                if not words:
                    self._report(lineno, col, "bad-directive", "'struct' needs a name",
                                 "struct Name [address]", original)  # fmt: skip
                self.label_path = words[:1] or [""]  # fields are sublabels of the struct
            if name == "spcblock":
                self.arch_stack.append(self.arch65816)
                self.arch65816 = False
        elif name in ("endstruct", "endspcblock"):
            opener = name[3:]
            if not self.frames or self.frames[-1].kind != opener:
                self._report(
                    lineno, col, "unbalanced-block", f"'{name}' without '{opener}'", None, original
                )
                return
            self.frames.pop()
            if name == "endstruct" and self.struct_scopes:
                self.label_path = self.struct_scopes.pop()
            if name == "endspcblock" and self.arch_stack:
                self.arch65816 = self.arch_stack.pop()
        elif name == "autoclean":
            self._plain_statement(args, lineno, col + len("autoclean "), original)

    # -- reporting ---------------------------------------------------------------------
    def _context(self) -> dict:
        if not self.macro_stack:
            return {}
        name, _, called_from, _ = self.macro_stack[-1]
        return {"macro": name, "called_from": called_from}

    def _report(self, lineno: int, col: int, code: str, message: str, suggestion: str | None,
                text: str | None, severity: str | None = None) -> None:  # fmt: skip
        self._report_at(
            self._path, lineno, col, code, message, suggestion, text, severity, self._context()
        )

    def _report_undefined(
        self, lineno: int, col: int, code: str, message: str, suggestion: str
    ) -> None:
        if self.opts.undefined == "ignore":
            return
        severity = INFO if self.opts.undefined == "info" else WARNING
        self._report(lineno, col, code, message, suggestion, None, severity)

    def _report_at(self, path: str, lineno: int, col: int, code: str, message: str, suggestion: str | None = None,
                   text: str | None = None, severity: str | None = None, context: dict | None = None) -> None:  # fmt: skip
        severity = severity or CODES.get(code, (ERROR, ""))[0]
        key = (path, lineno, col, code, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.diagnostics.append(
            Diagnostic(
                lineno,
                col,
                severity,
                code,
                message,
                suggestion,
                path,
                text.strip() if text else None,
                context or {},
            )  # fmt: skip
        )
