"""The W65C816S instruction set: every opcode with its mnemonic and addressing mode.

One table, keyed by mnemonic. Each entry maps an operand *syntax* (what the source
looks like, with its operand width) to the opcode byte. ``DATASHEET_MODE`` names the
WDC datasheet's 24 addressing modes for each syntax.
"""

from __future__ import annotations

# Operand syntaxes.  Width (operand bytes) is implied by the name.
IMP = "imp"  # no operand (implied, stack push/pull, returns)
ACC = "acc"  # accumulator: `ASL` or `ASL A`
IMM = "imm"  # #const, 8 or 16 bits depending on M or X
IMM8 = "imm8"  # #const, always 8 bits (REP, SEP, BRK, COP, WDM signature)
DP = "dp"  # d
ABS = "abs"  # a
LONG = "long"  # al
DP_X = "dp_x"  # d,x
ABS_X = "abs_x"  # a,x
LONG_X = "long_x"  # al,x
DP_Y = "dp_y"  # d,y
ABS_Y = "abs_y"  # a,y
DP_IND = "dp_ind"  # (d)
DP_IND_LONG = "dp_ind_long"  # [d]
DP_X_IND = "dp_x_ind"  # (d,x)
DP_IND_Y = "dp_ind_y"  # (d),y
DP_IND_LONG_Y = "dp_ind_long_y"  # [d],y
SR = "sr"  # d,s
SR_IND_Y = "sr_ind_y"  # (d,s),y
ABS_IND = "abs_ind"  # (a)
ABS_IND_LONG = "abs_ind_long"  # [a]
ABS_X_IND = "abs_x_ind"  # (a,x)
REL8 = "rel8"  # r
REL16 = "rel16"  # rl
BLOCK = "block"  # srcbank,destbank

#: operand bytes for each syntax
OPERAND_BYTES = {
    IMP: 0,
    ACC: 0,
    IMM: 1,  # 2 when the register is 16 bits wide
    IMM8: 1,
    DP: 1,
    ABS: 2,
    LONG: 3,
    DP_X: 1,
    ABS_X: 2,
    LONG_X: 3,
    DP_Y: 1,
    ABS_Y: 2,
    DP_IND: 1,
    DP_IND_LONG: 1,
    DP_X_IND: 1,
    DP_IND_Y: 1,
    DP_IND_LONG_Y: 1,
    SR: 1,
    SR_IND_Y: 1,
    ABS_IND: 2,
    ABS_IND_LONG: 2,
    ABS_X_IND: 2,
    REL8: 1,
    REL16: 2,
    BLOCK: 2,
}

#: how each syntax is written, for messages and suggestions
SYNTAX_EXAMPLE = {
    IMP: "(no operand)",
    ACC: "A",
    IMM: "#const",
    IMM8: "#const8",
    DP: "dp",
    ABS: "addr",
    LONG: "long",
    DP_X: "dp,X",
    ABS_X: "addr,X",
    LONG_X: "long,X",
    DP_Y: "dp,Y",
    ABS_Y: "addr,Y",
    DP_IND: "(dp)",
    DP_IND_LONG: "[dp]",
    DP_X_IND: "(dp,X)",
    DP_IND_Y: "(dp),Y",
    DP_IND_LONG_Y: "[dp],Y",
    SR: "sr,S",
    SR_IND_Y: "(sr,S),Y",
    ABS_IND: "(addr)",
    ABS_IND_LONG: "[addr]",
    ABS_X_IND: "(addr,X)",
    REL8: "label",
    REL16: "label (long branch)",
    BLOCK: "srcbank,destbank",
}

# The datasheet's own mode names (WDC W65C816S, table "Addressing Mode Summary").
STACK = "Stack"
_DATASHEET_BY_SYNTAX = {
    IMP: "Implied",
    ACC: "Accumulator",
    IMM: "Immediate",
    IMM8: "Immediate",
    DP: "Direct",
    ABS: "Absolute",
    LONG: "Absolute Long",
    DP_X: "Direct Indexed with X",
    ABS_X: "Absolute Indexed with X",
    LONG_X: "Absolute Long Indexed with X",
    DP_Y: "Direct Indexed with Y",
    ABS_Y: "Absolute Indexed with Y",
    DP_IND: "Direct Indirect",
    DP_IND_LONG: "Direct Indirect Long",
    DP_X_IND: "Direct Indexed Indirect",
    DP_IND_Y: "Direct Indirect Indexed",
    DP_IND_LONG_Y: "Direct Indirect Long Indexed",
    SR: "Stack Relative",
    SR_IND_Y: "Stack Relative Indirect Indexed",
    ABS_IND: "Absolute Indirect",
    ABS_IND_LONG: "Absolute Indirect",
    ABS_X_IND: "Absolute Indexed Indirect",
    REL8: "Program Counter Relative",
    REL16: "Program Counter Relative Long",
    BLOCK: "Block Move",
}

