"""Mutants of valid fixture lines: invalid ones asar rejects, and legal-but-odd ones it accepts.

Which forms an instruction has comes from the datasheet matrix typed in test_opcodes.py
(not from the validator's own table), with asar's widening rule: an operand narrower
than every form of its kind is widened (LDA $12,y assembles as LDA $0012,y).
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from pathlib import Path

from hafs_cli.asm.directives import ALL as DIRECTIVES

from .test_opcodes import _matrix

FIXTURE_FILES = ("bank00.asm", "bank01.asm", "tables.asm", "spc.asm", "idioms.asm", "generated")
LINE = re.compile(
    r"^[ \t]*(?:#?[A-Za-z_][A-Za-z0-9_]*:[ \t]*)?([A-Za-z]{3})(?:\.([bwlBWL]))?(?:[ \t]+([^;:!%<\"']+?))?[ \t]*(?:;.*)?$"
)

# datasheet notation -> (asar operand kind, operand bytes)
_NOTATION = {
    "#": ("imm", 2), "d": ("abs", 1), "a": ("abs", 2), "al": ("abs", 3), "d,x": ("x", 1),
    "a,x": ("x", 2), "al,x": ("x", 3), "d,y": ("y", 1), "a,y": ("y", 2), "(d)": ("ind", 1),
    "[d]": ("lind", 1), "(d,x)": ("xind", 1), "(d),y": ("indy", 1), "[d],y": ("lindy", 1),
    "d,s": ("s", 1), "(d,s),y": ("sy", 1), "(a)": ("ind", 2), "(a,x)": ("xind", 2),
    "A": ("a", 0), "i": ("imp", 0), "r": ("abs", 1), "rl": ("abs", 2), "xyc": ("mvn", 0),
}  # fmt: skip
_STACK_FORMS = {
    "PEA": ("abs", 2),
    "PEI": ("ind", 1),
    "PER": ("abs", 2),
    "BRK": ("imm", 1),
    "COP": ("imm", 1),
}
OPERANDS = {  # one literal operand of each kind and width
    ("imm", 1): "#$12", ("abs", 1): "$12", ("abs", 2): "$1234", ("abs", 3): "$7E1234",
    ("x", 1): "$12,x", ("x", 2): "$1234,x", ("x", 3): "$7E1234,x", ("y", 1): "$12,y",
    ("y", 2): "$1234,y", ("y", 3): "$7E1234,y", ("ind", 1): "($12)", ("ind", 2): "($1234)",
    ("lind", 1): "[$12]", ("xind", 1): "($12,x)", ("xind", 2): "($1234,x)", ("indy", 1): "($12),y",
    ("lindy", 1): "[$12],y", ("s", 1): "$03,s", ("sy", 1): "($03,s),y", ("a", 0): "A",
}  # fmt: skip
IMPOSSIBLE = ["[$12,x]", "($03,s),x", "($12,x),y", "[$12],x", "($12,y)", "[$12,y]"]
FOREIGN = ["BLT", "BGE", "BHS", "BLO", "DEA", "INA", "TAD", "TDA", "SWA", "PHZ", "PLZ", "TAZ", "TZA", "BBR0",
           "BBS7", "RMB0", "SMB3", "MOV", "LD", "ST", "PUSH", "POP", "LDZ", "STQ", "JPL", "CALL", "RET",
           "JMPL", "JSRL", "ADD", "SUB", "MUL", "CMPX", "LDAX", "BRZ", "INW", "NEG", "ASR", "BSR", "LEA"]  # fmt: skip
BAD_SUFFIXES = [".x", ".q", ".z", ".bw", ".lw", ".1", ".ww", ".d", ".s"]
REPEATABLE = {"ASL", "LSR", "ROL", "ROR", "INC", "DEC", "INX", "INY", "DEX", "DEY", "NOP"}
BRANCH = {"BCC", "BCS", "BEQ", "BNE", "BMI", "BPL", "BVC", "BVS", "BRA", "BRL", "PER"}


@functools.cache
def forms() -> dict[str, set[tuple[str, int]]]:
    """mnemonic -> {(kind, width)} from the datasheet matrix, plus asar's aliases."""
    out: dict[str, set[tuple[str, int]]] = {}
    for mnemonic, notation in _matrix().values():
        kind = _STACK_FORMS.get(mnemonic) if notation == "s" else _NOTATION[notation]
        if kind is not None:
            out.setdefault(mnemonic, set()).add(kind)
        if notation in ("s", "i", "A"):
            out.setdefault(mnemonic, set()).add(("imp", 0))
    out["JML"] = {("abs", 3), ("lind", 2)}  # the matrix writes JML [a] as (a)
    out["JMP"].add(("lind", 2))  # asar: JMP [a] is JML [a]
    out["WDM"].add(("imm", 1))
    for mnemonic in ("REP", "SEP"):
        out[mnemonic] = {("imm", 1)}
    return out


