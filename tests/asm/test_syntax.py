"""asar syntax as real projects use it: labels, defines, macros, conditionals, includes."""

from __future__ import annotations

from hafs_cli.asm import validate_file, validate_text

from .conftest import codes


def test_labels_of_every_kind_are_not_instructions():
    src = """
Main:
.sub
.sub2: LDA $00
..deeper
#_008000: LDA.b #$00
#Global:
?macro_label:
+
-   DEX : BNE -
++  BRA +
+:  NOP
--- NOP
Parent.Child: RTS
Table = $7E2000
"""
    assert codes(src, severity=None) == []


def test_statements_joined_with_colon_are_checked_one_by_one():
    assert codes("    LDA #$00 : STA $00 : BLT Foo : STZ $7E0000\n") == [
        (1, "unknown-mnemonic"),
        (1, "bad-addressing-mode"),
    ]


def test_colon_inside_strings_and_char_literals_does_not_split():
    assert codes("""    db "a : b", ':', ' '\n    print "x : y"\n""", severity=None) == []


def test_comments_everywhere():
    src = "; full line\nMain: ; after label\n    LDA $00 ; after code\n    db ';' ; char\n;[[ block\n comment BLT ]] NOP\n"
    assert codes(src, severity=None) == []


def test_backslash_and_comma_continue_a_line():
    src = "    LDA \\\n        $7E0000\n    db $00,\n       $01,\n       $02\n"
    assert codes(src, severity=None) == []


def test_trailing_comma_on_an_instruction_is_reported_on_its_line():
    assert codes("    LDA $00,\n    STA $01\n") == [(1, "malformed-operand")]


def test_defines_are_expanded_inside_operands():
    src = "!ram = $7E0010\n!dp = $10\n    LDA !ram : STA.b !dp,x\n    STZ !ram\n"
    assert codes(src) == [(4, "bad-addressing-mode")]


def test_define_assignment_operators():
    src = """
!a = 1
!b := !a+1
!c #= !a+2
!c += 0
!d ?= 5
!d ?= 6
!e = "LDA #$00 : STA $00"
if !d == 5 && !c == 30
    NOP
else
    BLT foo
endif
    !e
    db !b
"""
    assert codes(src, severity=None) == []


def test_define_with_braces_and_in_strings():
    assert codes('!x = $10\n    LDA !{x}\n    print "value !x"\n', severity=None) == []


def test_undefined_define_is_a_warning_not_an_error():
    assert codes("    LDA !nothere,x\n", severity=None) == [(1, "undefined-define")]


def test_macros_expand_with_arguments_and_local_labels():
    src = """
macro Wait(n)
    LDX.b #<n>
?loop:
    DEX
    BNE ?loop
endmacro
macro Bad(op)
    <op> $00
endmacro
    %Wait(4)
    %Wait($10)
    %Bad(LDA)
    %Bad(BLT)
"""
    diags = validate_text(src, "m.asm")
    assert [(d.line, d.code, d.context) for d in diags] == [
        (9, "unknown-mnemonic", {"macro": "Bad", "called_from": "m.asm:14"})
    ]


def test_macro_argument_count_must_match():
    src = "macro Two(a, b)\n    db <a>, <b>\nendmacro\n    %Two(1)\n    %Two(1, 2, 3)\n"
    assert codes(src) == [(4, "bad-operand-count"), (5, "bad-operand-count")]


def test_variadic_macro():
    src = "macro Ptrs(...)\n    !i #= 0\n    while !i < sizeof(...)\n        dw <...[!i]>\n        !i #= !i+1\n    endwhile\nendmacro\n    %Ptrs(A, B, C)\n"
    assert codes(src, severity=None) == []


def test_undefined_macro_is_a_warning():
    assert codes("    %Nowhere(1)\n", severity=None) == [(1, "undefined-macro")]


def test_known_false_branch_is_not_checked_like_asar():
    src = "!v = 2\nif !v == 1\n    BLT foo\nelseif !v == 2\n    NOP\nelse\n    BGE foo\nendif\n"
    assert codes(src, severity=None) == []


def test_unknown_condition_checks_every_branch():
    src = "if read1($00FFD5) == $23\n    BLT foo\nelse\n    BGE foo\nendif\n"
    assert codes(src) == [(2, "unknown-mnemonic"), (4, "unknown-mnemonic")]


def test_define_set_in_an_unknown_branch_proves_no_width():
    src = "!addr = $0000\nif read1($00FFD5) == $23\n    !addr = $7E0000\nendif\n    STZ !addr\n"
    assert codes(src) == []


