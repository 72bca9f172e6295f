"""!defines: assignment (=, :=, +=, ?=, #=) and expansion, with uncertain values tracked.

A mixin of Session. A define assigned in a branch that may not be assembled (or computed
from such a define) is "tainted": lines that use it prove nothing about widths.
"""

from __future__ import annotations

import re

from hafs_cli.asm.expr import Unknown, evaluate

DEFINE_USE = re.compile(r"(?<!\\)!\^*(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_MAX_EXPANSION = 1 << 16  # characters; real defines stay far below this
UNDEFINED_PREFIX = "__undefined_"  # what an undefined !define expands to
# asar's read-only defines (the version is the 1.9x line the fixtures are written for)
BUILTIN_DEFINES = {"assembler": "asar", "assembler_ver": "10901", "assembler_time": "0"}


class Defines:
    """Define handling for Session (uses its defines, tainted, uncertain and reporting)."""

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
        seen = {text}
        for _ in range(32):
            if "!" not in text:
                return text
            new = DEFINE_USE.sub(lambda m: self._define_value(m, lineno, col, report), text)
            if new == text:
                return text
            if new in seen or len(new) > _MAX_EXPANSION:  # !a = !b, !b = !a; or !a = !a!a
                if report:
                    self._report(lineno, col, "bad-directive", "define expansion never ends: a define refers to itself",
                                 "asar stops with 'recursive define'; give the define a value that does not use it",
                                 None)  # fmt: skip
                self.uncertain = True
                return text
            seen.add(new)
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
        return UNDEFINED_PREFIX + name