def legal(mnemonic: str, kind: str, width: int) -> bool:
    """asar accepts this literal operand (widening narrower ones)."""
    have = forms().get(mnemonic, set())
    if kind == "imm" and mnemonic in REPEATABLE:
        return True
    if mnemonic in BRANCH:
        return kind == "abs"
    return any(k == kind and w >= width for k, w in have) or (kind, width) in have


@dataclass
class Mutant:
    kind: str  # the mutation class
    line: str
    source: str  # the valid line it came from


def fixture_lines(root: Path) -> list[str]:
    """Instruction lines of the fixture corpus that hold no define, macro or string."""
    files: list[Path] = []
    for name in FIXTURE_FILES:
        p = root / name
        files += sorted(p.glob("*.asm")) if p.is_dir() else [p]
    out = []
    for f in files:
        arch65816 = True
        for raw in f.read_text().splitlines():
            low = raw.strip().lower()
            if low.startswith(("arch", "spcblock", "endspcblock")):
                arch65816 = low == "arch 65816" or low.startswith("endspcblock")
            if not arch65816 or " : " in raw:
                continue
            m = LINE.match(raw)
            if m and m.group(1).upper() in forms():
                out.append(raw.split(";")[0].rstrip())
    return out


def _split(line: str) -> tuple[str, str, str | None, str]:
    m = LINE.match(line)
    assert m is not None, line
    head = line[: m.start(1)]
    return head, m.group(1), m.group(2), (m.group(3) or "").strip()


def _join(head: str, mnemonic: str, suffix: str | None, operand: str) -> str:
    text = mnemonic + (f".{suffix}" if suffix else "")
    return f"{head}{text} {operand}".rstrip()


def invalid_mutants(lines: list[str], rng: random.Random, per_line: int = 1) -> list[Mutant]:
    out: list[Mutant] = []
    for line in lines:
        head, mnem, suffix, operand = _split(line)
        up = mnem.upper()
        makers = [_foreign, _lacking_mode, _bad_suffix, _malformed]
        if up in ("MVN", "MVP"):
            makers.append(_mvn_arity)
        rng.shuffle(makers)
        made = 0
        for maker in makers:
            got = maker(rng, head, up, suffix, operand)
            if got is not None:
                out.append(Mutant(maker.__name__.strip("_"), got, line))
                made += 1
                if made >= per_line:
                    break
    return out


def _foreign(rng, head, mnem, suffix, operand):  # noqa: ANN001, ANN202
    if rng.random() < 0.5:
        word = rng.choice(FOREIGN)
    else:
        while True:
            word = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3))
            if word not in forms() and word.lower() not in DIRECTIVES:
                break
    return _join(head, word, None, operand)


def _lacking_mode(rng, head, mnem, suffix, operand):  # noqa: ANN001, ANN202
    choices = [op for (kind, width), op in OPERANDS.items() if not legal(mnem, kind, width)]
    if mnem in ("BRK", "COP", "WDM", "PEA"):
        choices = [
            c for c in choices if not c.startswith("#") and not (c.startswith("$") and "," not in c)
        ]
    if mnem in ("MVN", "MVP", "REP"):
        return None  # REP without '#' is asar's `rep N` repeat directive
    choices += IMPOSSIBLE
    return _join(head, mnem, None, rng.choice(choices)) if choices else None


def _bad_suffix(rng, head, mnem, suffix, operand):  # noqa: ANN001, ANN202
    if not operand or operand.upper() == "A" or (operand.startswith("#") and mnem in REPEATABLE):
        # asar ignores a one-letter size on implied/accumulator forms: only a longer one fails
        return _join(head, mnem, rng.choice(["bw", "lw", "ww", "wb"]), operand)
    if rng.random() < 0.5:
        return _join(head, mnem, rng.choice(BAD_SUFFIXES)[1:], operand)
    if mnem in BRANCH:
        bad = "l" if mnem in ("BRL", "PER") else rng.choice(["w", "l"])
        return _join(head, mnem, bad, operand)
    widths = {w for k, w in forms()[mnem] if k == _kind_of(operand)}
    if _kind_of(operand) == "imm":
        widths = (
            {1, 2}
            if any(k == "imm" for k, _ in forms()[mnem])
            and mnem not in ("REP", "SEP", "BRK", "COP", "WDM")
            else {1}
        )
    missing = [s for s, w in (("b", 1), ("w", 2), ("l", 3)) if widths and w not in widths]
    if not missing or (mnem == "JMP" and missing == ["l"]):
        return _join(head, mnem, rng.choice(BAD_SUFFIXES)[1:], operand)
    return _join(head, mnem, rng.choice(missing), operand)


