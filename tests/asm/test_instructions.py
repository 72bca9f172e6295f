"""Instruction-level verdicts: what asar accepts (even if odd) and what it rejects."""

from __future__ import annotations

import pytest

from hafs_cli.asm import legal_modes, validate_text

from .conftest import codes

ACCEPTED = [
    "INX #2",
    "inx #2",
    "DEY #3",
    "NOP #4",
    "ASL #2",
    "INC #2",
    "lda $00",
    "LdA $00",
    "lDa.W $0000",
    "BRK",
    "COP",
    "WDM",
    "BRK #$00",
    "COP #$12",
    "WDM #$01",
    "MVN $7E7F",
    "MVP $7F7E",
    "MVN $7E,$7F",
    "JML [$0003]",
    "JMP [$0003]",
    "JMP ($1234)",
    "JMP ($1234,x)",
    "JSR ($1234,x)",
    "JSL $008000",
    "JML $7E8000",
    "LDA.b $123456",
    "LDA.w $7E0010",
    "LDA.l $00",
    "lda.B #$1234",
    "ASL",
    "ASL A",
    "asl a",
    "INC A",
    "DEC",
    "LDA $12,y",
    "LDX $12,y",
    "LDX $1234,y",
    "STX $12,y",
    "LDY $1234,x",
    "STY $12,x",
    "STZ $1234,x",
    "LDA ($12)",
    "LDA [$12]",
    "LDA [$12],y",
    "LDA ($12),y",
    "LDA ($12,x)",
    "LDA $03,s",
    "LDA ($03,s),y",
    "LDA $123456,x",
    "PEI ($12)",
    "PEA $1234",
    "PER Label",
    "BRL Label",
    "BRA.b Label",
    "REP #$30",
    "SEP #%00110000",
    "LDA #'A'",
    "LDA #(1<<4)|2",
    "LDA.w #Label>>8",
    "LDA.b #bank(Label)",
    "LDA Table+2,x",
    "LDA.l Struct.field",
    "LDA Table[2].field,x",
    "LDA ($10+2)*2,x",
    "STA $0DBF|$6000",
    "LDA #0x12",
    "lda $00 ; comment ; with ; semicolons",
    "db ';', $00",
]


@pytest.mark.parametrize("line", ACCEPTED)
def test_asar_accepts(line):
    src = f"Label:\n    {line}\n"
    assert codes(src, severity=None) == []