def test_unbalanced_blocks():
    assert codes("if 1\n    NOP\n") == [(1, "unbalanced-block")]
    assert codes("    NOP\nendif\n") == [(2, "unbalanced-block")]
    assert codes("macro A()\n    NOP\n") == [(1, "unbalanced-block")]
    assert codes("endmacro\n") == [(1, "unbalanced-block")]
    assert codes("pullpc\n") == [(1, "unbalanced-block")]
    assert codes("else\n") == [(1, "unbalanced-block")]
    assert codes("struct A $00\n.x: skip 1\n") == [(1, "unbalanced-block")]


def test_nested_if_inside_a_false_branch_keeps_its_structure():
    src = "if 0\n    if 1\n        BLT x\n    endif\n    BLT y\nelse\n    NOP\nendif\n"
    assert codes(src, severity=None) == []


def test_directives_with_bad_arguments():
    assert codes("    org\n") == [(1, "bad-directive")]
    assert codes("arch z80\n") == [(1, "bad-directive")]
    assert codes("math pri sideways\n") == [(1, "bad-directive")]
    assert codes("    db $00,,$01\n") == [(1, "bad-directive")]
    assert codes("    dw\n") == [(1, "bad-directive")]
    assert codes("lorom 5\n") == [(1, "bad-directive")]


def test_spc700_code_is_not_checked_as_65816():
    src = "arch spc700\n    mov a, #$00\n    bbs0 $00, +\n+\narch 65816\n    mov a, #$00\n"
    assert codes(src) == [(6, "unknown-mnemonic")]


def test_spcblock_switches_architecture_until_endspcblock():
    src = "spcblock $0500 nspc\n    mov a, #$00\nendspcblock execute $0500\n    mov a, #$00\n"
    assert codes(src) == [(4, "unknown-mnemonic")]


def test_include_resolves_relative_to_the_including_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "main.asm").write_text('incsrc "sub/a.asm"\n    %FromB()\n')
    (tmp_path / "sub" / "a.asm").write_text('incsrc "b.asm"\n    BLT x\n')
    (tmp_path / "sub" / "b.asm").write_text("macro FromB()\n    NOP\nendmacro\n")
    diags = validate_file(tmp_path / "main.asm")
    assert [(d.path, d.line, d.code) for d in diags] == [
        (str(tmp_path / "sub" / "a.asm"), 2, "unknown-mnemonic")
    ]


def test_missing_include_is_one_diagnostic_not_a_cascade(tmp_path):
    (tmp_path / "main.asm").write_text(
        'incsrc "defs.asm"\n    LDA !FromDefs\n    %FromDefs()\n    LDA !Other\n'
    )
    diags = validate_file(tmp_path / "main.asm")
    assert [(d.line, d.code) for d in diags] == [(1, "missing-include")]


def test_missing_incbin_and_table(tmp_path):
    (tmp_path / "ok.bin").write_bytes(b"\0")
    (tmp_path / "main.asm").write_text(
        'incbin "ok.bin"\nincbin gone.bin\ntable "gone.tbl"\nincbin ok.bin:0-1 -> Label\n'
    )
    assert [(d.line, d.code) for d in validate_file(tmp_path / "main.asm")] == [
        (2, "missing-include"),
        (3, "missing-include"),
    ]


def test_include_cycle(tmp_path):
    (tmp_path / "a.asm").write_text('incsrc "b.asm"\n')
    (tmp_path / "b.asm").write_text('incsrc "a.asm"\n')
    assert [(d.line, d.code) for d in validate_file(tmp_path / "a.asm")] == [(1, "include-cycle")]


def test_validate_text_path_keyword_resolves_includes(tmp_path):
    (tmp_path / "inc.asm").write_text("    BLT x\n")
    diags = validate_text('incsrc "inc.asm"\n', path=tmp_path / "main.asm")
    assert [(d.path, d.code) for d in diags] == [(str(tmp_path / "inc.asm"), "unknown-mnemonic")]


def test_braces_table_entries_and_header_commands():
    src = "@asar 1.81\n{\n    NOP\n}\n'a' = $00\nnamespace Foo\nnamespace off\nwarnings disable W1001\n"
    assert codes(src, severity=None) == []


def test_rep_directive_versus_rep_instruction():
    assert codes("    rep 3 : NOP\n    REP #$30\n", severity=None) == []
    assert codes("    REP\n") == [(1, "malformed-operand")]


