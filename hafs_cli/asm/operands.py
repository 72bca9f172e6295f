"""Operand syntax as asar reads it: which kind of operand (immediate, indexed, indirect...)
and the expression inside it; argument lists split on top-level commas."""

from __future__ import annotations


def classify(operand: str) -> tuple[str, str]:
    """(kind, inner expression) of an operand, following asar's own order of tests."""
    if not operand:
        return "imp", ""
    c0 = operand[0]
    if c0 == "#":
        return "imm", operand[1:].strip()
    tail = operand[-6:].replace(" ", "").replace("\t", "").lower()
    if c0 == "(":
        if tail.endswith(",s),y"):
            return "sy", _inner(operand, ",s),y")
        if tail.endswith("),y"):
            return "indy", _inner(operand, "),y")
        if tail.endswith(",x)"):
            return "xind", _inner(operand, ",x)")
        if tail.endswith(")") and closes_at_end(operand):
            return "ind", operand[1:-1].strip()
    elif c0 == "[":
        if tail.endswith("],y"):
            return "lindy", _inner(operand, "],y")
        if tail.endswith("]"):
            return "lind", operand.rstrip()[1:-1].strip()
    if tail.endswith(",x"):
        return "x", _strip_index(operand)
    if tail.endswith(",y"):
        return "y", _strip_index(operand)
    if tail.endswith(",s"):
        return "s", _strip_index(operand)
    if operand in ("A", "a"):
        return "a", ""
    return "abs", operand


def _inner(operand: str, suffix: str) -> str:
    compact_len = len(suffix)
    # walk back over the suffix characters, skipping blanks
    i = len(operand)
    seen = 0
    while seen < compact_len:
        i -= 1
        if operand[i] not in " \t":
            seen += 1
    return operand[1:i].strip()


def _strip_index(operand: str) -> str:
    i = operand.rstrip().rfind(",")
    return operand[:i].rstrip()


def closes_at_end(operand: str) -> bool:
    """True when the '(' at the start is closed by the ')' at the very end."""
    depth = 0
    last = len(operand.rstrip()) - 1
    for i, ch in enumerate(operand):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i == last
    return True  # unbalanced: let the expression check report it


_INDEX_FORM = {"x": ",X", "y": ",Y", "s": ",S"}


def impossible_form(kind: str, inner: str) -> str | None:
    """Forms no 65816 instruction has ([d,x], (d,s),x ...): their text; '~' + text if only odd."""
    if kind in _INDEX_FORM and inner[:1] in ("(", "[") and inner.rstrip()[-1:] in (")", "]"):
        body = inner.strip()[1:-1]
        outer = _INDEX_FORM[kind]
        if inner[0] == "[":
            return f"[{_form_of(body)}]{outer}"
        if len(split_args(body)) > 1:
            return f"({_form_of(body)}){outer}"
        if closes_at_end(inner.strip()):
            return f"~(d){outer}"
        return None
    if kind in ("lind", "ind", "indy", "lindy") and "," in inner and len(split_args(inner)) > 1:
        parts = split_args(inner)
        left, right = ("[", "]") if kind.startswith("l") else ("(", ")")
        tail = ",Y" if kind.endswith("y") else ""
        return f"{left}d,{parts[-1].strip().upper()}{right}{tail}"
    return None


def _form_of(body: str) -> str:
    parts = split_args(body)
    return "d" + "".join("," + p.strip().upper() for p in parts[1:])


def split_args(text: str) -> list[str]:
    """Split on top-level commas (not inside quotes, parentheses or brackets)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
