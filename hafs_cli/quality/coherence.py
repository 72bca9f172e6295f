"""Coherence: does the explanation cover its routine, at a sane length, without looping?"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hafs_cli.quality.hwregs import REGISTERS
from hafs_cli.quality.text import CodeFacts

_STRUCTURE_WORDS = {
    "loop": re.compile(
        r"\b(loop\w*|iterat\w*|repeat\w*|until|each|counter|count(s|ing)? down)\b", re.I
    ),
    "condition": re.compile(
        r"\b(if|when|whether|unless|otherwise|else|branch\w*|skip\w*|check\w*|compar\w*|zero|"
        r"negative|carry|equal|set|clear)\b",
        re.I,
    ),
    "return": re.compile(r"\b(return\w*|RTS|RTL|RTI|exits?|ends?|finish\w*)\b", re.I),
    "call": re.compile(
        r"\b(call\w*|jump\w*|invok\w*|subroutine|JSR|JSL|JML|JMP|hands? off)\b", re.I
    ),
}
PARTS = {"coverage": 0.4, "structure": 0.2, "length": 0.2, "repetition": 0.2}


@dataclass
class Coherence:
    score: float
    words: int
    repetition: float
    parts: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def key_tokens(code: CodeFacts, routine: str | None) -> list[str]:
    """What an explanation of this routine should name: callees, registers, RAM symbols."""
    keys: list[str] = []
    for name in [*code.calls, *sorted(code.registers), *sorted(code.symbols)]:
        name = name.lstrip("!").split(",")[0]
        if name.startswith(".") or len(name) < 3 or name in keys or name == routine:
            continue
        keys.append(name)
    return keys[:12]


def _mentions(text_lower: str, token: str) -> bool:
    if token.lower() in text_lower:
        return True
    addr = REGISTERS.get(token)
    return addr is not None and f"${addr:04x}" in text_lower


def repetition_ratio(words: list[str], n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier one (0: none, near 1: degenerate)."""
    if len(words) < n + 4:
        return 0.0
    total = len(words) - n + 1
    distinct = len(set(zip(*(words[i : i + total] for i in range(n)), strict=True)))
    return 1.0 - distinct / total


def assess(
    prose: str,
    words: list[str],
    code: CodeFacts | None,
    routine: str | None,
    min_words: int,
    max_words: int,
) -> Coherence:
    """Coverage of key tokens and structure, length within bounds, repetition."""
    parts: dict[str, float] = {}
    missing: list[str] = []
    lower = prose.lower()
    if code is not None and code.instructions:
        keys = key_tokens(code, routine)
        if keys:
            missing = [k for k in keys if not _mentions(lower, k)]
            parts["coverage"] = 1.0 - len(missing) / len(keys)
        expected = []
        if code.backward_branches:
            expected.append("loop")
        if code.branches > code.backward_branches:
            expected.append("condition")
        if code.mnemonics["RTS"] or code.mnemonics["RTL"] or code.mnemonics["RTI"]:
            expected.append("return")
        if code.calls:
            expected.append("call")
        if expected:
            hit = sum(1 for e in expected if _STRUCTURE_WORDS[e].search(prose))
            parts["structure"] = hit / len(expected)
    n = len(words)
    if n < min_words:
        parts["length"] = n / min_words if min_words else 1.0
    elif max_words and n > max_words:
        parts["length"] = max_words / n
    else:
        parts["length"] = 1.0
    rep = repetition_ratio(words)
    parts["repetition"] = 1.0 - rep
    total = sum(PARTS[k] for k in parts)
    score = sum(PARTS[k] * v for k, v in parts.items()) / total
    return Coherence(score=score, words=n, repetition=rep, parts=parts, missing=missing)


def complexity(code: CodeFacts | None) -> dict:
    """Curriculum features and phase (easy, moderate, advanced) of a routine."""
    if code is None or not code.instructions:
        return {"instructions": 0, "branches": 0, "hw_registers": 0, "indirect": 0, "phase": None}
    points = 0
    points += 0 if code.instructions < 15 else 1 if code.instructions < 40 else 2
    points += 0 if not code.branches else 1 if code.branches <= 3 else 2
    regs = len(code.registers)
    points += 0 if not regs else 1 if regs < 3 else 2
    points += 2 if code.indirect else 0
    phase = "easy" if points <= 1 else "moderate" if points <= 3 else "advanced"
    return {
        "instructions": code.instructions,
        "branches": code.branches,
        "hw_registers": regs,
        "indirect": code.indirect,
        "phase": phase,
    }