def test_escaped_define_in_a_string_is_not_expanded():
    assert codes('    db "\\!nothere"\n', severity=None) == []
    assert codes('    db "!nothere"\n', severity=None) == [(1, "undefined-define")]


def test_incsrc_inside_a_macro_resolves_against_the_macro_definition(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "macros.asm").write_text('macro Inc()\n    incsrc "part.asm"\nendmacro\n')
    (tmp_path / "lib" / "part.asm").write_text("    NOP\n")
    (tmp_path / "main.asm").write_text('incsrc "lib/macros.asm"\n    %Inc()\n')
    assert validate_file(tmp_path / "main.asm") == []


def test_a_word_before_a_spaced_colon_is_an_instruction_not_a_label():
    assert codes("    CLC : ADC #$01\n    BLT : NOP\n") == [(2, "unknown-mnemonic")]


def test_duplicate_labels_are_errors_like_in_asar():
    src = "Main:\n.loop\n    NOP\n.loop\nMain:\n#_008000: NOP\n#_008000: NOP\n"
    assert codes(src) == [(4, "duplicate-label"), (5, "duplicate-label"), (7, "duplicate-label")]


def test_macro_labels_without_question_mark_clash_on_the_second_call():
    src = "macro M()\nloop:\n    BRA loop\nendmacro\n    %M()\n    %M()\nmacro Q()\n?loop:\n    BRA ?loop\nendmacro\n    %Q()\n    %Q()\n"
    assert codes(src) == [(2, "duplicate-label")]


def test_same_label_in_other_namespaces_structs_or_unknown_branches_is_fine():
    src = """
namespace A
Init:
namespace B
Init:
namespace off
struct S1 $0000
.x: skip 1
endstruct
struct S2 $0010
.x: skip 1
endstruct
if read1($00FFD5) == $23
Entry:
else
Entry:
endif
"""
    assert codes(src) == []


def test_a_define_computed_from_an_uncertain_one_is_uncertain_too():
    src = """
!sram = $700000
if read1($00FFD5) == $23
    !sram = $41C000
endif
!counter #= !sram+$07ED
!copy := !sram
    STZ !counter
    STZ !copy
!fixed #= $12+1
    STZ !fixed
"""
    assert codes(src, severity=None) == []
    assert codes("!a #= $7E0000+1\n    STZ !a\n") == [(2, "bad-addressing-mode")]


def test_builtin_defines_nested_define_names_and_undef():
    src = """
if !assembler_ver < 10600
    BLT old
endif
!mode = 1
!modename1 = "LDA #$00"
    !{modename!{mode}}
!gone = 1
undef "gone"
if defined("gone")
    BLT x
endif
"""
    assert codes(src, severity=None) == []


def test_quoted_macro_arguments_lose_their_quotes():
    src = 'macro safely(code)\n    PHX\n    <code>\n    PLX\nendmacro\n    %safely("LDX $10 : STX $11 : LDX #10")\n    %safely("BLT x")\n'
    assert codes(src) == [(3, "unknown-mnemonic")]


def test_nested_macro_definitions_with_backwards_resolution():
    src = """
macro outer(a)
    db <a>
    macro inner(b)
        db <^a>, <b>
        LDA <^a>
    endmacro
endmacro
    %outer($7E0000)
    %inner($02)
"""
    diags = validate_text(src, "n.asm")
    assert [(d.line, d.code, d.message) for d in diags] == []
    bad = src.replace("LDA <^a>", "STZ <^a>")
    assert [(d.line, d.code) for d in validate_text(bad)] == [(6, "bad-addressing-mode")]


def test_negative_condition_is_false_like_asar():
    assert codes("if -1\n    BLT x\nendif\nif 0-0\n    BLT y\nendif\n", severity=None) == []


def test_a_statement_that_is_no_statement():
    assert codes("    $8000\n    *=$8000\n") == [(1, "bad-statement"), (2, "bad-statement")]


def test_struct_without_a_name_is_a_bad_directive_not_a_crash():
    assert codes("struct\n    .x: skip 2\nendstruct\n") == [(1, "bad-directive")]


def test_a_define_that_refers_to_itself_is_reported_not_expanded_forever():
    assert codes("!a = !a!a\n    LDA !a\n") == [(2, "bad-directive")]  # grew to 2**32 chars
    assert codes("!a = !b\n!b = !a\n    LDA !a\n") == [(3, "bad-directive")]


def test_thousands_of_nested_brackets_in_a_rep_value_do_not_crash():
    deep = "(" * 5000 + "$20" + ")" * 5000
    assert codes(f"Main:\n    REP #{deep}\n    RTS\n", severity=None) == []
