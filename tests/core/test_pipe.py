"""Pass-through, --only, --strict, formats and exit statuses of a record stage."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from hafs_cli import records
from hafs_cli.pipe import pipe_command


@click.command("count")
@click.argument("files", nargs=-1)
@pipe_command(produces={"count"})
def count_files(pipe, files):
    """A tiny stage: counts `file` records, passes everything on."""
    n = 0
    for rec in pipe.records(files):
        if rec["kind"] == "file":
            n += 1
        pipe.forward(rec)
    pipe.emit({"kind": "count", "files": n})
    return 0


def run(input_bytes: bytes, *args: str):
    result = CliRunner().invoke(count_files, list(args), input=input_bytes)
    return result


STREAM = (
    b'{"kind":"file","path":"a","size":1,"mtime_ns":5,"x-extra":{"deep":[1,2]}}\n'
    b'{"kind":"mystery","z":1,"a":"\xc3\xa9"}\n'
    b'{"kind":"file","path":"b","size":2,"mtime_ns":6}\n'
)


def test_unknown_kinds_and_fields_pass_through_byte_identical():
    result = run(STREAM)
    lines = result.stdout_bytes.splitlines(keepends=True)
    assert lines[:3] == STREAM.splitlines(keepends=True)
    assert records.loads(lines[3]) == {"kind": "count", "files": 2}
    assert result.exit_code == 0


def test_only_keeps_the_stage_own_records():
    result = run(STREAM, "--only")
    assert [records.loads(x) for x in result.stdout_bytes.splitlines()] == [
        {"kind": "count", "files": 2}
    ]


def test_bad_lines_become_error_records_on_stderr_and_exit_2():
    data = (
        b'{"kind":"file","path":"a"}\nnot json\n[1]\n{"kind":"file","path":"b"}\n{"kind":"x","tru'
    )
    result = run(data)
    out = [records.loads(x) for x in result.stdout_bytes.splitlines()]
    assert out[-1] == {"kind": "count", "files": 2}
    errors = [records.loads(x) for x in result.stderr_bytes.splitlines()]
    assert [(e["kind"], e["source"], e["line"]) for e in errors] == [
        ("error", "<stdin>", 2),
        ("error", "<stdin>", 3),
        ("error", "<stdin>", 5),
    ]
    assert all(e["command"] == "count" for e in errors)
    assert result.exit_code == 2


def test_strict_stops_at_the_first_bad_line():
    data = b'{"kind":"file"}\nnot json\n{"kind":"file"}\n'
    result = run(data, "--strict")
    assert result.exit_code != 0
    assert len(result.stderr_bytes.splitlines()) >= 1
    assert b'"count"' not in result.stdout_bytes


def test_json_format_is_one_array():
    result = run(STREAM, "--format", "json")
    import json

    data = json.loads(result.stdout_bytes)
    assert [r["kind"] for r in data] == ["file", "mystery", "file", "count"]


def test_json_format_of_nothing_is_an_empty_array():
    result = run(b"", "--format", "json", "--only")
    assert result.stdout_bytes.strip() == b'[\n{"kind":"count","files":0}\n]'


def test_table_format_groups_by_kind():
    result = run(STREAM, "--format", "table")
    assert "count (1)" in result.output and "file (2)" in result.output


def test_empty_input_is_not_an_error():
    result = run(b"")
    assert result.exit_code == 0
    assert [records.loads(x) for x in result.stdout_bytes.splitlines()] == [
        {"kind": "count", "files": 0}
    ]


@pytest.mark.parametrize("crlf", [False, True])
def test_crlf_and_bom_input_pass_through_as_clean_records(crlf):
    nl = b"\r\n" if crlf else b"\n"
    data = b"\xef\xbb\xbf" + b'{"kind":"file","path":"a"}' + nl
    result = run(data, "--only")
    assert result.exit_code == 0
    assert records.loads(result.stdout_bytes) == {"kind": "count", "files": 1}


def test_input_files_are_read_in_order(tmp_path):
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_bytes(b'{"kind":"file","path":"1"}\n')
    b.write_bytes(b'{"kind":"file","path":"2"}\n')
    result = run(b"", str(a), str(b))
    paths = [records.loads(x).get("path") for x in result.stdout_bytes.splitlines()]
    assert paths == ["1", "2", None]


def test_missing_input_file_is_a_clear_error(hafs, tmp_path):
    result = hafs("schema", "validate", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert b"cannot read" in result.stderr and b"nope.jsonl" in result.stderr
    assert b"Traceback" not in result.stderr


def test_progress_is_drawn_only_when_stderr_is_a_terminal(tmp_path):
    import io
    import os
    import pty

    from hafs_cli.pipe import Pipe, _NullProgress, _RichProgress

    quiet = Pipe("t", (), fmt="jsonl", out=io.StringIO(), err=io.StringIO())
    assert isinstance(quiet.progress("hashing"), _NullProgress)
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w") as tty:
            loud = Pipe("t", (), fmt="jsonl", out=io.StringIO(), err=tty)
            with loud.progress("hashing", total=3) as bar:
                assert isinstance(bar, _RichProgress)
                bar.advance(1, bytes=10)
    finally:
        os.close(master)


def test_progress_can_be_turned_off_in_config(tmp_path, monkeypatch):
    import io
    import os
    import pty

    from hafs_cli.pipe import Pipe, _NullProgress

    (tmp_path / "hafs.toml").write_text("[output]\nprogress = false\n")
    monkeypatch.chdir(tmp_path)
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w") as tty:
            pipe = Pipe("t", (), fmt="jsonl", out=io.StringIO(), err=tty)
            assert isinstance(pipe.progress("x"), _NullProgress)
    finally:
        os.close(master)


def test_forward_line_passes_records_on_exactly_as_written(hafs):
    data = b'{ "path":"a", "kind" : "error",  "reason":"x\\u00e9", "z":1.50 }\r\n'
    result = hafs("schema", "validate", input=data)
    assert result.exit_code == 0
    assert result.stdout == data.replace(b"\r\n", b"\n")


def test_table_format_renders_records_forwarded_as_lines(hafs):
    result = hafs(
        "schema", "validate", "--format", "table", input=b'{"kind":"error","reason":"x"}\n'
    )
    assert "error (1)" in result.text and '{"kind"' not in result.text
