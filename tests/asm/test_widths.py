"""Register widths: M and X followed through REP/SEP, PHP/PLP, XCE, labels and branches."""

from __future__ import annotations

from hafs_cli.asm import validate_text

from .conftest import codes


def test_sep_then_wide_immediate_is_an_error():
    src = "    SEP #$20\n    LDA #$1234\n"
    [d] = validate_text(src)
    assert (d.line, d.code, d.severity) == (2, "immediate-width", "error")
    assert d.message == "LDA #$1234: 16-bit immediate but A is 8-bit here"
    assert d.suggestion == "A is 8-bit here: add REP #$20 before it, or use a 2-digit value"


def test_rep_then_narrow_immediate_is_an_error():
    assert codes("    REP #$30\n    LDX #$12\n    LDA #$0012\n") == [(2, "immediate-width")]


def test_explicit_suffix_counts_as_the_written_width():
    assert codes("    SEP #$20\n    LDA.b #$1234\n    LDA.w #$12\n") == [(3, "immediate-width")]


def test_index_width_follows_the_x_flag_only():
    assert codes("    SEP #$20\n    REP #$10\n    LDX #$1234\n    CPY #$0001\n    LDA #$12\n") == []
    assert codes("    SEP #$10\n    LDY #$1234\n") == [(2, "immediate-width")]


def test_unknown_width_is_silent_by_default_and_a_warning_on_request():
    src = "Routine:\n    LDA #$1234\n"
    assert codes(src, severity=None) == []
    assert codes(src, severity=None, unknown_width="warning") == [(2, "unknown-width")]


def test_labels_merge_the_widths_that_reach_them():
    src = """
    SEP #$20
    LDA $00
    BEQ .wide
    LDA #$12
    BRA .done
.wide
    LDA #$12          ; reached only with A 8-bit: fine
.done
    REP #$20
    BCC .mixed
    SEP #$20
.mixed
    LDA #$1234        ; reached 16-bit by the branch, 8-bit by falling through: unknown
"""
    assert codes(src, severity=None) == []


def test_forward_branch_with_a_different_width_makes_the_target_unknown():
    src = "    REP #$20\n    BNE +\n    SEP #$20\n+   LDA #$12\n"
    assert codes(src) == []
    src = "    REP #$20\n    BNE +\n    NOP\n+   LDA #$12\n"
    assert codes(src) == [(4, "immediate-width")]


def test_loop_back_edge_is_followed():
    src = "    SEP #$20\n-   LDA #$12\n    REP #$20\n    BNE -\n"
    assert codes(src) == []  # the loop comes back 16-bit, so at '-' the width is unknown


def test_php_plp_restore_the_saved_widths():
    src = "    SEP #$30\n    PHP\n    REP #$30\n    LDA #$1234\n    PLP\n    LDA #$1234\n"
    assert codes(src) == [(6, "immediate-width")]


def test_sec_xce_enters_emulation_mode_with_8_bit_registers():
    assert codes("    SEC\n    XCE\n    LDA #$1234\n") == [(3, "immediate-width")]
    assert codes("    CLC\n    XCE\n    LDA #$1234\n") == []  # native: M unknown before


def test_calls_make_the_width_unknown_unless_configured():
    src = "    SEP #$20\n    JSL Foo\n    LDA #$1234\n"
    assert codes(src) == []
    assert codes(src, calls_preserve_width=True) == [(3, "immediate-width")]


def test_a_routine_entered_only_by_calls_with_one_width_keeps_it():
    src = "    SEP #$20\n    JSR Sub\n    RTS\nSub:\n    LDA #$1234\n    RTS\n"
    assert codes(src) == [(5, "immediate-width")]


def test_unknown_condition_merges_both_branches():
    src = "    SEP #$20\nif read1($00FFD5) == $23\n    REP #$20\nendif\n    LDA #$1234\n"
    assert codes(src) == []


def test_width_errors_inside_macros_name_the_macro():
    src = "macro Load(v)\n    LDA #<v>\nendmacro\n    SEP #$20\n    %Load($1234)\n"
    [d] = validate_text(src, "w.asm")
    assert (d.line, d.code, d.context) == (
        2,
        "immediate-width",
        {"macro": "Load", "called_from": "w.asm:5"},
    )


def test_configured_start_width():
    assert codes("    LDA #$1234\n", m=8) == [(1, "immediate-width")]


def test_an_undefined_macro_or_define_statement_may_change_the_widths():
    # a file checked without its includer (a pre-commit hook sees one staged file)
    assert codes("    SEP #$20\n    %SetA16()\n    LDA #$1234\n", severity=None) == [
        (2, "undefined-macro")
    ]
    assert codes("    SEP #$20\n    !wide_mode\n    LDA #$1234\n", severity=None) == [
        (2, "undefined-define")
    ]


def test_a_label_whose_address_is_taken_may_be_entered_with_any_width():
    direct = "    SEP #$20\n    JSR Sub\n    RTS\nSub:\n    LDA #$1234\n    RTS\n"
    assert codes(direct) == [(5, "immediate-width")]
    for taken in (
        "Table:\n    dw Sub\n",
        "    PEA Sub-1\n",
        "    LDA.w #Sub\n",
        "Table:\n    dl .x, Sub, $00\n",
    ):
        assert codes(taken + direct) == [], taken
