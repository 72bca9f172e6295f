"""The tool sandbox: escape attempts are refused with structured errors; honest tools work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hafs_cli.ai.index import build_index
from hafs_cli.ai.sandbox import Limits, Sandbox
from hafs_cli.ai.tools import TOOLS, ToolBox, tool_schema


@pytest.fixture
def world(tmp_path: Path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "src").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET\n")
    (root / "src" / "main.asm").write_text("lda #$01\nsta $2100\n; TODO fix\n")
    (root / "notes.txt").write_text("hello\nworld\n")
    (root / "-rf").write_text("a file named like an option\n")
    (root / "big.bin").write_bytes(b"x" * 5000)
    (root / "binary.dat").write_bytes(b"\x00\x01\x02abc")
    (root / "link_out").symlink_to(outside / "secret.txt")
    (root / "dirlink_out").symlink_to(outside)
    (root / "src" / "deep_link").symlink_to("../../outside/secret.txt")
    (root / "link_in").symlink_to(root / "notes.txt")
    os.mkfifo(root / "fifo")
    limits = Limits(max_file_bytes=4096, max_output_bytes=200, max_output_lines=5, timeout_s=2)
    sb = Sandbox([root], limits, index_path=tmp_path / "index.sqlite")
    return sb, root, outside


ALL = list(TOOLS)

ESCAPES = [
    # (tool, arguments, expected error code)
    ("read_file", {"path": "../outside/secret.txt"}, "path_outside_roots"),
    ("read_file", {"path": "src/../../outside/secret.txt"}, "path_outside_roots"),
    ("read_file", {"path": "./../../../../../../etc/passwd"}, "path_outside_roots"),
    ("read_file", {"path": "/etc/passwd"}, "path_outside_roots"),
    ("read_file", {"path": "/etc/shadow"}, "path_outside_roots"),
    ("read_file", {"path": "/proc/self/environ"}, "path_outside_roots"),
    ("read_file", {"path": "/dev/zero"}, "path_outside_roots"),
    ("read_file", {"path": "link_out"}, "path_outside_roots"),
    ("read_file", {"path": "dirlink_out/secret.txt"}, "path_outside_roots"),
    ("read_file", {"path": "src/deep_link"}, "path_outside_roots"),
    ("read_file", {"path": "~/.ssh/id_rsa"}, "path_not_found"),  # no ~ expansion: a name
    ("read_file", {"path": "notes.txt\x00../../etc/passwd"}, "bad_arguments"),
    ("read_file", {"path": "-rf"}, "bad_arguments"),
    ("read_file", {"path": "--help"}, "bad_arguments"),
    ("read_file", {"path": ""}, "bad_arguments"),
    ("read_file", {"path": 42}, "bad_arguments"),
    ("read_file", {"path": "notes.txt", "mode": "w"}, "bad_arguments"),
    ("read_file", {}, "bad_arguments"),
    ("read_file", ["notes.txt"], "bad_arguments"),
    ("read_file", {"path": "big.bin"}, "file_too_large"),
    ("read_file", {"path": "binary.dat"}, "binary_file"),
    ("read_file", {"path": "fifo"}, "not_a_regular_file"),
    ("read_file", {"path": "src"}, "not_a_regular_file"),
    ("list_directory", {"path": ".."}, "path_outside_roots"),
    ("list_directory", {"path": "/"}, "path_outside_roots"),
    ("list_directory", {"path": "dirlink_out"}, "path_outside_roots"),
    ("find_files", {"pattern": "-exec", "path": "."}, "bad_pattern"),
    ("find_files", {"pattern": "*.txt", "path": "../outside"}, "path_outside_roots"),
    ("search_text", {"pattern": "--pre=sh", "path": "."}, "bad_pattern"),
    ("search_text", {"pattern": "-e", "path": "."}, "bad_pattern"),
    ("search_text", {"pattern": "x", "glob": "--include=*"}, "bad_pattern"),
    ("search_text", {"pattern": "SECRET", "path": "/etc"}, "path_outside_roots"),
    ("search_text", {"pattern": "(unclosed", "path": "."}, "bad_pattern"),
    ("search_text", {"pattern": "(a+)+" * 200, "path": "."}, "bad_pattern"),
    ("file_info", {"path": "../outside"}, "path_outside_roots"),
    ("read_context", {"path": "../outside/secret.txt"}, "path_outside_roots"),
    ("read_context", {"path": "/etc/hostname"}, "path_outside_roots"),
    ("search_index", {"query": "-secret"}, "bad_pattern"),
    ("run_shell", {"command": "cat /etc/passwd"}, "tool_not_advertised"),
    ("__import__", {"name": "os"}, "tool_not_advertised"),
    ("system", {}, "tool_not_advertised"),
]


@pytest.mark.parametrize(
    "tool,arguments,code", ESCAPES, ids=[f"{i}-{e[0]}" for i, e in enumerate(ESCAPES)]
)
def test_escape_attempt_is_refused_with_a_structured_error(world, tool, arguments, code):
    sb, _, _ = world
    result = ToolBox(sb, ALL).call(tool, arguments)
    assert result["ok"] is False
    assert result["error"]["code"] == code
    assert result["error"]["message"]
    assert "TOP SECRET" not in str(result)


def test_there_are_at_least_30_escape_attempts():
    assert len(ESCAPES) >= 30


def test_a_tool_not_offered_for_this_request_is_refused_even_if_it_exists(world):
    sb, _, _ = world
    result = ToolBox(sb, ["list_directory"]).call("read_file", {"path": "notes.txt"})
    assert result["error"]["code"] == "tool_not_advertised"


def test_searches_never_follow_symlinks_out_of_the_roots(world):
    sb, _, _ = world
    box = ToolBox(sb, ALL)
    assert "SECRET" not in box.call("search_text", {"pattern": "SECRET"})["output"]
    assert "secret" not in box.call("find_files", {"pattern": "*"})["output"]


def test_slow_tool_is_stopped_with_a_timeout_error(tmp_path):
    for i in range(300):
        (tmp_path / f"f{i}.txt").write_text("line\n" * 50)
    sb = Sandbox([tmp_path], Limits(timeout_s=0.0001))
    result = ToolBox(sb, ["search_text"]).call("search_text", {"pattern": "nomatch"})
    assert result["error"]["code"] == "tool_timeout"


def test_output_is_capped_in_lines_and_bytes(world):
    sb, root, _ = world
    (root / "long.txt").write_text("".join(f"line {i}\n" for i in range(100)))
    result = ToolBox(sb, ALL).call("read_file", {"path": "long.txt"})
    assert result["ok"] and result["truncated"]
    assert result["output"].startswith("line 0\nline 1\nline 2\nline 3\nline 4\n[output truncated")


def test_honest_calls_work(world):
    sb, root, _ = world
    box = ToolBox(sb, ALL)
    assert box.call("read_file", {"path": "notes.txt"})["output"] == "hello\nworld\n"
    assert box.call("read_file", {"path": "./-rf"})["output"].startswith("a file named")
    assert box.call("read_file", {"path": str(root / "link_in")})["output"] == "hello\nworld\n"
    assert box.call("search_text", {"pattern": "TODO", "path": "src"})["output"] == (
        "src/main.asm:3: ; TODO fix"
    )
    assert box.call("find_files", {"pattern": "*.asm"})["output"] == "src/main.asm"
    assert box.call("list_directory", {"path": "src"})["output"] == "deep_link@\nmain.asm"
    assert "size: 12" in box.call("file_info", {"path": "notes.txt"})["output"]
    assert box.call("read_context", {"path": "src/main.asm"})["output"].startswith("lda")


def test_search_index_finds_indexed_text_and_only_under_roots(world):
    sb, _, _ = world
    counts = build_index(sb, sb.index_path)
    assert counts["indexed"] >= 3
    out = ToolBox(sb, ["search_index"]).call("search_index", {"query": "TODO"})["output"]
    assert "main.asm" in out and "[TODO]" in out


def test_schema_is_derived_from_the_signature_and_docstring():
    schema = tool_schema(TOOLS["search_text"])
    fn = schema["function"]
    assert fn["name"] == "search_text"
    assert fn["description"] == "Search files for a regular expression; lines as path:line: text."
    assert fn["parameters"]["required"] == ["pattern"]
    assert fn["parameters"]["properties"]["ignore_case"] == {
        "type": "boolean",
        "description": "match without regard to case",
        "default": False,
    }
