"""Entities and claims in prose, facts of code, SNES bank arithmetic."""

from __future__ import annotations

from hafs_cli.quality import rom
from hafs_cli.quality.text import code_facts, prose_facts


def test_addresses_labels_defines_and_registers_are_found():
    f = prose_facts(
        "`Link_Update` ($07:9A2B) reads LinkPosX at $7E0022, !TempPtr and INIDISP; LDA #$20."
    )
    got = [(m.kind, m.text) for m in f.mentions]
    assert got == [
        ("label", "Link_Update"),
        ("address", "$07:9A2B"),
        ("label", "LinkPosX"),
        ("address", "$7E0022"),
        ("define", "!TempPtr"),
        ("register", "INIDISP"),
    ]  # the immediate #$20 is not an address
    assert [(n.text, a.text) for n, a in f.pairs] == [
        ("Link_Update", "$07:9A2B"),
        ("LinkPosX", "$7E0022"),
    ]


def test_hedges_match_on_word_boundaries_only():
    assert prose_facts("It might be a timer; probably.").hedges == ["might", "probably"]
    assert prose_facts("A mighty loop, unlikely to stop, maybelline.").hedges == []


def test_invented_instructions_and_width_claims():
    f = prose_facts(
        "It uses `MVX #$10` and the LDZ instruction with an 8-bit accumulator; JSL Foo."
    )
    assert f.invented == ["LDZ", "MVX"]
    assert f.widths == {"a": {8}, "x": set()}
    assert f.mnemonics == {"JSL"}


def test_code_facts_split_statements_and_see_loops_calls_widths():
    c = code_facts(
        "Foo: ; $02:8000\n  REP #$30\n  LDA.w $0022 : STA $2116\n.loop\n  LDA [$00],Y\n  DEX : BNE .loop\n"
        "  JSL Bar_Baz\n  RTL"
    )
    assert c.instructions == 8
    assert (c.branches, c.backward_branches, c.indirect) == (1, 1, 1)
    assert c.calls == ["Bar_Baz"]
    assert c.widths == {"a": {16}, "x": {16}}
    assert c.registers == {"VMADDL"}
    assert c.annotated_address == 0x028000


def test_lorom_and_hirom_banks_fold_mirrors():
    assert rom.bank_of(0x808000, "lorom") == "$00"
    assert rom.bank_of(0x0A9000, "lorom") == "$0A"
    assert rom.bank_of(0x7E0022, "lorom") is None  # WRAM is not a ROM bank
    assert rom.bank_of(0x408000, "hirom") == "$C0"
    assert rom.bank_of(0x018000, "hirom") == "$C1"
    assert rom.offset_to_address(0x12345, "lorom") == 0x02A345
    assert rom.offset_to_address(0x12345, "hirom") == 0xC12345
    assert rom.parse_address("$02:8000") == rom.parse_address("0x028000") == 0x028000
    assert rom.same_location(0x000022, 0x7E0022)
    assert not rom.same_location(0x7E0022, 0x7E0023)
