"""The 65816 instruction set, as hafs_cli.asm defines it (one table for the whole project)."""

from __future__ import annotations

from hafs_cli.asm.opcodes import BRANCHES as _BRANCHES
from hafs_cli.asm.opcodes import INSTRUCTIONS as _INSTRUCTIONS

MNEMONICS: frozenset[str] = frozenset(_INSTRUCTIONS)
BRANCHES: frozenset[str] = frozenset(_BRANCHES)
