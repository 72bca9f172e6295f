"""The 65816 instruction set, as hafs_cli.asm defines it (one table for the whole project)."""

from __future__ import annotations

from hafs_cli.asm import INSTRUCTIONS as _INSTRUCTIONS

MNEMONICS: frozenset[str] = frozenset(_INSTRUCTIONS)
# Branches: the instructions with a PC-relative operand, except PER (it pushes an address).
BRANCHES: frozenset[str] = frozenset(
    m for m, modes in _INSTRUCTIONS.items() if ("rel8" in modes or "rel16" in modes) and m != "PER"
)
