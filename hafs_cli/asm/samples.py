"""Assembly inside `sample` records: which fields hold code, and fenced blocks in prose."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from hafs_cli.asm.diagnostics import ERROR, INFO, WARNING, Diagnostic

#: fence languages taken as 65816/asar assembly ("```" with no language counts too)
ASM_FENCE_LANGS = frozenset(
    (
        "",
        "asm",
        "asar",
        "65816",
        "65c816",
        "w65c816",
        "snes",
        "assembly",
        "s",
        "wla",
        "ca65",
        "nasm-65816",
    )
)
# An unclosed fence runs to the end of the text (CommonMark), as in a truncated answer.
_FENCE = re.compile(
    r"^([ \t]*)(```+|~~~+)[ \t]*([^\s`]*)[^\n]*\n(.*?)(?:^\1\2[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)


@dataclass
class Block:
    """One piece of assembly: which field it came from and where in that field it starts."""

    field: str
    text: str
    first_line: int  # line number within the field of the block's first line (1-based)
    fenced: bool


def blocks(record: dict, code_fields: list[str], text_fields: list[str]) -> Iterator[Block]:
    """The assembly a sample holds.

    A code field (e.g. `output`) is assembly as a whole unless it contains fenced blocks;
    a text field (e.g. `input`, an instruction in prose) only contributes its fenced blocks.
    """
    for name in [*code_fields, *(f for f in text_fields if f not in code_fields)]:
        yield from _field_blocks(name, record.get(name), name in code_fields)
    messages = record.get("messages")
    if isinstance(messages, list):  # chat-format samples: the assistant's turns are the code
        for i, msg in enumerate(messages):
            if isinstance(msg, dict) and isinstance(msg.get("content"), str):
                is_code = msg.get("role") == "assistant"
                yield from _field_blocks(f"messages[{i}]", msg["content"], is_code)


def _field_blocks(name: str, value: object, is_code: bool) -> Iterator[Block]:
    if not isinstance(value, str) or not value.strip():
        return
    fenced = list(_fenced(name, value))
    if fenced:
        yield from fenced
    elif is_code and looks_like_asm(value):
        yield Block(name, value, 1, False)


_LIST_COMMA = re.compile(r"\s*,\s*")
_LABEL_ONLY = re.compile(r"\s*(?:[#?]?\.*[A-Za-z0-9_]+:|[+-]+|\.[A-Za-z_]\w*)\s*$")
_INSTRUCTION_SHAPE = re.compile(
    r"\s*(?:[#?]?\.*[A-Za-z0-9_]+:\s*)?[A-Za-z_!%][\w.!]*(?:\([^)]*\))?(?:\s+(.*))?$"
)


def looks_like_asm(text: str) -> bool:
    """Most lines are shaped like assembly statements (of any CPU), not like sentences.

    A code field that is prose ("The routine at $8000 stores ...") is not checked as
    code: it would only produce a wall of unknown-mnemonic errors. Code for another
    CPU (mov eax, 1) is still checked, and its mnemonics are reported.
    """
    lines = [ln.split(";", 1)[0].rstrip() for ln in text.splitlines()[:200]]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return False
    shaped = sum(1 for ln in lines if _statement_shaped(ln))
    return shaped * 2 >= len(lines)


def _statement_shaped(line: str) -> bool:
    if line.rstrip().endswith((".", "?", "!")) and not _LABEL_ONLY.match(line):
        return False  # a sentence
    for part in line.split(" : "):
        if _LABEL_ONLY.match(part):
            continue
        m = _INSTRUCTION_SHAPE.match(part)
        if m is None or len(_LIST_COMMA.sub(",", m.group(1) or "").split()) > 3:
            return False
    return True


def _fenced(name: str, value: str) -> Iterator[Block]:
    for m in _FENCE.finditer(value):
        lang = m.group(3).lower()
        if lang not in ASM_FENCE_LANGS:
            continue
        first = value.count("\n", 0, m.start(4)) + 1
        yield Block(name, m.group(4), first, True)


def sample_id(record: dict, index: int) -> str:
    """The id a sample is known by (sample_id, id or its position in the input)."""
    for key in ("sample_id", "id"):
        value = record.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    return f"#{index}"


def summary(sample: str, diagnostics: list[Diagnostic], lines: int, checked: list[Block]) -> dict:
    """The `asm_summary` record `hafs score` reads for one sample."""
    counts = {ERROR: 0, WARNING: 0, INFO: 0}
    codes: dict[str, int] = {}
    for d in diagnostics:
        counts[d.severity] = counts.get(d.severity, 0) + 1
        if d.severity == ERROR:
            codes[d.code] = codes.get(d.code, 0) + 1
    return {
        "kind": "asm_summary",
        "sample": sample,
        "checked": bool(checked),
        "valid": counts[ERROR] == 0,
        "blocks": len(checked),
        "fields": sorted({b.field for b in checked}),
        "lines": lines,
        "errors": counts[ERROR],
        "warnings": counts[WARNING],
        "infos": counts[INFO],
        "error_codes": codes,
    }