# Instructions the datasheet files under "Stack" whatever their operand looks like.
_STACK_MNEMONICS = frozenset(
    [
        "BRK",
        "COP",
        "PEA",
        "PEI",
        "PER",
        "PHA",
        "PHB",
        "PHD",
        "PHK",
        "PHP",
        "PHX",
        "PHY",
        "PLA",
        "PLB",
        "PLD",
        "PLP",
        "PLX",
        "PLY",
        "RTI",
        "RTL",
        "RTS",
    ]
)

_ALU = {  # ORA AND EOR ADC STA LDA CMP SBC share one layout; base is the (d,x) opcode
    DP_X_IND: 0x01,
    SR: 0x03,
    DP: 0x05,
    DP_IND_LONG: 0x07,
    IMM: 0x09,
    ABS: 0x0D,
    LONG: 0x0F,
    DP_IND_Y: 0x11,
    DP_IND: 0x12,
    SR_IND_Y: 0x13,
    DP_X: 0x15,
    DP_IND_LONG_Y: 0x17,
    ABS_Y: 0x19,
    ABS_X: 0x1D,
    LONG_X: 0x1F,
}


def _alu(base: int, *, store: bool = False) -> dict[str, int]:
    return {mode: base + off - 0x01 for mode, off in _ALU.items() if not (store and mode == IMM)}


def _shift(base: int, acc: int) -> dict[str, int]:
    # ASL ROL LSR ROR (and the same layout for INC/DEC memory forms)
    return {ACC: acc, DP: base, ABS: base + 0x08, DP_X: base + 0x10, ABS_X: base + 0x18}


#: mnemonic -> {operand syntax: opcode}
INSTRUCTIONS: dict[str, dict[str, int]] = {
    "ORA": _alu(0x01),
    "AND": _alu(0x21),
    "EOR": _alu(0x41),
    "ADC": _alu(0x61),
    "STA": _alu(0x81, store=True),
    "LDA": _alu(0xA1),
    "CMP": _alu(0xC1),
    "SBC": _alu(0xE1),
    "ASL": _shift(0x06, 0x0A),
    "ROL": _shift(0x26, 0x2A),
    "LSR": _shift(0x46, 0x4A),
    "ROR": _shift(0x66, 0x6A),
    "DEC": {ACC: 0x3A, DP: 0xC6, ABS: 0xCE, DP_X: 0xD6, ABS_X: 0xDE},
    "INC": {ACC: 0x1A, DP: 0xE6, ABS: 0xEE, DP_X: 0xF6, ABS_X: 0xFE},
    "BIT": {IMM: 0x89, DP: 0x24, ABS: 0x2C, DP_X: 0x34, ABS_X: 0x3C},
    "TSB": {DP: 0x04, ABS: 0x0C},
    "TRB": {DP: 0x14, ABS: 0x1C},
    "STZ": {DP: 0x64, ABS: 0x9C, DP_X: 0x74, ABS_X: 0x9E},
    "STX": {DP: 0x86, ABS: 0x8E, DP_Y: 0x96},
    "STY": {DP: 0x84, ABS: 0x8C, DP_X: 0x94},
    "LDX": {IMM: 0xA2, DP: 0xA6, ABS: 0xAE, DP_Y: 0xB6, ABS_Y: 0xBE},
    "LDY": {IMM: 0xA0, DP: 0xA4, ABS: 0xAC, DP_X: 0xB4, ABS_X: 0xBC},
    "CPX": {IMM: 0xE0, DP: 0xE4, ABS: 0xEC},
    "CPY": {IMM: 0xC0, DP: 0xC4, ABS: 0xCC},
    "BPL": {REL8: 0x10},
    "BMI": {REL8: 0x30},
    "BVC": {REL8: 0x50},
    "BVS": {REL8: 0x70},
    "BRA": {REL8: 0x80},
    "BCC": {REL8: 0x90},
    "BCS": {REL8: 0xB0},
    "BNE": {REL8: 0xD0},
    "BEQ": {REL8: 0xF0},
    "BRL": {REL16: 0x82},
    "PER": {REL16: 0x62},
    "PEA": {ABS: 0xF4},
    "PEI": {DP_IND: 0xD4},
    "JMP": {ABS: 0x4C, ABS_IND: 0x6C, ABS_X_IND: 0x7C, ABS_IND_LONG: 0xDC},
    "JML": {LONG: 0x5C, ABS_IND_LONG: 0xDC},
    "JSR": {ABS: 0x20, ABS_X_IND: 0xFC},
    "JSL": {LONG: 0x22},
    "BRK": {IMM8: 0x00},
    "COP": {IMM8: 0x02},
    "WDM": {IMM8: 0x42},
    "REP": {IMM8: 0xC2},
    "SEP": {IMM8: 0xE2},
    "MVP": {BLOCK: 0x44},
    "MVN": {BLOCK: 0x54},
}

