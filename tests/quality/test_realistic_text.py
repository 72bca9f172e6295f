"""Hand-written explanations in the styles people and models really use: no false alarms.

Each correct text below phrases things differently from the generated corpus (RAM banks,
DMA registers by address, sublabels, defines, both widths, mirrors, cross-bank calls);
each wrong twin changes one fact and must be caught.
"""

from __future__ import annotations

import pytest

from hafs_cli.config import load_config
from hafs_cli.quality.kg import build_graph
from hafs_cli.quality.runner import asm_validator
from hafs_cli.quality.scoring import ScoreRun

BANK00 = """\
lorom
org $008000

; $00:8000
Vector_Reset:
{
    SEI : CLC : XCE
    REP #$30
    LDX.w #$01FF : TXS
    SEP #$30
    STZ.w $4200
    JSL Init_ClearWRAM
    JMP MainLoop
}

; $00:8034
MainLoop:
{
    LDA.b !FrameDone : BEQ MainLoop
    STZ.b !FrameDone
    JSR Module_Dispatch
    BRA MainLoop
}

; $00:8050
Module_Dispatch:
{
    LDA.b GameMode : ASL : TAX
    JMP (.modules,X)

.modules
    dw Module00_Intro, Module01_FileSelect
}

; $00:8060
Module00_Intro:
    RTS

; $00:8061
Module01_FileSelect:
    RTS

; $00:8100
NMI_UploadPalette:
{
    PHB : PHK : PLB
    REP #$20
    LDA.w #$2200 : STA.w $4300      ; A->B, one register, to CGDATA
    LDA.w #PaletteBuffer : STA.w $4302
    LDX.b #PaletteBuffer>>16 : STX.w $4304
    LDA.w #$0200 : STA.w $4305
    SEP #$20
    STZ.w $2121
    LDA.b #$01 : STA.w $420B
    PLB
    RTL
}
"""
BANK0D = """\
org $0D8000
; $0D:8000
Init_ClearWRAM:
{
    REP #$30
    LDA.w #$0000
    LDX.w #$1FFE
.loop
    STA.l $7E0000,X
    DEX : DEX
    BPL .loop
    SEP #$30
    RTL
}
"""
RAM = """\
GameMode = $7E0010
PaletteBuffer = $7EC500
!FrameDone = $7E0012
"""

CASES = [
    (
        "Vector_Reset",
        "Vector_Reset ($00:8000) is the reset vector's entry point. It disables interrupts with SEI, "
        "switches the CPU to native mode (CLC, XCE), sets 16-bit registers with REP #$30 to put the "
        "stack at $01FF, then returns to 8-bit registers and writes zero to NMITIMEN ($4200) so no NMI "
        "fires yet. It calls Init_ClearWRAM in bank $0D with JSL and finally jumps into MainLoop.",
        "Vector_Reset ($00:8000) is the reset vector's entry point. It disables interrupts with SEI, "
        "switches the CPU to native mode (CLC, XCE), sets 16-bit registers with REP #$30 to put the "
        "stack at $01FF, then returns to 8-bit registers and writes zero to NMITIMEN ($4200) so no NMI "
        "fires yet. It calls Init_ClearWRAM in bank $0D with JSR and finally jumps into MainLoop.",
    ),
    (
        "MainLoop",
        "The main loop waits for the NMI handler: it polls !FrameDone ($7E:0012) and branches back to "
        "itself while the flag is zero. Once a frame is done it clears the flag, calls Module_Dispatch "
        "with JSR to run the current game module, and starts over with BRA. It never returns.",
        "The main loop waits for the NMI handler: it polls !FrameDone ($7E:0014) and branches back to "
        "itself while the flag is zero. Once a frame is done it clears the flag, calls Module_Dispatch "
        "with JSR to run the current game module, and starts over with BRA. It never returns.",
    ),
    (
        "Module_Dispatch",
        "Module_Dispatch reads GameMode from WRAM (bank $7E), doubles it with ASL to index a table of "
        "16-bit pointers and jumps through the table at .modules with an indexed indirect JMP. Mode 0 "
        "is Module00_Intro and mode 1 is Module01_FileSelect; the module's RTS returns to MainLoop.",
        "Module_Dispatch reads GameMode from WRAM (bank $7E), doubles it with ASL to index a table of "
        "16-bit pointers and jumps through the table at .modules with an indexed indirect JMP. Mode 0 "
        "is Module00_Intro and mode 1 is Module01_Credits; the module's RTS returns to MainLoop.",
    ),
    (
        "NMI_UploadPalette",
        "During NMI this routine copies the palette buffer at $7E:C500 to CGRAM with DMA channel 0. "
        "It sets the data bank from the program bank (PHK, PLB), uses a 16-bit accumulator to write "
        "the DMA parameters to $4300 (mode) and $4302 (source address), the bank byte to $4304 and "
        "the size $0200 to $4305. Back in 8-bit mode it resets CGADD to 0 and starts the transfer "
        "by writing 1 to MDMAEN ($420B), then restores the data bank and returns with RTL.",
        "During NMI this routine copies the palette buffer at $7E:C500 to CGRAM with DMA channel 0. "
        "It sets the data bank from the program bank (PHK, PLB), uses a 16-bit accumulator to write "
        "the DMA parameters to $4300 (mode) and $4302 (source address), the bank byte to $4304 and "
        "the size $0200 to $4305. Back in 8-bit mode it resets CGADD to 0 and starts the transfer "
        "by writing 1 to MDMAEN ($420C), then restores the data bank and returns with RTL.",
    ),
    (
        "Init_ClearWRAM",
        "Init_ClearWRAM, found at $0D:8000 (mirrored at $8D:8000 in FastROM), zeroes the first 8 KiB "
        "of WRAM. With 16-bit A and index registers it stores A to $7E0000,X with a long STA, "
        "stepping X down by two from $1FFE in a loop until it goes negative, then goes back to "
        "8-bit registers and returns to its long caller with RTL.",
        "Init_ClearWRAM, found at $0D:8000 (mirrored at $8D:8000 in FastROM), zeroes the first 8 KiB "
        "of WRAM. With 16-bit A and index registers it stores A to $7E0000,X with a long STA, "
        "stepping X down by two from $1FFE in a loop until it goes negative, then goes back to "
        "8-bit registers and returns to its long caller with RTS.",
    ),
]


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    root = tmp_path_factory.mktemp("alttp-like")
    (root / "bank00.asm").write_text(BANK00)
    (root / "bank0D.asm").write_text(BANK0D)
    (root / "ram.asm").write_text(RAM)
    return build_graph(root, "lorom", None)


