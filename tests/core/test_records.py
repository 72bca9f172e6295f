"""The input contract: every bad line becomes an error record, the stream goes on."""

from __future__ import annotations

import io

import pytest

from hafs_cli import records


def parse(data: bytes) -> list:
    return [item for _, item in records.iter_stream(io.BytesIO(data), "t.jsonl")]


def test_good_lines_become_records_in_order():
    out = parse(b'{"kind":"a","n":1}\n{"kind":"b","n":2}\n')
    assert out == [{"kind": "a", "n": 1}, {"kind": "b", "n": 2}]


def test_empty_stream_yields_nothing():
    assert parse(b"") == []


def test_blank_lines_are_skipped_not_errors():
    assert parse(b'\n  \n{"kind":"a"}\n\n') == [{"kind": "a"}]


def test_crlf_line_endings_are_accepted():
    assert parse(b'{"kind":"a"}\r\n{"kind":"b"}\r\n') == [{"kind": "a"}, {"kind": "b"}]


def test_leading_bom_is_accepted():
    assert parse(b'\xef\xbb\xbf{"kind":"a"}\n') == [{"kind": "a"}]


def test_truncated_last_line_is_reported_with_its_line_number():
    out = parse(b'{"kind":"a"}\n{"kind":"b","pa')
    assert out[0] == {"kind": "a"}
    assert out[1] == records.BadLine("t.jsonl", 2, out[1].reason)
    assert out[1].reason.startswith("truncated line")


def test_complete_last_line_without_newline_is_a_record():
    assert parse(b'{"kind":"a"}\n{"kind":"b"}') == [{"kind": "a"}, {"kind": "b"}]


def test_binary_garbage_is_invalid_utf8_and_the_stream_goes_on():
    out = parse(b'\x00\xff\xfe\x80garbage\n{"kind":"a"}\n')
    assert isinstance(out[0], records.BadLine)
    assert out[0].line == 1 and "invalid UTF-8" in out[0].reason
    assert out[1] == {"kind": "a"}


def test_invalid_utf8_inside_a_json_string_is_reported():
    out = parse(b'{"kind":"a","p":"\xff"}\n')
    assert isinstance(out[0], records.BadLine) and "invalid UTF-8" in out[0].reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[1,2]", "not a JSON object (got list)"),
        (b'"text"', "not a JSON object (got str)"),
        (b"42", "not a JSON object (got int)"),
        (b'{"no":"kind"}', "record has no string `kind` field"),
        (b'{"kind":7}', "record has no string `kind` field"),
    ],
)
def test_json_that_is_not_a_record_is_reported(line, reason):
    (bad,) = parse(line + b"\n")
    assert bad == records.BadLine("t.jsonl", 1, reason)


def test_not_json_names_the_line_and_an_excerpt():
    (bad,) = parse(b"hello world\n")
    assert bad.line == 1 and bad.reason.startswith("not JSON") and "hello world" in bad.reason


def test_a_50_mb_line_is_read_whole():
    big = "x" * (50 * 1024 * 1024)
    data = b'{"kind":"blob","data":"' + big.encode() + b'"}\n{"kind":"after"}\n'
    out = parse(data)
    assert len(out) == 2 and len(out[0]["data"]) == len(big) and out[1] == {"kind": "after"}


def test_dumps_round_trips_unicode_and_ends_with_newline():
    rec = {"kind": "file", "path": "Ünïcødé ✓/a b", "n": 10**15}
    line = records.dumps(rec)
    assert line.endswith(b"\n") and records.loads(line) == rec


def test_bad_line_excerpts_never_show_a_long_token_whole():
    secret = "sk-ant-api03-" + "A1b2C3d4E5f6G7h8" * 4
    (bad,) = parse(f'api_key = "{secret}"\n'.encode())
    assert "api_key" in bad.reason and secret[:4] in bad.reason
    assert secret not in bad.reason and secret[:12] not in bad.reason
