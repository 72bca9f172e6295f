"""hafs schema list|show|validate and the record schemas themselves."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from hafs_cli.schemas import load_schema, record_kinds, validate_record
from tests.conftest import REPO


@pytest.mark.parametrize("kind", record_kinds())
def test_every_record_schema_is_valid_draft_2020_12(kind):
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["kind"] == {"const": kind}
    assert "kind" in schema["required"]
    assert schema.get("additionalProperties", True) is not False, "unknown fields must pass"


def test_config_fragments_are_valid_schemas():
    for path in sorted((REPO / "schemas/config").glob("*.json")):
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_schema_list_names_every_kind(hafs):
    result = hafs("schema", "list", "--format", "jsonl")
    assert result.exit_code == 0
    assert [r["name"] for r in result.records] == record_kinds()


def test_schema_show_prints_the_schema(hafs):
    result = hafs("schema", "show", "dupgroup")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == load_schema("dupgroup")


def test_schema_show_unknown_kind_suggests(hafs):
    result = hafs("schema", "show", "dupgrup")
    assert result.exit_code == 2 and b"Did you mean 'dupgroup'" in result.stderr


def test_validate_reports_each_bad_record_with_line_and_reason(hafs, tmp_path):
    src = tmp_path / "in.jsonl"
    good = '{"kind":"file","path":"a","size":1,"mtime_ns":2,"extra":true}'
    src.write_text(
        good + "\n" + '{"kind":"file","path":"b","size":-1,"mtime_ns":2}\n' + '{"kind":"nokind"}\n'
    )
    result = hafs("schema", "validate", str(src))
    assert result.exit_code == 1
    assert result.records[0] == json.loads(good)
    assert result.records[1]["kind"] == "schema_violation"
    assert (result.records[1]["source"], result.records[1]["line"]) == (str(src), 2)
    assert "-1 is less than the minimum of 0" in result.records[1]["reasons"][0]
    assert result.records[2]["line"] == 3
    assert "unknown record kind 'nokind'" in result.records[2]["reasons"][0]


def test_validate_of_valid_stream_exits_0(hafs):
    data = b'{"kind":"error","reason":"x"}\n'
    result = hafs("schema", "validate", input=data)
    assert result.exit_code == 0 and result.stdout == data


def test_validate_record_library_function():
    assert validate_record({"kind": "file", "path": "a", "size": 1, "mtime_ns": 1}) == []
    assert validate_record({"kind": "file"}) != []