def _score(graph, routine: str, text: str) -> dict:
    run = ScoreRun(load_config().section("score"), graph, asm_validator())
    run.add(
        {
            "kind": "sample",
            "sample_id": routine,
            "routine": routine,
            "instruction": "Explain.",
            "output": text,
        }
    )
    return run.results()[0]


@pytest.mark.parametrize("routine,good,_bad", CASES, ids=[c[0] for c in CASES])
def test_correct_explanations_raise_no_evidence(graph, routine, good, _bad):
    rec = _score(graph, routine, good)
    assert rec["evidence"] == [], rec["evidence"]
    assert rec["pass"] is True, rec["reasons"]
    assert rec["bank"] == ("$0D" if routine == "Init_ClearWRAM" else "$00")


@pytest.mark.parametrize("routine,_good,bad", CASES, ids=[c[0] for c in CASES])
def test_one_wrong_fact_is_caught(graph, routine, _good, bad):
    rec = _score(graph, routine, bad)
    assert rec["pass"] is False
    assert rec["halluc_risk"] > 0.3, rec["evidence"]


MARKDOWN_ANSWER = """\
## What `NMI_UploadPalette` does

This runs during **VBlank**, when the PPU allows CGRAM writes:

- `PHB : PHK : PLB` saves the data bank and sets it to the program bank.
- With a 16-bit accumulator it programs DMA channel 0:
  - `$4300` = `$2200`: one register, A-bus to B-bus, destination `$2122` (CGDATA)
  - `$4302`/`$4304`: source `PaletteBuffer` in WRAM ($7E:C500)
  - `$4305` = `$0200`: 512 bytes, i.e. all 256 colours
- `STZ $2121` resets CGADD so the copy starts at colour 0.
- Writing `#$01` to MDMAEN ($420B) starts the transfer; the CPU halts until it ends.

Finally `PLB` restores the caller's data bank and `RTL` returns (it is reached by a JSL
from the NMI handler, so the long return matters). Unlike the SPC700 side, nothing here
waits on the APU, and no VRAM address such as $6000 is touched.
"""


def test_markdown_chat_answer_raises_no_evidence(graph):
    run = ScoreRun(load_config().section("score"), graph, asm_validator())
    run.add(
        {
            "kind": "sample",
            "sample_id": "chat-1",
            "routine": "NMI_UploadPalette",
            "messages": [
                {"role": "system", "content": "You are an SNES reverse engineer."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Explain NMI_UploadPalette."}],
                },
                {"role": "assistant", "content": MARKDOWN_ANSWER},
            ],
        }
    )
    (rec,) = run.results()
    assert rec["evidence"] == [], rec["evidence"]
    assert rec["pass"] is True, rec["reasons"]
    assert rec["components"]["kg"] == 1.0
