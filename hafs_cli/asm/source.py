"""asar source text at the line level: comments, continuations, statements, labels."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hafs_cli.asm.opcodes import INSTRUCTIONS

_SEPARATOR = re.compile(r"[ \t]:[ \t]")
_FIRST_WORD = re.compile(r"\s*(?:[#?]?\.*[A-Za-z0-9_]+:\s*)?([A-Za-z]{3})(?:\.\w*)?(?:\s|$)")


def strip_comment(line: str) -> str:
    """The line without its `;` comment (a `;` inside quotes is not a comment)."""
    k = line.find(";")
    if k < 0:
        return line
    if '"' not in line and "'" not in line:
        return line[:k]
    for i, ch in unquoted(line):
        if ch == ";":
            return line[:i]
    return line


def unquoted(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) of the characters outside "strings" and 'c' literals."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch == '"' or ch == "'" and _is_char_literal(text, i):
            quote = ch
        else:
            yield i, ch


def _is_char_literal(line: str, i: int) -> bool:
    # 'a' style literal: a quote followed by one char (or an escape) and a quote
    return i + 2 < len(line) and (line[i + 2] == "'" or (line[i + 1] == "\\" and i + 3 < len(line)))


def logical_lines(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, code without comments, original first line), joining continuations.

    asar joins a line ending in `\\` (dropped) or `,` (kept) with the next one, and
    `;[[ ... ]]` comments may span lines. An instruction ending in a comma is *not*
    joined, so the validator can report the trailing comma on its own line.
    """
    i = 0
    n = len(lines)
    while i < n:
        start = i
        raw = lines[i]
        i += 1
        if ";[[" in raw:
            raw, i = _drop_block_comment(lines, start, raw, i)
        code = raw if ";" not in raw else strip_comment(raw)
        last = code.rstrip()[-1:]
        while (last == "\\" or last == ",") and i < n:
            tail = code.rstrip()
            if tail.endswith("\\"):
                code = tail[:-1] + strip_comment(lines[i]).lstrip()
            elif tail.endswith(",") and not _is_instruction(tail):
                code = tail + strip_comment(lines[i]).lstrip()
            else:
                break
            i += 1
            last = code.rstrip()[-1:]
        yield start + 1, code, lines[start]


def _drop_block_comment(lines: list[str], start: int, raw: str, i: int) -> tuple[str, int]:
    k = raw.find(";[[")
    head, rest = raw[:k], raw[k + 3 :]
    while True:
        end = rest.find("]]")
        if end >= 0:
            return head + " " + rest[end + 2 :], i
        if i >= len(lines):
            return head, i
        rest = lines[i]
        i += 1


def _is_instruction(code: str) -> bool:
    m = _FIRST_WORD.match(code)
    return bool(m and m.group(1).upper() in INSTRUCTIONS)


def split_statements(code: str) -> list[tuple[int, str]]:
    """(column offset, statement) for each ` : `-separated statement (quotes respected)."""
    if ":" not in code or not _SEPARATOR.search(code):
        return [(0, code)]
    out: list[tuple[int, str]] = []
    start = 0
    n = len(code)
    for i, ch in unquoted(code):
        if ch == ":" and 0 < i < n - 1 and code[i - 1] in " \t" and code[i + 1] in " \t":
            out.append((start, code[start:i]))
            start = i + 1
    out.append((start, code[start:]))
    return out


# Labels at the start of a statement.  Main labels need a colon; sub labels and +/- do not.
LABEL = re.compile(
    r"""[ \t]*(?:
        (?P<main>\#?\??[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*):(?![=:])
      | (?P<sub>\#?\??\.+[A-Za-z0-9_]+)(?:[ \t]*:(?!=))?(?=[ \t]|$)
      | (?P<anon>\??(?:\++|-+))(?:[ \t]*:)?(?=[ \t]|$)
    )""",
    re.VERBOSE,
)
ASSIGNMENT = re.compile(r"[ \t]*(\??[A-Za-z_][A-Za-z0-9_.]*)[ \t]*(=)(?!=)[ \t]*(.*)$")
DEFINE_ASSIGN = re.compile(r"[ \t]*!([A-Za-z0-9_]+)[ \t]*(=|:=|\+=|\?=|#=)(?!=)[ \t]*(.*)$")
MACRO_CALL = re.compile(r"[ \t]*%([A-Za-z0-9_]+)[ \t]*(?:\((.*)\))?[ \t]*$")
WORD = re.compile(
    r"[ \t]*(@?[A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_]*))?(?=[ \t]|$)[ \t]*(.*?)[ \t]*$"
)
TABLE_ENTRY = re.compile(r"[ \t]*'(?:\\.|[^'\\])+'[ \t]*=")
