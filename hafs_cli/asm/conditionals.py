"""Conditional assembly: if/elseif/else/endif, while, for, and the branches not assembled.

A mixin of Session. A condition that can be evaluated here picks its branch like asar;
one that cannot (labels, read1(), uncertain defines) has every branch checked and its
outcome merged for the width tracker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hafs_cli.asm import widths
from hafs_cli.asm.expr import Unknown, evaluate
from hafs_cli.asm.source import WORD

_FOR = re.compile(r"([A-Za-z0-9_]+)[ \t]*=[ \t]*(.+?)[ \t]*\.\.[ \t]*(.+)$")


@dataclass
class Frame:
    kind: str  # if, while, for, struct, spcblock
    path: str
    line: int
    live: bool  # code in the current branch is read
    parent_live: bool
    satisfied: bool = False  # a branch was taken already (known conditions)
    unknown: bool = False  # the outcome is not knowable: every branch is read


class Conditionals:
    """Block structure for Session (uses its frames, unknown_depth, events and reporting)."""

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
            self.frames.append(Frame(word, self._path, lineno, False, False))
        elif word in ("elseif", "else", "endif", "endwhile", "endfor") and self.frames:
            if self.frames[-1].parent_live:
                self._statement(stmt, lineno, col, stmt)
            elif word.startswith("end"):
                self.frames.pop()

    def _live(self) -> bool:
        return not self.frames or self.frames[-1].live

    def _conditional(self, name: str, args: str, lineno: int, col: int, original: str) -> None:
        if name in ("if", "while", "for"):
            if not args:
                self._report(
                    lineno, col, "bad-directive", f"'{name}' needs a condition", None, original
                )
            frame = Frame(name, self._path, lineno, True, self._live())
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

    def _decide(self, frame: Frame, condition: str, loop: bool) -> None:
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

    def _enter_unknown(self, frame: Frame) -> None:
        frame.unknown = True
        self.unknown_depth += 1
        self.events.append((widths.COND_PUSH,))
