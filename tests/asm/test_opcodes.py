"""The instruction table against two independent sources: the datasheet matrix and 64tass."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hafs_cli.asm import INSTRUCTIONS, datasheet_mode, opcode_map
from hafs_cli.asm import opcodes as op

# The W65C816S datasheet's opcode matrix, typed row by row (high nibble = row,
# low nibble = column) in the datasheet's own operand notation. This is deliberately a
# different representation from hafs_cli/asm/opcodes.py, which is keyed by mnemonic.
MATRIX = """
0 | BRK s     | ORA (d,x) | COP s     | ORA d,s     | TSB d     | ORA d     | ASL d     | ORA [d]     | PHP s | ORA #     | ASL A | PHD s | TSB a      | ORA a   | ASL a   | ORA al
1 | BPL r     | ORA (d),y | ORA (d)   | ORA (d,s),y | TRB d     | ORA d,x   | ASL d,x   | ORA [d],y   | CLC i | ORA a,y   | INC A | TCS i | TRB a      | ORA a,x | ASL a,x | ORA al,x
2 | JSR a     | AND (d,x) | JSL al    | AND d,s     | BIT d     | AND d     | ROL d     | AND [d]     | PLP s | AND #     | ROL A | PLD s | BIT a      | AND a   | ROL a   | AND al
3 | BMI r     | AND (d),y | AND (d)   | AND (d,s),y | BIT d,x   | AND d,x   | ROL d,x   | AND [d],y   | SEC i | AND a,y   | DEC A | TSC i | BIT a,x    | AND a,x | ROL a,x | AND al,x
4 | RTI s     | EOR (d,x) | WDM i     | EOR d,s     | MVP xyc   | EOR d     | LSR d     | EOR [d]     | PHA s | EOR #     | LSR A | PHK s | JMP a      | EOR a   | LSR a   | EOR al
5 | BVC r     | EOR (d),y | EOR (d)   | EOR (d,s),y | MVN xyc   | EOR d,x   | LSR d,x   | EOR [d],y   | CLI i | EOR a,y   | PHY s | TCD i | JML al     | EOR a,x | LSR a,x | EOR al,x
6 | RTS s     | ADC (d,x) | PER s     | ADC d,s     | STZ d     | ADC d     | ROR d     | ADC [d]     | PLA s | ADC #     | ROR A | RTL s | JMP (a)    | ADC a   | ROR a   | ADC al
7 | BVS r     | ADC (d),y | ADC (d)   | ADC (d,s),y | STZ d,x   | ADC d,x   | ROR d,x   | ADC [d],y   | SEI i | ADC a,y   | PLY s | TDC i | JMP (a,x)  | ADC a,x | ROR a,x | ADC al,x
8 | BRA r     | STA (d,x) | BRL rl    | STA d,s     | STY d     | STA d     | STX d     | STA [d]     | DEY i | BIT #     | TXA i | PHB s | STY a      | STA a   | STX a   | STA al
9 | BCC r     | STA (d),y | STA (d)   | STA (d,s),y | STY d,x   | STA d,x   | STX d,y   | STA [d],y   | TYA i | STA a,y   | TXS i | TXY i | STZ a      | STA a,x | STZ a,x | STA al,x
A | LDY #     | LDA (d,x) | LDX #     | LDA d,s     | LDY d     | LDA d     | LDX d     | LDA [d]     | TAY i | LDA #     | TAX i | PLB s | LDY a      | LDA a   | LDX a   | LDA al
B | BCS r     | LDA (d),y | LDA (d)   | LDA (d,s),y | LDY d,x   | LDA d,x   | LDX d,y   | LDA [d],y   | CLV i | LDA a,y   | TSX i | TYX i | LDY a,x    | LDA a,x | LDX a,y | LDA al,x
C | CPY #     | CMP (d,x) | REP #     | CMP d,s     | CPY d     | CMP d     | DEC d     | CMP [d]     | INY i | CMP #     | DEX i | WAI i | CPY a      | CMP a   | DEC a   | CMP al
D | BNE r     | CMP (d),y | CMP (d)   | CMP (d,s),y | PEI s     | CMP d,x   | DEC d,x   | CMP [d],y   | CLD i | CMP a,y   | PHX s | STP i | JML (a)    | CMP a,x | DEC a,x | CMP al,x
E | CPX #     | SBC (d,x) | SEP #     | SBC d,s     | CPX d     | SBC d     | INC d     | SBC [d]     | INX i | SBC #     | NOP i | XBA i | CPX a      | SBC a   | INC a   | SBC al
F | BEQ r     | SBC (d),y | SBC (d)   | SBC (d,s),y | PEA s     | SBC d,x   | INC d,x   | SBC [d],y   | SED i | SBC a,y   | PLX s | XCE i | JSR (a,x)  | SBC a,x | INC a,x | SBC al,x
"""

# datasheet notation -> operand syntax of the table (stack ops use their written form)
NOTATION = {
    "#": {op.IMM, op.IMM8},
    "i": {op.IMP},
    "s": {
        op.IMP,
        op.IMM8,
        op.ABS,
        op.DP_IND,
        op.REL16,
    },  # stack: push/pull/rt*, BRK/COP, PEA, PEI, PER
    "A": {op.ACC},
    "r": {op.REL8},
    "rl": {op.REL16},
    "d": {op.DP},
    "a": {op.ABS},
    "al": {op.LONG},
    "d,x": {op.DP_X},
    "a,x": {op.ABS_X},
    "al,x": {op.LONG_X},
    "d,y": {op.DP_Y},
    "a,y": {op.ABS_Y},
    "(d)": {op.DP_IND},
    "[d]": {op.DP_IND_LONG},
    "(d,x)": {op.DP_X_IND},
    "(d),y": {op.DP_IND_Y},
    "[d],y": {op.DP_IND_LONG_Y},
    "d,s": {op.SR},
    "(d,s),y": {op.SR_IND_Y},
    "(a)": {op.ABS_IND, op.ABS_IND_LONG},  # JMP (a) and JML (a) -- the datasheet writes [a] as (a)
    "(a,x)": {op.ABS_X_IND},
    "xyc": {op.BLOCK},
}
NOTATION["i"] |= {op.IMM8}  # WDM: the datasheet lists it as implied, asar gives it a signature byte


def _matrix() -> dict[int, tuple[str, str]]:
    cells: dict[int, tuple[str, str]] = {}
    for row in MATRIX.strip().splitlines():
        high, *columns = (c.strip() for c in row.split("|"))
        assert len(columns) == 16, row
        for low, cell in enumerate(columns):
            mnemonic, notation = cell.split(" ", 1)
            cells[int(high, 16) * 16 + low] = (mnemonic, notation.strip())
    return cells


def test_the_matrix_has_every_opcode_once():
    assert sorted(_matrix()) == list(range(256))


def test_table_has_256_opcodes_92_mnemonics_24_datasheet_modes():
    table = opcode_map()
    assert len(table) == 256
    assert len(INSTRUCTIONS) == 92
    assert len({datasheet_mode(m, s) for m, s in table.values()}) == 24


@pytest.mark.parametrize("opcode", range(256), ids=lambda o: f"${o:02X}")
def test_each_opcode_matches_the_datasheet_matrix(opcode):
    mnemonic, notation = _matrix()[opcode]
    table_mnemonic, syntax = opcode_map()[opcode]
    assert table_mnemonic == mnemonic
    assert syntax in NOTATION[notation], f"${opcode:02X}: {mnemonic} {notation} vs table {syntax}"


def test_no_mnemonic_has_a_form_the_matrix_lacks():
    matrix = {(m, n) for m, n in _matrix().values()}
    for mnemonic, modes in INSTRUCTIONS.items():
        for syntax in modes:
            if mnemonic == "JMP" and syntax == op.ABS_IND_LONG:
                assert ("JML", "(a)") in matrix  # asar's JMP [addr] alias of JML [addr] ($DC)
                continue
            assert any(m == mnemonic and syntax in NOTATION[n] for m, n in matrix), (
                mnemonic,
                syntax,
            )


# -- a real assembler: 64tass must produce the same opcode byte for every form ----------

_64TASS_OPERAND = {
    op.IMP: "",
    op.ACC: "a",
    op.IMM: "#$12",
    op.IMM8: "#$12",
    op.DP: "$12",
    op.ABS: "$1234",
    op.LONG: "$123456",
    op.DP_X: "$12,x",
    op.ABS_X: "$1234,x",
    op.LONG_X: "$123456,x",
    op.DP_Y: "$12,y",
    op.ABS_Y: "$1234,y",
    op.DP_IND: "($12)",
    op.DP_IND_LONG: "[$12]",
    op.DP_X_IND: "($12,x)",
    op.DP_IND_Y: "($12),y",
    op.DP_IND_LONG_Y: "[$12],y",
    op.SR: "$12,s",
    op.SR_IND_Y: "($12,s),y",
    op.ABS_IND: "($1234)",
    op.ABS_IND_LONG: "[$1234]",
    op.ABS_X_IND: "($1234,x)",
    op.REL8: "*+2",
    op.REL16: "*+3",
    op.BLOCK: "$01,$02",
}


@pytest.mark.skipif(
    shutil.which("64tass") is None, reason="64tass is not installed (apt-get install 64tass)"
)
def test_64tass_assembles_every_form_to_the_same_opcode(tmp_path):
    forms = [(opcode, m, s) for opcode, (m, s) in sorted(opcode_map().items())]
    lines = [' .cpu "65816"', " .as", " .xs", "* = $8000"]
    for _opcode, mnemonic, syntax in forms:
        lines.append(f" {mnemonic.lower()} {_64TASS_OPERAND[syntax]}".rstrip())
        lines.append(" .byte $ff, $ff, $ff, $ff")  # a fence so each instruction can be found
    src = tmp_path / "all.s"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "all.bin"
    run = subprocess.run(
        ["64tass", "--quiet", "--nostart", "-b", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    data = out.read_bytes()
    pos = 0
    for opcode, mnemonic, syntax in forms:
        assert data[pos] == opcode, (
            f"{mnemonic} {syntax}: 64tass gave ${data[pos]:02X}, table says ${opcode:02X}"
        )
        pos = data.index(b"\xff\xff\xff\xff", pos + 1) + 4
