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
from hafs_cli.asm.diagnostics import CODES, ERROR, INFO, WARNING, Diagnostic
from hafs_cli.asm.expr import Unknown, evaluate
from hafs_cli.asm.instructions import check_instruction, split_args, suggest_mnemonic
from hafs_cli.asm.opcodes import IMM_FOLLOWS_M, IMM_FOLLOWS_X, INSTRUCTIONS
from hafs_cli.asm.source import (
    ASSIGNMENT,
    DEFINE_ASSIGN,
    LABEL,
    MACRO_CALL,
    TABLE_ENTRY,
    WORD,
    logical_lines,
    split_statements,
)

_DEFINE_USE = re.compile(r"(?<!\\)!\^*(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_MACRO_ARG = re.compile(r"<(\^*)([A-Za-z0-9_]+)>")
_VARIADIC_LITERAL = re.compile(r"<\.\.\.\[(\d+)\]>")
_VARIADIC = re.compile(r"<\.\.\.\[([^\]]+)\]>")
_MACRO_DEF = re.compile(r"([A-Za-z0-9_]+)[ \t]*\(([^)]*)\)[ \t]*$")
_LABEL_STARTS = frozenset(".+-?#")
_LABEL_REFERENCE = re.compile(r"(?<![\w$%.'!])(?:\?)?\.*[A-Za-z_][A-Za-z0-9_]*")
_UNDEFINED_PREFIX = "__undefined_"  # what an undefined !define expands to
# the commonest line: [Label:] MNEMONIC[.s] [operand]  -- no defines, macros, strings or ' : '
_FAST_INSTRUCTION = re.compile(
    r"[ \t]*(?:(#?[A-Za-z_][A-Za-z0-9_]*):[ \t]+)?([A-Za-z]{3})(?:\.([A-Za-z]))?"
    r"(?:[ \t]+([^!%:\"';<\s][^!%:\"';<]*?))?[ \t]*$"
)
_ANON = re.compile(r"(\??)(\++|-+)$")
_SUBREF = re.compile(r"(\??)(\.+)([A-Za-z0-9_]+)$")
_NAME = re.compile(r"\??[A-Za-z_][A-Za-z0-9_]*$")
_FOR = re.compile(r"([A-Za-z0-9_]+)[ \t]*=[ \t]*(.+?)[ \t]*\.\.[ \t]*(.+)$")
# asar's read-only defines (the version is the 1.9x line the fixtures are written for)
BUILTIN_DEFINES = {"assembler": "asar", "assembler_ver": "10901", "assembler_time": "0"}
_MAX_MACRO_DEPTH = 64
_MAX_INCLUDE_DEPTH = 64


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


@dataclass
class _Macro:
    name: str
    params: list[str]
    variadic: bool
    path: str
    line: int
    base: Path | None = None  # includes inside a macro resolve against its definition
    # (line, code, original, nesting level: 0 = this macro's own statements)
    body: list[tuple[int, str, str, int]] = field(default_factory=list)


@dataclass
class _Frame:
    kind: str  # if, while, for, struct, spcblock
    path: str
    line: int
    live: bool  # code in the current branch is read
    parent_live: bool
    satisfied: bool = False  # a branch was taken already (known conditions)
    unknown: bool = False  # the outcome is not knowable: every branch is read


class Session:
    """One validation run over a text or a root file and everything it includes."""

    def __init__(self, options: Options | None = None):
        self.opts = options or Options()
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple] = set()
        self.defines: dict[str, str] = {**BUILTIN_DEFINES, **self.opts.defines}
        self.tainted: set[str] = set()
        self.macros: dict[str, _Macro] = {}
        self.events: list[tuple] = []
        self.targets: set[str] = set()  # labels some branch/jump/call names
        self.labels: dict[str, tuple[str, int]] = {}  # label -> (file, line) of its definition
        self.namespace = ""  # prefix of labels defined now ("Name_")
        self.nested_namespaces = False
        self.struct_scopes: list[list[str]] = []
        self.frames: list[_Frame] = []
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
        self.recording: _Macro | None = None
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
        text = _read_source(Path(path))
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

    def _dead_statement(self, stmt: str, lineno: int, col: int) -> None:
        """Inside a branch that is not assembled: only block structure matters."""
        m = WORD.match(stmt)
        word = m.group(1).lower() if m else ""
        if self.skip_depth:
            if word == "macro":
                self.skip_depth += 1
            elif word == "endmacro":
                self.skip_depth -= 1
            return
        if word == "macro":
            self.skip_depth = 1
        elif word in ("if", "while", "for"):
            self.frames.append(_Frame(word, self._path, lineno, False, False))
        elif word in ("elseif", "else", "endif", "endwhile", "endfor") and self.frames:
            if self.frames[-1].parent_live:
                self._statement(stmt, lineno, col, stmt)
            elif word.startswith("end"):
                self.frames.pop()

    def _statement(self, stmt: str, lineno: int, col: int, original: str) -> None:
        self.uncertain = False
        m = DEFINE_ASSIGN.match(stmt)
        if m:
            self._assign_define(m.group(1), m.group(2), m.group(3))
            return
        if "!" in stmt:
            stmt = self._expand(stmt, lineno, col + 1 + len(stmt) - len(stmt.lstrip()))
            if "<...[" in stmt and self.macro_stack:
                stmt = _VARIADIC.sub(self._variadic_arg, stmt)
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
        col = (
            col + (len(stmt) - len(stmt.lstrip())) + 1
            if rest is stmt
            else col + len(stmt) - len(rest.lstrip()) + 1
        )
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
        if word.startswith(_UNDEFINED_PREFIX):
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
            self._report(lineno, col, "unknown-mnemonic", f"cannot read statement '{s}'", None, s)

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

    # -- labels --------------------------------------------------------------------------
    def _label(self, m: re.Match, lineno: int, col: int) -> None:
        main, sub, anon = m.group("main"), m.group("sub"), m.group("anon")
        if main is not None:
            self._main_label(main, lineno, col)
            return
        if sub is not None:
            key = self._sub_key(sub.lstrip("#"), define=not sub.startswith("#"))
            if "?" not in sub:
                self._define_label(key, lineno, col)
        else:
            macro, signs = _ANON.match(anon).groups()
            count = self.anon_plus if signs[0] == "+" else self.anon_minus
            tag = f"{self._macro_prefix() if macro else ''}{signs}"
            if signs[0] == "+":
                key = f"{tag}:{count.get(tag, 0)}"
                count[tag] = count.get(tag, 0) + 1
            else:
                count[tag] = count.get(tag, 0) + 1
                key = f"{tag}:{count[tag]}"
        self.events.append((widths.LABEL, key))

    def _escape_labels(self, text: str) -> None:
        """Labels whose address is taken as data may be entered with any register widths."""
        for m in _LABEL_REFERENCE.finditer(text):
            if m.end() < len(text) and text[m.end()] == "(":
                continue  # a function call
            key = self._target_key(m.group())
            if key is not None:
                self.targets.add(key)
                self.events.append((widths.ESCAPE, key))

    def _main_label(self, main: str, lineno: int, col: int) -> None:
        if main[0] == "#":
            name = main[1:]  # '#' labels leave the sublabel scope alone
        else:
            name = main
            if name[0] != "?":
                self.label_path = [name]
        if name[0] == "?":
            self.events.append((widths.LABEL, self._macro_local(name)))
            return
        self.events.append((widths.LABEL, name))
        if self.unknown_depth or self.namespace:
            self._define_label(name, lineno, col)
        elif name in self.labels:
            self._define_label(name, lineno, col)  # reports the redefinition
        else:
            self.labels[name] = (self._path, lineno)

    def _define_label(self, key: str, lineno: int, col: int) -> None:
        """Remember where a label is defined; a second definition is an asar error."""
        if self.unknown_depth:
            return  # a branch that may not be assembled, or a loop body: no verdict
        full = self.namespace + key if self.namespace else key
        where = self.labels.get(full)
        if where is None:
            self.labels[full] = (self._path, lineno)
            return
        where = f"{where[0]}:{where[1]}"
        shown = full.replace("_", ".", 1) if key != full or "_" not in key else key
        self._report(lineno, col, "duplicate-label", f"label '{shown}' is already defined at {where}",
                     "rename one of them (use ?label or .sublabel inside macros)", None)  # fmt: skip

    def _sub_key(self, sub: str, define: bool) -> str:
        macro = sub.startswith("?")
        sub = sub.lstrip("?")
        depth = len(sub) - len(sub.lstrip("."))
        path = self.label_path[:depth] + [sub[depth:]]
        if define and not macro:
            self.label_path = path
        key = "_".join(path)
        return f"{self._macro_prefix()}{key}" if macro else key

    def _macro_prefix(self) -> str:
        return f"?{self.macro_stack[-1][1]}:" if self.macro_stack else "?:"

    def _macro_local(self, name: str) -> str:
        return self._macro_prefix() + name[1:] if name.startswith("?") else name

    def _target_key(self, text: str) -> str | None:
        text = text.strip()
        m = _ANON.match(text)
        if m:
            macro, signs = m.groups()
            tag = f"{self._macro_prefix() if macro else ''}{signs}"
            if signs[0] == "+":
                return f"{tag}:{self.anon_plus.get(tag, 0)}"
            return f"{tag}:{self.anon_minus.get(tag, 0)}"
        m = _SUBREF.match(text)
        if m:
            return self._sub_key(m.group(1) + m.group(2) + m.group(3), define=False)
        if _NAME.match(text):
            return self._macro_local(text)
        return None

    # -- defines -------------------------------------------------------------------------
    def _assign_define(self, name: str, op: str, value: str) -> None:
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if op == "?=" and name in self.defines:
            return
        uncertain = False  # the value comes from a define that may hold something else
        if op in (":=", "#=", "+="):
            saved, self.uncertain = self.uncertain, False
            value = self._expand(value, 0, 0, report=False)
            uncertain, self.uncertain = self.uncertain, saved
        if op == "#=":
            try:
                number = evaluate(value, self.defines.keys())
                value = str(int(number)) if float(number).is_integer() else str(number)
            except (Unknown, ValueError, TypeError, OverflowError, ZeroDivisionError):
                uncertain = True
        if op == "+=":
            uncertain = uncertain or name in self.tainted
            value = self.defines.get(name, "") + value
        self.defines[name] = value
        if self.unknown_depth or uncertain:
            self.tainted.add(name)
        else:
            self.tainted.discard(name)

    def _expand(self, text: str, lineno: int, col: int, report: bool = True) -> str:
        for _ in range(32):
            if "!" not in text:
                return text
            new = _DEFINE_USE.sub(lambda m: self._define_value(m, lineno, col, report), text)
            if new == text:
                return text
            text = new
        return text

    def _define_value(self, m: re.Match, lineno: int, col: int, report: bool) -> str:
        name = m.group(1) or m.group(2)
        value = self.defines.get(name)
        if value is not None:
            if name in self.tainted:
                self.uncertain = True
            return value
        self.uncertain = True
        if report and name not in self._undefined_reported and not self.missing_include:
            self._undefined_reported.add(name)
            self._report_undefined(lineno, col, "undefined-define", f"define '!{name}' is not defined in what was read",
                                   f"define it ('!{name} = value') or include the file that does")  # fmt: skip
        return _UNDEFINED_PREFIX + name

    # -- macros ----------------------------------------------------------------------------
    def _variadic_arg(self, m: re.Match) -> str:
        extra = self.macro_stack[-1][3]
        try:
            index = int(evaluate(m.group(1)))
        except (Unknown, ValueError, TypeError, OverflowError, ZeroDivisionError):
            self.uncertain = True
            return "__variadic_argument"
        return extra[index] if 0 <= index < len(extra) else "__variadic_argument"

    def _start_macro(self, args: str, lineno: int, col: int, original: str) -> None:
        m = _MACRO_DEF.match(args)
        if not m:
            self._report(lineno, col, "bad-directive", f"macro definition '{args}' is not 'macro name(args)'",
                         "write 'macro name(arg1, arg2)' (empty parentheses for none)", original)  # fmt: skip
            self.skip_depth = 1
            return
        params = [p.strip() for p in m.group(2).split(",")] if m.group(2).strip() else []
        variadic = bool(params) and params[-1] == "..."
        self.macro_depth = 0
        self.recording = _Macro(
            m.group(1),
            params[:-1] if variadic else params,
            variadic,
            self._path,
            lineno,
            self._base,
        )

    def _record_macro_line(self, code: str, lineno: int, original: str) -> None:
        rec = self.recording
        assert rec is not None
        first = WORD.match(code.split(" : ")[0]) if code.strip() else None
        word = first.group(1).lower() if first else ""
        if word == "endmacro" and code.strip().lower() == "endmacro":
            if self.macro_depth == 0:
                self.macros[rec.name] = rec
                self.recording = None
                return
            self.macro_depth -= 1  # closes a definition nested in this one
            rec.body.append((lineno, code, original, self.macro_depth))
            return
        if word == "macro":
            rec.body.append((lineno, code, original, self.macro_depth))
            self.macro_depth += 1
            return
        if self.macro_depth == 0 and " : " in code and "endmacro" in code.lower():
            parts = [p for _, p in split_statements(code)]
            if parts[-1].strip().lower() == "endmacro":
                rec.body.append((lineno, " : ".join(parts[:-1]), original, 0))
                self.macros[rec.name] = rec
                self.recording = None
                return
        rec.body.append((lineno, code, original, self.macro_depth))

    def _macro_call(self, s: str, lineno: int, col: int, original: str) -> None:
        m = MACRO_CALL.match(s)
        if not m or m.group(2) is None:
            self._report(
                lineno,
                col,
                "bad-statement",
                f"'{s}' is not a macro call",
                "write %name(args)",
                original,
            )
            return
        name, argtext = m.group(1), m.group(2)
        macro = self.macros.get(name)
        if macro is None:
            if not self.missing_include:
                self._report_undefined(lineno, col, "undefined-macro", f"macro '{name}' is not defined in what was read",
                                       "define it with 'macro name(...)' before the call, or include its file")  # fmt: skip
            self.events.append((widths.RESET,))  # whatever it does to M/X is unknown
            return
        args = [_unquote(a.strip()) for a in split_args(argtext)] if argtext.strip() else []
        want = len(macro.params)
        if (len(args) != want and not macro.variadic) or (macro.variadic and len(args) < want):
            self._report(lineno, col, "bad-operand-count",
                         f"macro '{name}' takes {want}{' or more' if macro.variadic else ''} argument(s), got {len(args)}",
                         f"defined at {macro.path}:{macro.line}: macro {name}({', '.join(macro.params)})", original)  # fmt: skip
            return
        if len(self.macro_stack) >= _MAX_MACRO_DEPTH:
            self._report(lineno, col, "bad-directive", f"macro '{name}' nests deeper than {_MAX_MACRO_DEPTH} calls",
                         "a macro probably calls itself without end", original)  # fmt: skip
            return
        values = dict(zip(macro.params, args, strict=False))
        extra = args[want:]

        def substitute(text: str, level: int) -> str:
            # <arg> belongs to this call at level 0; <^arg> to it at level 1 (a macro
            # defined inside this one), and so on: asar's "backwards resolution"
            if "<" in text:
                text = _MACRO_ARG.sub(
                    lambda a: (
                        values[a.group(2)]
                        if len(a.group(1)) == level and a.group(2) in values
                        else a.group(0)
                    ),
                    text,
                )
                if level == 0 and macro.variadic and "<...[" in text:
                    text = _VARIADIC_LITERAL.sub(
                        lambda a: (
                            extra[int(a.group(1))] if int(a.group(1)) < len(extra) else a.group(0)
                        ),
                        text,
                    )
            if level == 0 and "sizeof(...)" in text:
                text = text.replace("sizeof(...)", str(len(extra)))
            return text

        self.macro_calls += 1
        self.macro_stack.append((name, self.macro_calls, f"{self._path}:{lineno}", extra))
        saved = self._path, self._base
        self._path, self._base = macro.path, macro.base
        try:
            for body_line, code, body_original, level in macro.body:
                self._line(substitute(code, level), body_line, body_original)
        finally:
            self._path, self._base = saved
            self.macro_stack.pop()

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
            self.frames.append(_Frame(name, self._path, lineno, self._live(), self._live()))
            if name == "struct":
                self.struct_scopes.append(self.label_path)
                self.label_path = [args.split()[0]]  # fields are sublabels of the struct
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

    def _namespace(self, args: str) -> None:
        words = args.split()
        low = [w.lower() for w in words]
        if low[:1] == ["nested"]:
            self.nested_namespaces = low[1:2] == ["on"]
        elif low == ["off"]:
            self.namespace = ""
        elif words:
            prefix = words[0] + "_"
            self.namespace = self.namespace + prefix if self.nested_namespaces else prefix

    def _live(self) -> bool:
        return not self.frames or self.frames[-1].live

    def _conditional(self, name: str, args: str, lineno: int, col: int, original: str) -> None:
        if name in ("if", "while", "for"):
            if not args:
                self._report(
                    lineno, col, "bad-directive", f"'{name}' needs a condition", None, original
                )
            frame = _Frame(name, self._path, lineno, True, self._live())
            self.frames.append(frame)
            if name == "for":
                m = _FOR.match(args)
                if not m:
                    self._report(
                        lineno,
                        col,
                        "bad-directive",
                        f"'for {args}' is not 'for var = start..end'",
                        None,
                        original,
                    )
                else:
                    self.defines[m.group(1)] = m.group(2)
                    self.tainted.add(m.group(1))
                self._enter_unknown(frame)
                return
            self._decide(frame, args, name == "while")
            return
        frame = self.frames[-1] if self.frames else None
        closes = {"endif": ("if", "while"), "endwhile": ("while",), "endfor": ("for",)}
        if name in closes:
            if frame is None or frame.kind not in closes[name]:
                what = frame.kind if frame else "nothing"
                self._report(
                    lineno, col, "unbalanced-block", f"'{name}' closes {what}", None, original
                )
                return
            self.frames.pop()
            if frame.unknown:
                self.unknown_depth -= 1
                self.events.append((widths.COND_POP,))
            return
        if frame is None or frame.kind != "if":
            self._report(lineno, col, "unbalanced-block", f"'{name}' without 'if'", None, original)
            return
        if frame.unknown:
            self.events.append((widths.COND_ELSE,))
            return
        if name == "else":
            frame.live = frame.parent_live and not frame.satisfied
            frame.satisfied = True
            return
        if frame.satisfied:
            frame.live = False
            return
        self._decide(frame, args, False)

    def _decide(self, frame: _Frame, condition: str, loop: bool) -> None:
        try:
            value = evaluate(condition, self.defines.keys())
        except (Unknown, ValueError, TypeError, OverflowError, ZeroDivisionError, RecursionError):
            value = None
        if value is None or self.uncertain or loop and value:
            frame.live = frame.parent_live
            self._enter_unknown(frame)
            return
        taken = value > 0 if isinstance(value, (int, float)) else bool(value)  # asar: "> 0"
        frame.live = frame.parent_live and taken
        frame.satisfied = taken

    def _enter_unknown(self, frame: _Frame) -> None:
        frame.unknown = True
        self.unknown_depth += 1
        self.events.append((widths.COND_PUSH,))

    def _include(self, name: str, args: str, lineno: int, col: int, original: str) -> None:
        target = dirs.file_argument(name, args)
        if not target:
            self._report(
                lineno, col, "bad-directive", f"'{name}' needs a file name", None, original
            )
            return
        found = self._resolve(target)
        if found is None and name == "incbin" and ":" in target:
            found = self._resolve(target.rsplit(":", 1)[0])
        if found is None:
            self.missing_include = True
            where = self._base if self._base is not None else Path.cwd()
            self._report(lineno, col, "missing-include", f"{name} '{target}': no such file (looked in {where})",
                         "check the path; it is relative to the including file", original)  # fmt: skip
            return
        if name != "incsrc":
            return
        display = os.path.normpath(found)
        if display in self.include_stack or display == os.path.normpath(self._path):
            self._report(lineno, col, "include-cycle", f"incsrc '{target}' includes a file that is already being read",
                         " -> ".join([*self.include_stack, display]), original)  # fmt: skip
            return
        if display in self.once:
            return
        if len(self.include_stack) >= _MAX_INCLUDE_DEPTH:
            self._report(
                lineno,
                col,
                "include-cycle",
                f"includes nest deeper than {_MAX_INCLUDE_DEPTH}",
                None,
                original,
            )
            return
        try:
            text = _read_source(Path(found))
        except OSError as exc:
            self._report(
                lineno, col, "missing-include", f"incsrc '{target}': {exc.strerror}", None, original
            )
            return
        self.include_stack.append(os.path.normpath(self._path))
        try:
            self._run(text.splitlines(), display, Path(found).parent)
        finally:
            self.include_stack.pop()

    def _resolve(self, target: str) -> str | None:
        candidates = []
        if self._base is not None:
            candidates.append(self._base / target)
        candidates += [Path(p) / target for p in self.opts.include_paths]
        if self._base is None:
            candidates.append(Path(target))
        for c in candidates:
            if c.is_file():
                return os.fspath(c)
        return None

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


def _unquote(arg: str) -> str:
    """asar strips the double quotes around a macro argument (needed for spaces)."""
    return arg[1:-1] if len(arg) >= 2 and arg[0] == '"' and arg[-1] == '"' else arg


def _read_source(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")
