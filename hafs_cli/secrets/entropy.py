"""How random a string looks: Shannon entropy and the habits of made-up values."""

from __future__ import annotations

import math
import re
from collections import Counter

_WORDISH_PART = re.compile(r"[A-Za-z]+|[0-9]+")
_RUN = re.compile(r"(.)\1{5,}")
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "9876543210", "qwertyuiop", "asdfghjkl")


def shannon(value: str) -> float:
    """Bits per character of `value`'s own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_hex(value: str) -> bool:
    return bool(value) and all(c in "0123456789abcdefABCDEF" for c in value)


def looks_random(value: str, min_length: int = 16, min_entropy: float = 3.5) -> bool:
    """True for values a machine made up: long, varied, not words, not a pattern.

    Hex-only values get a lower entropy bar (16 symbols cap them at 4 bits).
    """
    if len(value) < min_length or looks_patterned(value):
        return False
    if is_hex(value):
        return shannon(value) >= min(3.0, min_entropy) and _has_digit_and_letter(value)
    if shannon(value) < min_entropy:
        return False
    return not looks_like_words(value)


def _has_digit_and_letter(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def looks_patterned(value: str) -> bool:
    """Runs of one character (xxxxxx, 000000) or keyboard/alphabet sequences."""
    if _RUN.search(value):
        return True
    low = value.lower()
    return any(seq[i : i + 8] in low for seq in _SEQUENCES for i in range(len(seq) - 7))


def looks_like_words(value: str) -> bool:
    """Separated words or camel-case words (this-is-a-secret, MyDatabasePassword)."""
    parts = [p for p in re.split(r"[-_./:\s]+", value) if p]
    if len(parts) >= 2 and all(
        p.isalpha() and (p.islower() or p.isupper() or p.istitle()) for p in parts
    ):
        return True
    if value.isalpha():
        humps = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", value)
        return len(humps) <= max(2, len(value) // 5) and all(len(h) >= 3 for h in humps)
    return False
