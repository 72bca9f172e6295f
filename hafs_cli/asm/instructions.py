"""Check one 65816 instruction statement: mnemonic, size suffix, operand form and width."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hafs_cli.asm import opcodes as op
from hafs_cli.asm.expr import Unknown, evaluate, literal_width, syntax_error
from hafs_cli.asm.operands import classify, impossible_form, split_args

# Operand "kinds" as written, before the width picks a concrete syntax.
_CANDIDATES = {
    "abs": (op.DP, op.ABS, op.LONG),
    "x": (op.DP_X, op.ABS_X, op.LONG_X),
    "y": (op.DP_Y, op.ABS_Y),
    "s": (op.SR,),
    "ind": (op.DP_IND, op.ABS_IND),
    "lind": (op.DP_IND_LONG, op.ABS_IND_LONG),
    "xind": (op.DP_X_IND, op.ABS_X_IND),
    "indy": (op.DP_IND_Y,),
    "lindy": (op.DP_IND_LONG_Y,),
    "sy": (op.SR_IND_Y,),
}
_KIND_TEXT = {
    "abs": "addr",
    "x": "addr,X",
    "y": "addr,Y",
    "s": "sr,S",
    "ind": "(addr)",
    "lind": "[addr]",
    "xind": "(addr,X)",
    "indy": "(dp),Y",
    "lindy": "[dp],Y",
    "sy": "(sr,S),Y",
    "imm": "#const",
    "a": "A",
}
_SUFFIX_WIDTH = {"b": 1, "w": 2, "l": 3}
_SIMPLE_HEX = re.compile(r"\$([0-9A-Fa-f]{1,6})")


def _width(inner: str) -> int | None:
    simple = _SIMPLE_HEX.fullmatch(inner)
    return (len(simple.group(1)) + 1) // 2 if simple else literal_width(inner)


_WIDTH_NAME = {1: "8-bit", 2: "16-bit", 3: "24-bit", 4: "32-bit"}


@dataclass(slots=True)
class Problem:
    code: str
    message: str
    suggestion: str | None = None
    severity: str = "error"


@dataclass(slots=True)
class Checked:
    """What the width tracker needs to know about one instruction."""

    mnemonic: str
    syntax: str | None  # the resolved operand syntax, None when unknown
    imm_width: int | None = None  # operand bytes of an immediate, when known
    imm_value: int | None = None  # value of REP/SEP operands, when known
    target: str | None = None  # branch/jump target text (for label states)


def legal_text(mnemonic: str) -> str:
    modes = op.INSTRUCTIONS[mnemonic]
    forms = [text for syntax, text in op.SYNTAX_EXAMPLE.items() if syntax in modes]
    if mnemonic in op.REPEATABLE:
        forms.append("#count (repeat)")
    return f"{mnemonic} takes: " + ", ".join(forms)


_CACHE: dict[tuple, tuple[list[Problem], Checked]] = {}
_CACHE_LIMIT = 50_000


def check_instruction(
    mnemonic: str, suffix: str | None, operand: str, *, widths_known: bool = True
) -> tuple[list[Problem], Checked]:
    """Problems with one instruction, and what the width tracker needs about it (memoized).

    Callers must not modify what is returned: the same objects answer the same question.
    """
    key = (mnemonic, suffix, operand, widths_known)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        hit = _CACHE[key] = _check_instruction(mnemonic, suffix, operand, widths_known=widths_known)
    return hit


def _check_instruction(
    mnemonic: str, suffix: str | None, operand: str, *, widths_known: bool = True
) -> tuple[list[Problem], Checked]:
    """Problems with one instruction, and what the width tracker needs about it.

    widths_known=False: the operand came from a define whose value is not certain
    (set in a branch that may not be assembled), so literal widths prove nothing.
    """
    modes = op.INSTRUCTIONS[mnemonic]
    checked = Checked(mnemonic, None)
    problems: list[Problem] = []
    sfx = suffix.lower() if suffix is not None else None

    if op.BLOCK in modes:
        return _check_block_move(mnemonic, sfx, operand, problems), checked

    kind, inner = classify(operand)

    if kind == "imp":
        if (
            op.IMP in modes
            or op.ACC in modes
            or op.IMM8 in modes
            and mnemonic in ("BRK", "COP", "WDM")
        ):
            checked.syntax = op.IMP if op.IMP in modes else op.ACC if op.ACC in modes else op.IMM8
            if sfx is not None and sfx not in _SUFFIX_WIDTH:
                problems.append(_bad_suffix(mnemonic, suffix))
            return problems, checked
        problems.append(
            Problem("malformed-operand", f"{mnemonic} needs an operand", legal_text(mnemonic))
        )
        return problems, checked

    if kind == "a":
        if sfx is not None and sfx not in _SUFFIX_WIDTH:
            problems.append(_bad_suffix(mnemonic, suffix))
        elif op.ACC in modes:
            checked.syntax = op.ACC
        else:
            problems.append(_bad_mode(mnemonic, "A"))
        return problems, checked

    if (
        sfx is not None
        and sfx not in _SUFFIX_WIDTH
        and not (mnemonic in op.BRANCHES and sfx in "ar")
    ):
        problems.append(_bad_suffix(mnemonic, suffix))
        return problems, checked

    if kind == "imm":
        return _check_immediate(
            mnemonic, sfx, inner, modes, problems, checked, widths_known
        ), checked

    if op.IMP in modes and len(modes) == 1 or (op.ACC in modes and len(modes) == 1):
        problems.append(
            Problem("bad-addressing-mode", f"{mnemonic} takes no operand", legal_text(mnemonic))
        )
        return problems, checked

    odd = impossible_form(kind, inner)
    if odd is not None:
        if odd.startswith("~"):
            problems.append(
                Problem(
                    "odd-operand",
                    f"{mnemonic} {operand}: asar reads these parentheses as grouping, so this is {inner[1:-1].strip()}{odd[-2:]}",
                    f"did you mean {mnemonic} ({inner[1:-1].strip()},{operand.rstrip()[-1]})?",
                    "warning",
                )
            )
            inner = inner[1:-1]
        else:
            problems.append(_bad_mode(mnemonic, odd))
            return problems, checked

    error = None if _SIMPLE_HEX.fullmatch(inner) else syntax_error(inner)
    if error is not None:
        problems.append(
            Problem("malformed-operand", f"{mnemonic} {operand}: {error}", legal_text(mnemonic))
        )
        return problems, checked

    if mnemonic in op.BRANCHES:
        return _check_branch(mnemonic, sfx, kind, operand, inner, modes, problems, checked), checked

    if mnemonic in ("BRK", "COP", "WDM") and kind == "abs":
        checked.syntax = op.IMM8  # asar also takes the signature byte without '#'
        return problems, checked

    candidates = [s for s in _CANDIDATES[kind] if s in modes]
    if mnemonic == "JMP" and kind == "abs":
        candidates = [op.ABS, op.LONG]  # JMP.l / JMP long assemble as JML
    if not candidates:
        problems.append(_bad_mode(mnemonic, _KIND_TEXT[kind]))
        return problems, checked
    widths = {op.OPERAND_BYTES[s]: s for s in candidates}
    if sfx is not None:
        width = _SUFFIX_WIDTH[sfx]
        if width not in widths:
            allowed = ", ".join(f".{k}" for k, v in _SUFFIX_WIDTH.items() if v in widths)
            problems.append(
                Problem(
                    "bad-size-suffix",
                    f"{mnemonic}.{suffix} {operand}: {mnemonic} has no {_WIDTH_NAME[width]} "
                    f"{_KIND_TEXT[kind]} form",
                    f"use {allowed}" if allowed else legal_text(mnemonic),
                )
            )
            return problems, checked
        checked.syntax = widths[width]
    else:
        width = _width(inner) if widths_known else None
        if width is not None and width > max(widths):
            problems.append(
                Problem(
                    "bad-addressing-mode",
                    f"{mnemonic} {operand}: {mnemonic} has no {_WIDTH_NAME.get(width, 'wide')} "
                    f"{_KIND_TEXT[kind]} form",
                    legal_text(mnemonic),
                )
            )
            return problems, checked
        if width is not None:
            checked.syntax = widths[min(w for w in widths if w >= width)]
    if mnemonic in ("JMP", "JML", "JSR", "JSL", "PEA"):
        checked.target = inner if kind == "abs" else None
    return problems, checked


def _check_immediate(
    mnemonic: str,
    sfx: str | None,
    inner: str,
    modes: dict,
    problems: list[Problem],
    checked: Checked,
    widths_known: bool = True,
) -> list[Problem]:
    if inner.startswith("#"):
        problems.append(
            Problem(
                "malformed-operand",
                f"{mnemonic} #{inner}: '##' is not an operand",
                legal_text(mnemonic),
            )
        )
        return problems
    error = None if _SIMPLE_HEX.fullmatch(inner) else syntax_error(inner)
    if error is not None:
        problems.append(
            Problem("malformed-operand", f"{mnemonic} #{inner}: {error}", legal_text(mnemonic))
        )
        return problems
    if op.IMM not in modes and op.IMM8 not in modes:
        if mnemonic in op.REPEATABLE:
            checked.syntax = op.ACC if op.ACC in modes else op.IMP
            return problems  # asar's repetition shorthand: INX #2 is INX : INX
        if mnemonic == "PEA":
            checked.syntax = op.ABS  # PEA #$1234 is how many sources write PEA $1234
            return problems
        problems.append(_bad_mode(mnemonic, "#const"))
        return problems
    short_only = op.IMM not in modes
    width = _SUFFIX_WIDTH[sfx] if sfx is not None else _width(inner) if widths_known else None
    limit = 1 if short_only else 2
    if width is not None and width > limit:
        if sfx is not None:
            problems.append(
                Problem(
                    "bad-size-suffix",
                    f"{mnemonic}.{sfx}: an immediate operand of {mnemonic} is at most {_WIDTH_NAME[limit]}",
                    "use .b" if short_only else "use .b or .w",
                )
            )
        else:
            problems.append(
                Problem(
                    "immediate-width",
                    f"{mnemonic} #{inner}: {_WIDTH_NAME.get(width, 'wide')} immediate; "
                    f"{mnemonic} takes at most {_WIDTH_NAME[limit]}",
                    f"write it with {'2' if short_only else '2 or 4'} hex digits",
                )
            )
        return problems
    checked.syntax = op.IMM8 if short_only else op.IMM
    checked.imm_width = width
    if mnemonic in ("REP", "SEP"):
        try:
            checked.imm_value = int(evaluate(inner))
        except (Unknown, ValueError, TypeError, OverflowError):
            checked.imm_value = None
    return problems


def _check_branch(
    mnemonic: str,
    sfx: str | None,
    kind: str,
    operand: str,
    inner: str,
    modes: dict,
    problems: list[Problem],
    checked: Checked,
) -> list[Problem]:
    syntax = op.REL8 if op.REL8 in modes else op.REL16
    if kind != "abs":
        problems.append(_bad_mode(mnemonic, _KIND_TEXT[kind]))
        return problems
    if sfx is not None:
        ok = sfx in ("a", "r", "b") or (sfx == "w" and syntax == op.REL16)
        if not ok:
            problems.append(
                Problem(
                    "bad-size-suffix",
                    f"{mnemonic}.{sfx}: a {'long ' if syntax == op.REL16 else ''}branch cannot take .{sfx}",
                    "use BRL for a 16-bit branch"
                    if syntax == op.REL8
                    else "write BRL without a suffix",
                )
            )
            return problems
    checked.syntax = syntax
    checked.target = inner
    return problems


def _check_block_move(
    mnemonic: str, sfx: str | None, operand: str, problems: list[Problem]
) -> list[Problem]:
    if sfx is not None and sfx != "b":
        problems.append(_bad_suffix(mnemonic, sfx))
        return problems
    parts = split_args(operand) if operand else []
    legal = f"{mnemonic} takes two bank bytes: {mnemonic} $7E,$7F (or one word: {mnemonic} $7E7F)"
    if not parts:
        problems.append(
            Problem(
                "bad-operand-count", f"{mnemonic} needs its source and destination banks", legal
            )
        )
        return problems
    if len(parts) > 2:
        problems.append(
            Problem(
                "bad-operand-count",
                f"{mnemonic} {operand}: {len(parts)} operands, expected 2",
                legal,
            )
        )
        return problems
    for part in parts:
        text = part.strip()
        if text.startswith("#"):
            problems.append(
                Problem(
                    "malformed-operand",
                    f"{mnemonic} {operand}: asar takes the banks without '#'",
                    legal,
                )
            )
            return problems
        error = syntax_error(text)
        if error is not None:
            problems.append(Problem("malformed-operand", f"{mnemonic} {operand}: {error}", legal))
            return problems
        width = literal_width(text)
        if len(parts) == 2 and width is not None and width > 1:
            problems.append(
                Problem("bad-addressing-mode", f"{mnemonic} {operand}: a bank is one byte", legal)
            )
            return problems
    return problems


def _bad_mode(mnemonic: str, form: str) -> Problem:
    return Problem(
        "bad-addressing-mode", f"{mnemonic} has no {form} addressing mode", legal_text(mnemonic)
    )


def _bad_suffix(mnemonic: str, suffix: str | None) -> Problem:
    return Problem(
        "bad-size-suffix",
        f"'{mnemonic}.{suffix}': .{suffix} is not a size suffix",
        "use .b (8-bit), .w (16-bit) or .l (24-bit)",
    )