_IMPLIED = {
    "PHP": 0x08, "PHD": 0x0B, "CLC": 0x18, "TCS": 0x1B, "PLP": 0x28, "PLD": 0x2B,
    "SEC": 0x38, "TSC": 0x3B, "RTI": 0x40, "PHA": 0x48, "PHK": 0x4B, "CLI": 0x58,
    "PHY": 0x5A, "TCD": 0x5B, "RTS": 0x60, "PLA": 0x68, "RTL": 0x6B, "SEI": 0x78,
    "PLY": 0x7A, "TDC": 0x7B, "DEY": 0x88, "TXA": 0x8A, "PHB": 0x8B, "TYA": 0x98,
    "TXS": 0x9A, "TXY": 0x9B, "TAY": 0xA8, "TAX": 0xAA, "PLB": 0xAB, "CLV": 0xB8,
    "TSX": 0xBA, "TYX": 0xBB, "INY": 0xC8, "DEX": 0xCA, "WAI": 0xCB, "CLD": 0xD8,
    "PHX": 0xDA, "STP": 0xDB, "INX": 0xE8, "NOP": 0xEA, "XBA": 0xEB, "SED": 0xF8,
    "PLX": 0xFA, "XCE": 0xFB,
}  # fmt: skip
for _mnemonic, _opcode in _IMPLIED.items():
    INSTRUCTIONS[_mnemonic] = {IMP: _opcode}

#: asar's repetition shorthand (`INX #2` assembles INX twice) applies to these
REPEATABLE = frozenset(
    ["ASL", "LSR", "ROL", "ROR", "INC", "DEC", "INX", "INY", "DEX", "DEY", "NOP"]
)

#: branches whose operand is a relative target
BRANCHES = frozenset(m for m, modes in INSTRUCTIONS.items() if REL8 in modes or REL16 in modes)

#: instructions whose immediate follows the accumulator width (M flag)
IMM_FOLLOWS_M = frozenset(["ORA", "AND", "EOR", "ADC", "LDA", "CMP", "SBC", "BIT"])
#: instructions whose immediate follows the index width (X flag)
IMM_FOLLOWS_X = frozenset(["LDX", "LDY", "CPX", "CPY"])


def opcode_map() -> dict[int, tuple[str, str]]:
    """Opcode byte -> (mnemonic, operand syntax); the JMP/JML [a] alias is listed once (JML)."""
    out: dict[int, tuple[str, str]] = {}
    for mnemonic, modes in INSTRUCTIONS.items():
        for syntax, opcode in modes.items():
            if mnemonic == "JMP" and syntax == ABS_IND_LONG:
                continue  # asar's alias for JML [addr]
            out[opcode] = (mnemonic, syntax)
    return out


def datasheet_mode(mnemonic: str, syntax: str) -> str:
    """The datasheet's addressing-mode name for one instruction form."""
    if mnemonic in _STACK_MNEMONICS:
        return STACK
    return _DATASHEET_BY_SYNTAX[syntax]


def legal_forms(mnemonic: str) -> list[str]:
    """Human-readable operand forms of one mnemonic, e.g. ['#const', 'dp', 'addr', ...]."""
    modes = INSTRUCTIONS[mnemonic.upper()]
    return [SYNTAX_EXAMPLE[m] for m in modes]
