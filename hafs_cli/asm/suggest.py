"""Did-you-mean for unknown mnemonics: the 65816 way to say what another CPU's mnemonic says."""

from __future__ import annotations

import difflib

from hafs_cli.asm import opcodes as op

#: mnemonics of other CPUs (or invented ones) with the 65816 way to say it
FOREIGN: dict[str, str] = {
    "BLT": "BCC (branch if less than, unsigned)",
    "BGE": "BCS (branch if greater or equal, unsigned)",
    "BHS": "BCS",
    "BLO": "BCC",
    "DEA": "DEC A",
    "INA": "INC A",
    "TAD": "TCD",
    "TDA": "TDC",
    "TAS": "TCS",
    "TSA": "TSC",
    "SWA": "XBA",
    "JMPL": "JML",
    "JSRL": "JSL",
    "JPL": "JML",
    "RTN": "RTS or RTL",
    "RET": "RTS or RTL",
    "CALL": "JSR or JSL",
    "JP": "JMP",
    "MOV": "LDA/STA (the 65816 moves through a register)",
    "LD": "LDA, LDX or LDY",
    "ST": "STA, STX or STY",
    "PUSH": "PHA, PHX, PHY, PHP, PHB, PHD or PHK",
    "POP": "PLA, PLX, PLY, PLP, PLB or PLD",
    "PHZ": "no Z register on the 65816 (use PEA $0000 or PHX/PHY)",
    "PLZ": "no Z register on the 65816",
    "TAZ": "no Z register on the 65816",
    "TZA": "no Z register on the 65816",
}
for _i in range(8):
    FOREIGN[f"BBR{_i}"] = "LDA dp : BIT #mask : BEQ label (no bit branches on the 65816)"
    FOREIGN[f"BBS{_i}"] = "LDA dp : BIT #mask : BNE label (no bit branches on the 65816)"
    FOREIGN[f"RMB{_i}"] = "LDA #mask : TRB dp (no RMB on the 65816)"
    FOREIGN[f"SMB{_i}"] = "LDA #mask : TSB dp (no SMB on the 65816)"


def suggest_mnemonic(word: str, extra: tuple[str, ...] = ()) -> str | None:
    """A did-you-mean for an unknown mnemonic."""
    up = word.upper()
    if up in FOREIGN:
        return f"the 65816 has no {up}; use {FOREIGN[up]}"
    close = difflib.get_close_matches(
        up, list(op.INSTRUCTIONS) + [e.upper() for e in extra], n=3, cutoff=0.6
    )
    if close:
        return (
            "did you mean "
            + " or ".join(c if c in op.INSTRUCTIONS else c.lower() for c in close)
            + "?"
        )
    return None
