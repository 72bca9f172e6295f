"""Macros: recording definitions (nested ones too) and expanding %calls.

A mixin of Session. Arguments are substituted as text when the macro is called, with
asar's backwards resolution (<^arg>) for macros defined inside macros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hafs_cli.asm import widths
from hafs_cli.asm.expr import Unknown, evaluate
from hafs_cli.asm.operands import split_args
from hafs_cli.asm.source import MACRO_CALL, WORD, split_statements

_MACRO_ARG = re.compile(r"<(\^*)([A-Za-z0-9_]+)>")
_VARIADIC_LITERAL = re.compile(r"<\.\.\.\[(\d+)\]>")
VARIADIC = re.compile(r"<\.\.\.\[([^\]]+)\]>")
_MACRO_DEF = re.compile(r"([A-Za-z0-9_]+)[ \t]*\(([^)]*)\)[ \t]*$")
_MAX_MACRO_DEPTH = 64
_MAX_MACRO_CALLS = 200_000  # calls inside one top-level call; real code stays far below


@dataclass
class Macro:
    name: str
    params: list[str]
    variadic: bool
    path: str
    line: int
    base: Path | None = None  # includes inside a macro resolve against its definition
    # (line, code, original, nesting level: 0 = this macro's own statements)
    body: list[tuple[int, str, str, int]] = field(default_factory=list)


def _unquote(arg: str) -> str:
    """asar strips the double quotes around a macro argument (needed for spaces)."""
    return arg[1:-1] if len(arg) >= 2 and arg[0] == '"' and arg[-1] == '"' else arg


class Macros:
    """Macro handling for Session (uses its macros, recording, macro_stack and _line)."""

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
        self.recording = Macro(
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
        if self.macro_stack and getattr(self, "macro_runaway", False):
            return  # this expansion already ran away and was reported once
        if not self.macro_stack:
            self.macro_budget = _MAX_MACRO_CALLS
        if len(self.macro_stack) >= _MAX_MACRO_DEPTH:
            self._report(lineno, col, "bad-directive", f"macro '{name}' nests deeper than {_MAX_MACRO_DEPTH} calls",
                         "a macro probably calls itself without end", original)  # fmt: skip
            self.macro_runaway = True  # a macro calling itself twice would expand 2**64 times
            return
        self.macro_budget -= 1
        if self.macro_budget < 0:
            self._report(lineno, col, "bad-directive",
                         f"macro '{name}' expands to more than {_MAX_MACRO_CALLS} macro calls",
                         "a macro probably calls itself without end", original)  # fmt: skip
            self.macro_runaway = True
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
            if not self.macro_stack:
                self.macro_runaway = False
