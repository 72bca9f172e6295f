"""asar directives: the names, and the argument checks the validator can make without assembling."""

from __future__ import annotations

import re

from hafs_cli.asm.expr import syntax_error
from hafs_cli.asm.operands import split_args

# Directives that take nothing, a free-form argument, or are handled by the validator itself.
NO_ARGS = frozenset(
    [
        "lorom",
        "hirom",
        "exlorom",
        "exhirom",
        "fullsa1rom",
        "sfxrom",
        "norom",
        "pushpc",
        "pullpc",
        "pushbase",
        "pullbase",
        "pushns",
        "pullns",
        "pushtable",
        "pulltable",
        "cleartable",
        "endmacro",
        "endstruct",
        "endif",
        "else",
        "endwhile",
        "endfor",
        "includeonce",
        "header",
    ]
)
FREE_FORM = frozenset(
    [
        "endspcblock",
        "print",
        "warn",
        "error",
        "assert",
        "namespace",
        "check",
        "math",
        "arch",
        "optimize",
        "bank",
        "warnings",
        "freespace",
        "freecode",
        "freedata",
        "sa1rom",
        "macro",
        "struct",
        "function",
        "undef",
        "global",
        "spcblock",
        "startpos",
        "table",
        "incsrc",
        "incbin",
        "include",
        "includefrom",
        "@asar",
        "@include",
        "@includefrom",
        "@xkas",
        "asar",
        "xkas",
        "reset",
        "prot",
        "autoclear",
        "freespaceuse",
        "bankcross",
        "segment",
        "if",
        "elseif",
        "while",
        "for",
        "rep",
        "autoclean",
        "db",
        "dw",
        "dl",
        "dd",
        "skip",
    ]
)
ONE_EXPRESSION = frozenset(
    [
        "org",
        "base",
        "warnpc",
        "fill",
        "fillbyte",
        "fillword",
        "filllong",
        "filldword",
        "pad",
        "padbyte",
        "padword",
        "padlong",
        "paddword",
        "dpbase",
        "freespacebyte",
        "align",
    ]
)
DATA = frozenset(("db", "dw", "dl", "dd"))
ALL = NO_ARGS | FREE_FORM | ONE_EXPRESSION
BLOCK_OPENERS = {
    "if": "endif",
    "while": "endwhile",
    "for": "endfor",
    "struct": "endstruct",
    "spcblock": "endspcblock",
}

_ARCHES = frozenset(("65816", "spc700", "spc700-inline", "spc700-raw", "superfx"))
_ON_OFF = frozenset(("on", "off"))


def check(name: str, args: str) -> str | None:
    """Why a directive's arguments are wrong, or None. `name` is lower case."""
    if name in NO_ARGS:
        if args and name not in ("endstruct", "header"):
            return f"'{name}' takes no arguments"
        return None
    if name in ONE_EXPRESSION:
        if not args:
            return f"'{name}' needs an address or value"
        if name == "base" and args.lower() == "off":
            return None
        if name == "fill" and args.lower().startswith("align"):
            return None
        err = syntax_error(args) if "," not in args else None
        return f"{name} {args}: {err}" if err else None
    if name in DATA:
        return _check_data(name, args)
    if name == "skip":
        if not args:
            return "'skip' needs a byte count (or 'align N')"
        if args.lower().startswith("align"):
            return None
        err = syntax_error(args)
        return f"skip {args}: {err}" if err else None
    if name == "arch":
        return (
            None
            if args.lower() in _ARCHES
            else f"unknown arch '{args}' (65816, spc700, spc700-inline, superfx)"
        )
    if name == "math":
        words = args.lower().split()
        if len(words) == 2 and words[0] in ("pri", "round") and words[1] in _ON_OFF:
            return None
        return f"'math {args}': expected 'math pri on|off' or 'math round on|off'"
    if (
        name in ("incsrc", "incbin", "table", "include", "includefrom")
        and not args
        and name != "include"
    ):
        return f"'{name}' needs a file name"
    if (
        name in ("print", "warn", "error", "assert", "rep", "if", "elseif", "while", "for")
        and not args
    ):
        if name in ("print", "warn", "error"):
            return None if name != "print" else "'print' needs something to print"
        return f"'{name}' needs {'a condition' if name != 'rep' else 'a count'}"
    if name == "rep" and args:
        err = syntax_error(args)
        return f"rep {args}: {err}" if err else None
    if name == "autoclean" and not args:
        return "'autoclean' needs an instruction or data directive after it"
    return None


def _check_data(name: str, args: str) -> str | None:
    if not args:
        return f"'{name}' needs at least one value"
    parts = split_args(args)
    for i, part in enumerate(parts):
        item = part.strip()
        if not item:
            return f"{name} {args}: {'trailing comma' if i == len(parts) - 1 else 'empty value'}"
        if item[0] == '"':
            if len(item) < 2 or not item.endswith('"'):
                return f"{name} {args}: unterminated string"
            continue
        err = syntax_error(item)
        if err:
            return f"{name} {args}: {err}"
    return None


_QUOTED = re.compile(r'"([^"]*)"')


def file_argument(name: str, args: str) -> str | None:
    """The file an incsrc/incbin/table/includefrom names (without ranges, `-> label`, options)."""
    m = _QUOTED.match(args)
    if m:
        return m.group(1)
    text = args.split("->")[0].strip()
    if name == "table":
        text = text.split(",")[0].strip()
    return text.split()[0] if text else None