def _kind_of(operand: str) -> str:
    o = operand.replace(" ", "").lower()
    if o.startswith("#"):
        return "imm"
    if o.startswith("("):
        return (
            "sy"
            if o.endswith(",s),y")
            else "indy"
            if o.endswith("),y")
            else "xind"
            if o.endswith(",x)")
            else "ind"
        )
    if o.startswith("["):
        return "lindy" if o.endswith("],y") else "lind"
    return (
        "x" if o.endswith(",x") else "y" if o.endswith(",y") else "s" if o.endswith(",s") else "abs"
    )


def _malformed(rng, head, mnem, suffix, operand):  # noqa: ANN001, ANN202
    if not operand:
        return None
    options = []
    closers = [i for i, ch in enumerate(operand) if ch in ")]"]
    if closers:
        i = rng.choice(closers)
        options.append(operand[:i] + operand[i + 1 :])
    else:
        options.append("(" + operand)
    digits = [
        i
        for i in range(1, len(operand))
        if operand[i - 1] == "$" and operand[i] in "0123456789ABCDEFabcdef"
    ]
    if digits:
        i = rng.choice(digits)
        options.append(operand[: i + 1] + "G" + operand[i + 1 :])
    if operand.startswith("#"):
        options.append("#" + operand)
    options.append(operand + ",")
    if not re.fullmatch(r"[+-]+", operand):
        options.append(operand + "+")  # (BNE + then + would be the label ++)
    needs_operand = not any(k in ("imp", "a") for k, _ in forms()[mnem]) and mnem not in (
        "BRK",
        "COP",
        "WDM",
    )
    if needs_operand:
        options.append("")
    return _join(head, mnem, suffix, rng.choice(options))


def _mvn_arity(rng, head, mnem, suffix, operand):  # noqa: ANN001, ANN202
    return _join(head, mnem, suffix, rng.choice(["", operand + ",$00", "$01,$02,$03"]))


def odd_mutants(lines: list[str], rng: random.Random) -> list[Mutant]:
    """Forms asar accepts although they look wrong."""
    out: list[Mutant] = []
    for line in lines:
        head, mnem, suffix, operand = _split(line)
        up = mnem.upper()
        out.append(
            Mutant(
                "mixed-case",
                _join(
                    head, "".join(rng.choice((c.lower(), c.upper())) for c in mnem), suffix, operand
                ),
                line,
            )
        )
        if suffix:
            out.append(Mutant("suffix-case", _join(head, mnem, suffix.swapcase(), operand), line))
        kind = _kind_of(operand) if operand else None
        if (
            kind in ("abs", "x", "y")
            and up not in BRANCH
            and up not in ("JMP", "JSR", "JML", "JSL", "PEA")
        ):
            widths = sorted(w for k, w in forms()[up] if k == kind)
            if widths and widths[0] == 1 and len(widths) > 1:
                out.append(Mutant("truncating-suffix", _join(head, mnem, "b", operand), line))
        if up in REPEATABLE and not operand:
            out.append(
                Mutant("repeat-count", _join(head, mnem, None, f"#{rng.randint(1, 4)}"), line)
            )
        if operand and "," in operand and not operand.startswith(("(", "[")):
            base, index = operand.rsplit(",", 1)
            out.append(
                Mutant("spacing", _join(head, mnem, suffix, f"{base} ,  {index.upper()}"), line)
            )
        out.append(Mutant("comment", f"{line} ; note; with ; semicolons", line))
    for fixed in ("BRK", "COP", "WDM", "brk", "MVN $7E7F", "mvp $7F7E", "JML [$0003]", "JMP [$0003]",
                  "jmp [$1234]", "INX #2", "dey #3", "asl #2", "INC", "inc a", "LDA.b $123456",
                  "LDA.l $12", "STZ.b $1234", "LDA $12,y", "JMP ($12)", "lda #$12 : sta $00 : inx #2"):  # fmt: skip
        out.append(Mutant("fixed-odd-form", f"    {fixed}", fixed))
    return out