REJECTED = [
    # mnemonics of other CPUs and invented ones
    ("BLT Label", "unknown-mnemonic"),
    ("BGE Label", "unknown-mnemonic"),
    ("DEA", "unknown-mnemonic"),
    ("INA", "unknown-mnemonic"),
    ("TAD", "unknown-mnemonic"),
    ("SWA", "unknown-mnemonic"),
    ("PHZ", "unknown-mnemonic"),
    ("TAZ", "unknown-mnemonic"),
    ("BBR0 $12,Label", "unknown-mnemonic"),
    ("RMB0 $12", "unknown-mnemonic"),
    ("MOV A, X", "unknown-mnemonic"),
    ("LD A, $12", "unknown-mnemonic"),
    ("PUSH A", "unknown-mnemonic"),
    ("LDZ #$00", "unknown-mnemonic"),
    ("JSRL Label", "unknown-mnemonic"),
    # addressing modes the instruction lacks
    ("STZ $7E0010", "bad-addressing-mode"),
    ("STX $7E0010", "bad-addressing-mode"),
    ("CPX $123456", "bad-addressing-mode"),
    ("STX $1234,y", "bad-addressing-mode"),
    ("LDY $1234,y", "bad-addressing-mode"),
    ("JSR ($1234)", "bad-addressing-mode"),
    ("STA #$12", "bad-addressing-mode"),
    ("LDA [$12,x]", "bad-addressing-mode"),
    ("LDA ($12,s),x", "bad-addressing-mode"),
    ("LDA ($12,x),y", "bad-addressing-mode"),
    ("LDA ($1234)", "bad-addressing-mode"),
    ("LDA $12,s,x", "malformed-operand"),
    ("STA $12,s,y", "malformed-operand"),
    ("TAX $12", "bad-addressing-mode"),
    ("RTS #1", "bad-addressing-mode"),
    ("LDA A", "bad-addressing-mode"),
    ("BRA ($1234)", "bad-addressing-mode"),
    ("PEI $12", "bad-addressing-mode"),
    ("MVN $7E0000,$7F0000", "bad-addressing-mode"),
    # size suffixes
    ("STZ.l $00", "bad-size-suffix"),
    ("LDA.x $12", "bad-size-suffix"),
    ("LDA.q $12", "bad-size-suffix"),
    ("LDA.bw $12", "bad-size-suffix"),
    ("JSR.l Label", "bad-size-suffix"),
    ("JSL.w Label", "bad-size-suffix"),
    ("REP.w #$30", "bad-size-suffix"),
    ("LDA.l #$12", "bad-size-suffix"),
    ("BNE.w Label", "bad-size-suffix"),
    ("BRA.l Label", "bad-size-suffix"),
    # immediates too wide for the instruction
    ("LDA #$123456", "immediate-width"),
    ("REP #$0030", "immediate-width"),
    ("SEP #$1234", "immediate-width"),
    # malformed operands
    ("LDA ($12", "malformed-operand"),
    ("LDA $12)", "malformed-operand"),
    ("LDA [$12", "malformed-operand"),
    ("LDA $12G4", "malformed-operand"),
    ("LDA #%0102", "malformed-operand"),
    ("LDA ##$12", "malformed-operand"),
    ("LDA $12,", "malformed-operand"),
    ("LDA #$12+", "malformed-operand"),
    ("LDA", "malformed-operand"),
    ("STA", "malformed-operand"),
    ("JSR", "malformed-operand"),
    ("LDA $", "malformed-operand"),
    ("LDA#$12", "malformed-operand"),
    # MVN/MVP arity
    ("MVN", "bad-operand-count"),
    ("MVN $7E,$7F,$00", "bad-operand-count"),
    ("MVP $01,$02,$03", "bad-operand-count"),
]


@pytest.mark.parametrize(("line", "code"), REJECTED)
def test_asar_rejects(line, code):
    src = f"Label:\n    {line}\n"
    assert codes(src) == [(2, code)]


def test_unknown_mnemonic_suggests_the_65816_equivalent():
    [d] = validate_text("    BLT Foo\n")
    assert d.suggestion == "the 65816 has no BLT; use BCC (branch if less than, unsigned)"
    [d] = validate_text("    DEA\n")
    assert "DEC A" in d.suggestion


def test_near_miss_mnemonic_gets_a_did_you_mean():
    [d] = validate_text("    LDAA $12\n")
    assert d.code == "unknown-mnemonic"
    assert d.suggestion.startswith("did you mean LDA")


def test_bad_mode_lists_the_legal_modes():
    [d] = validate_text("    STX $1234,y\n")
    assert d.suggestion == "STX takes: dp, addr, dp,Y"
    assert legal_modes("stx") == ["dp", "addr", "dp,Y"]


def test_diagnostic_record_has_position_and_text():
    [d] = validate_text("Main:\n    lda #$12 : blt Main\n", "x.asm")
    assert d.to_record() == {
        "kind": "asm_diag",
        "path": "x.asm",
        "line": 2,
        "column": 16,
        "severity": "error",
        "code": "unknown-mnemonic",
        "message": "'blt' is not a 65816 instruction or asar directive",
        "suggestion": "the 65816 has no BLT; use BCC (branch if less than, unsigned)",
        "text": "lda #$12 : blt Main",
    }


def test_parentheses_around_an_indexed_operand_are_only_a_warning():
    [d] = validate_text("    LDA ($12),x\n")
    assert (d.severity, d.code) == ("warning", "odd-operand")
    assert d.suggestion == "did you mean LDA ($12,x)?"
