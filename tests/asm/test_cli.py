"""`hafs validate-asm` end to end: files, directories, samples, file records, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess

from hafs_cli.asm import validate_file
from hafs_cli.paths import path_fields, record_path
from hafs_cli.schemas import validate_record

from .conftest import PROJECT


def _valid(records):
    """Every record this stage wrote matches its schema (passed-through ones are not ours)."""
    for rec in records:
        if rec["kind"] in ("asm_diag", "asm_summary", "summary"):
            assert validate_record(rec) == [], rec
    return records


def test_clean_project_exits_0_with_a_summary(hafs):
    r = hafs("validate-asm", str(PROJECT), "--only")
    assert r.exit_code == 0, r.stderr
    [summary] = _valid(r.records)
    assert summary["kind"] == "summary"
    assert summary["command"] == "validate-asm"
    assert (summary["files"], summary["errors"], summary["warnings"]) == (13, 0, 0)
    assert summary["lines"] > 9000


def test_errors_exit_1_with_exact_records(hafs, tmp_path):
    src = tmp_path / "bad.asm"
    src.write_text("Main:\n    SEP #$20\n    LDA #$1234\n    BLT Main\n")
    r = hafs("validate-asm", src, "--only")
    assert r.exit_code == 1
    diags = _valid([x for x in r.records if x["kind"] == "asm_diag"])
    assert diags == [
        {
            "kind": "asm_diag",
            "path": str(src),
            "line": 3,
            "column": 5,
            "severity": "error",
            "code": "immediate-width",
            "message": "LDA #$1234: 16-bit immediate but A is 8-bit here",
            "suggestion": "A is 8-bit here: add REP #$20 before it, or use a 2-digit value",
            "text": "LDA #$1234",
        },
        {
            "kind": "asm_diag",
            "path": str(src),
            "line": 4,
            "column": 5,
            "severity": "error",
            "code": "unknown-mnemonic",
            "message": "'BLT' is not a 65816 instruction or asar directive",
            "suggestion": "the 65816 has no BLT; use BCC (branch if less than, unsigned)",
            "text": "BLT Main",
        },
    ]


def test_directory_checks_included_files_through_their_includer(hafs, tmp_path):
    (tmp_path / "main.asm").write_text('incsrc "defs.asm"\nincsrc "code.asm"\n')
    (tmp_path / "defs.asm").write_text("!ram = $10\nmacro Set()\n    SEP #$20\nendmacro\n")
    (tmp_path / "code.asm").write_text("    %Set()\n    LDA !ram\n")
    r = hafs("validate-asm", tmp_path, "--only")
    assert r.exit_code == 0
    [summary] = r.records
    assert (summary["files"], summary["warnings"]) == (3, 0)


def test_samples_from_stdin_get_diagnostics_and_one_summary_each(hafs):
    samples = [
        {
            "kind": "sample",
            "sample_id": "s1",
            "input": "Write a loop",
            "output": "    LDX #$05\n-   DEX\n    BNE -\n    RTS\n",
        },
        {
            "kind": "sample",
            "sample_id": "s2",
            "input": "Fix this:\n```asm\n    LDA #$00\n    BLT foo\n```\n",
            "output": "Use BCC:\n\n```asm\n    STZ $7E0000\n```\n",
        },
        {"kind": "sample", "id": 7, "input": "no code here", "output": ""},
        {"kind": "note", "text": "passes through"},
    ]
    stdin = "".join(json.dumps(s) + "\n" for s in samples)
    r = hafs("validate-asm", input=stdin)
    assert r.exit_code == 1
    out = _valid(r.records)
    assert [x["kind"] for x in out] == [
        "sample",
        "asm_summary",
        "sample",
        "asm_diag",
        "asm_diag",
        "asm_summary",
        "sample",
        "asm_summary",
        "note",
        "summary",
    ]
    diags = [x for x in out if x["kind"] == "asm_diag"]
    assert [(d["sample"], d["field"], d["line"], d["code"]) for d in diags] == [
        ("s2", "output", 4, "bad-addressing-mode"),
        ("s2", "input", 4, "unknown-mnemonic"),
    ]
    summaries = {x["sample"]: x for x in out if x["kind"] == "asm_summary"}
    assert summaries["s1"]["valid"] is True and summaries["s1"]["blocks"] == 1
    assert summaries["s2"]["valid"] is False and summaries["s2"]["errors"] == 2
    assert summaries["s2"]["error_codes"] == {"bad-addressing-mode": 1, "unknown-mnemonic": 1}
    assert summaries["7"]["checked"] is False
    assert out[-1]["samples"] == 3 and out[-1]["invalid_samples"] == 1


def test_file_records_from_scan_are_validated(hafs, tmp_path):
    bad = tmp_path / "x.asm"
    bad.write_text("    DEA\n")
    stdin = json.dumps({"kind": "file", "path": str(bad), "size": 8}) + "\n"
    r = hafs("validate-asm", "--only", input=stdin)
    assert r.exit_code == 1
    assert [(x["kind"], x.get("code")) for x in r.records] == [
        ("asm_diag", "unknown-mnemonic"),
        ("summary", None),
    ]


def test_bad_input_line_is_an_error_record_and_exit_2(hafs):
    r = hafs("validate-asm", input='not json\n{"kind": "sample", "output": "  NOP"}\n')
    assert r.exit_code == 2
    assert r.errors and r.errors[0]["kind"] == "error"


def test_defines_and_include_paths_from_flags(hafs, tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "m.asm").write_text("macro M()\n    NOP\nendmacro\n")
    src = tmp_path / "a.asm"
    src.write_text('incsrc "m.asm"\n    %M()\nif !mode == 2\n    BLT x\nendif\n    LDA !addr\n')
    r = hafs(
        "validate-asm", src, "--only", "-I", tmp_path / "lib", "-D", "mode=1", "-D", "addr=$10"
    )
    assert r.exit_code == 0, r.records
    r = hafs(
        "validate-asm", src, "--only", "-I", tmp_path / "lib", "-D", "mode=2", "-D", "addr=$10"
    )
    assert r.exit_code == 1


def test_min_severity_and_unknown_width_options(hafs, tmp_path):
    src = tmp_path / "a.asm"
    src.write_text("Entry:\n    LDA #$1234\n    %Unknown()\n")
    r = hafs("validate-asm", src, "--only", "--unknown-width", "warning")
    assert [x.get("code") for x in r.records] == ["unknown-width", "undefined-macro", None]
    r = hafs("validate-asm", src, "--only", "--unknown-width", "warning", "--min-severity", "error")
    assert [x["kind"] for x in r.records] == ["summary"]
    assert r.exit_code == 0


def test_config_file_sets_defaults(hafs, tmp_path):
    (tmp_path / "hafs.toml").write_text("[validate-asm]\nm = 8\n")
    (tmp_path / "a.asm").write_text("    LDA #$1234\n")
    r = hafs("validate-asm", "a.asm", "--only", cwd=tmp_path)
    assert r.exit_code == 1
    assert r.records[0]["code"] == "immediate-width"


def test_bad_define_flag_is_a_usage_error(hafs, tmp_path):
    (tmp_path / "a.asm").write_text("    NOP\n")
    r = hafs("validate-asm", tmp_path / "a.asm", "-D", "=5")
    assert r.exit_code == 2
    assert b"hafs: error:" in r.stderr


def test_help_has_examples_and_exit_statuses(hafs):
    r = hafs("validate-asm", "--help")
    assert r.exit_code == 0
    assert b"hafs validate-asm src/" in r.stdout
    assert b"Exit status" in r.stdout


def test_real_subprocess_pipeline(hafs_cmd, tmp_path):
    (tmp_path / "a.asm").write_text("    LDA ##$12\n")
    run = subprocess.run(
        [*hafs_cmd, "validate-asm", str(tmp_path), "--only", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    data = json.loads(run.stdout)
    assert data[0]["code"] == "malformed-operand"


def test_a_file_shared_by_two_roots_is_reported_once(hafs, tmp_path):
    (tmp_path / "a.asm").write_text('incsrc "shared.asm"\n')
    (tmp_path / "b.asm").write_text('incsrc "shared.asm"\n')
    (tmp_path / "shared.asm").write_text("    DEA\n")
    r = hafs("validate-asm", tmp_path, "--only")
    assert [(x["kind"], x.get("path")) for x in r.records] == [
        ("asm_diag", str(tmp_path / "shared.asm")),
        ("summary", None),
    ]


def test_table_format_renders(hafs, tmp_path):
    (tmp_path / "a.asm").write_text("    DEA\n")
    r = hafs("validate-asm", tmp_path / "a.asm", "--only", "--format", "table")
    assert r.exit_code == 1
    assert b"asm_diag (1)" in r.stdout
    assert b"DEA" in r.stdout


def test_a_code_field_of_prose_is_not_checked_as_assembly(hafs):
    prose = {
        "kind": "sample",
        "sample_id": "p",
        "output": "The routine at $8000 stores the\nframe counter in RAM and returns.",
    }
    code = {
        "kind": "sample",
        "sample_id": "c",
        "output": "; fixed\n    LDA $00\n    STA $01 ; keep\n    BLT x\nMain:\n    RTS\n",
    }
    r = hafs("validate-asm", "--only", input=json.dumps(prose) + "\n" + json.dumps(code) + "\n")
    summaries = {x["sample"]: x for x in r.records if x["kind"] == "asm_summary"}
    assert summaries["p"]["checked"] is False and summaries["p"]["valid"] is True
    assert summaries["c"]["checked"] is True and summaries["c"]["error_codes"] == {
        "unknown-mnemonic": 1
    }


def test_code_of_another_cpu_in_a_code_field_is_still_checked(hafs):
    x86 = {"kind": "sample", "sample_id": "x", "output": "    mov eax, 1\n    push eax\n    ret\n"}
    r = hafs("validate-asm", "--only", input=json.dumps(x86) + "\n")
    [summary] = [x for x in r.records if x["kind"] == "asm_summary"]
    assert summary["checked"] is True and summary["error_codes"] == {"unknown-mnemonic": 3}


def test_chat_format_samples_check_the_assistant_turns(hafs):
    chat = {
        "kind": "sample",
        "sample_id": "m",
        "messages": [
            {"role": "user", "content": "Write a delay loop\n```asm\n    DEA\n```"},
            {"role": "assistant", "content": "    LDX #$10\n-   DEX\n    BNE -\n    INA\n"},
        ],
    }
    r = hafs("validate-asm", "--only", input=json.dumps(chat) + "\n")
    diags = [(x["field"], x["line"], x["code"]) for x in r.records if x["kind"] == "asm_diag"]
    assert diags == [("messages[0]", 3, "unknown-mnemonic"), ("messages[1]", 4, "unknown-mnemonic")]


def test_a_file_name_that_is_not_utf8_round_trips_through_path_b64(hafs, tmp_path):
    raw = os.fsencode(tmp_path) + b"/b\xff.asm"
    with open(raw, "wb") as f:
        f.write(b"    DEA\n")
    r = hafs("validate-asm", tmp_path, "--only")
    assert r.exit_code == 1, r.stderr
    [diag, _summary] = _valid(r.records)
    assert diag["code"] == "unknown-mnemonic"
    assert record_path(diag) == raw
    assert diag["path"] == os.fsdecode(raw).encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace"
    )


def test_file_records_with_path_b64_are_validated(hafs, tmp_path):
    raw = os.fsencode(tmp_path) + b"/c\xfe.asm"
    with open(raw, "wb") as f:
        f.write(b"    INA\n")
    stdin = json.dumps({"kind": "file", **path_fields(raw), "size": 8}) + "\n"
    r = hafs("validate-asm", "--only", input=stdin)
    assert r.exit_code == 1, r.stderr
    [diag, _summary] = _valid(r.records)
    assert (diag["code"], record_path(diag)) == ("unknown-mnemonic", raw)


def test_incsrc_of_a_file_name_that_is_not_utf8_is_found(tmp_path):
    with open(os.fsencode(tmp_path) + b"/d\xe9.asm", "wb") as f:
        f.write(b"    DEA\n")
    (tmp_path / "main.asm").write_bytes(b'incsrc "d\xe9.asm"\n')
    diags = validate_file(tmp_path / "main.asm")
    assert [(d.line, d.code) for d in diags] == [(1, "unknown-mnemonic")]


def test_include_cycle_names_every_file_in_the_chain(tmp_path):
    (tmp_path / "a.asm").write_text('incsrc "b.asm"\n')
    (tmp_path / "b.asm").write_text('incsrc "a.asm"\n')
    [diag] = validate_file(tmp_path / "a.asm")
    a, b = str(tmp_path / "a.asm"), str(tmp_path / "b.asm")
    assert (diag.path, diag.code, diag.suggestion) == (b, "include-cycle", f"{a} -> {b} -> {a}")


def test_a_fifo_is_not_waited_on(hafs_cmd, tmp_path):
    os.mkfifo(tmp_path / "pipe.asm")
    (tmp_path / "a.asm").write_text("    DEA\n")
    run = subprocess.run(
        [*hafs_cmd, "validate-asm", str(tmp_path), "--only", "--format", "jsonl"],
        capture_output=True,
        timeout=20,
    )
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["files"] == 1
    run = subprocess.run(
        [*hafs_cmd, "validate-asm", str(tmp_path / "pipe.asm"), "--only"],
        capture_output=True,
        timeout=20,
    )
    assert run.returncode == 2
    assert b"not a regular file" in run.stderr


def test_a_closed_stdin_without_paths_is_a_usage_error(hafs_cmd):
    run = subprocess.run(
        [*hafs_cmd, "validate-asm"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    closed = subprocess.run(
        [*hafs_cmd, "validate-asm"], capture_output=True, timeout=60, preexec_fn=lambda: os.close(0)
    )
    assert run.returncode == 0  # /dev/null: an empty stream of records
    assert closed.returncode == 2, closed.stderr
    assert closed.stderr.startswith(b"hafs: error: nothing to check")


def test_missing_include_names_every_folder_searched(tmp_path):
    (tmp_path / "main.asm").write_text('incsrc "gone.asm"\n')
    [diag] = validate_file(tmp_path / "main.asm", config={"include_paths": [str(tmp_path / "lib")]})
    assert diag.code == "missing-include"
    assert (
        diag.message
        == f"incsrc 'gone.asm': no such file (looked in {tmp_path}, {tmp_path / 'lib'})"
    )


def test_an_unclosed_fence_runs_to_the_end_of_the_field(hafs):
    """A truncated answer: the block is checked, the fence line itself is not a statement."""
    truncated = {"kind": "sample", "sample_id": "t", "output": "Here:\n```asm\n    NOP\n    DEA\n"}
    r = hafs("validate-asm", "--only", input=json.dumps(truncated) + "\n")
    diags = [(x["line"], x["code"]) for x in _valid(r.records) if x["kind"] == "asm_diag"]
    assert diags == [(4, "unknown-mnemonic")]


def test_a_file_record_with_a_broken_path_b64_is_one_error_and_the_stream_goes_on(hafs):
    bad = {"kind": "file", "path": "x.asm", "path_b64": "!!"}
    sample = {"kind": "sample", "sample_id": "s", "output": "    DEA\n"}
    r = hafs("validate-asm", "--only", input=json.dumps(bad) + "\n" + json.dumps(sample) + "\n")
    assert r.exit_code == 2
    [err] = r.errors
    assert err["path"] == "x.asm" and "path_b64" in err["reason"]
    assert [x["kind"] for x in r.records] == ["asm_diag", "asm_summary", "summary"]


def test_a_macro_that_calls_itself_twice_is_one_error_not_2_to_the_64_expansions(
    hafs_cmd, tmp_path
):
    (tmp_path / "m.asm").write_text("macro m()\n    %m()\n    %m()\nendmacro\n    %m()\n")
    run = subprocess.run(
        [*hafs_cmd, "validate-asm", str(tmp_path / "m.asm"), "--only", "--format", "jsonl"],
        capture_output=True,
        timeout=30,
    )
    assert run.returncode == 1, run.stderr
    diags = [json.loads(x) for x in run.stdout.splitlines()][:-1]
    assert [(d["line"], d["code"]) for d in diags] == [(2, "bad-directive")]
    assert "nests deeper than 64" in diags[0]["message"]


def test_includes_that_multiply_stop_after_one_error(hafs_cmd, tmp_path):
    """f0 includes f1 twice, f1 includes f2 twice, ...: 2**30 reads unless capped."""
    for i in range(30):
        (tmp_path / f"f{i}.asm").write_text(f'incsrc "f{i + 1}.asm"\nincsrc "f{i + 1}.asm"\n')
    (tmp_path / "f30.asm").write_text("    NOP\n")
    run = subprocess.run(
        [*hafs_cmd, "validate-asm", str(tmp_path / "f0.asm"), "--only", "--format", "jsonl"],
        capture_output=True,
        timeout=30,
    )
    assert run.returncode == 1, run.stderr
    diags = [json.loads(x) for x in run.stdout.splitlines()][:-1]
    assert [d["code"] for d in diags] == ["bad-directive"]
    assert "more than 20000 files read through incsrc" in diags[0]["message"]
