"""The model/tool loop and context trimming, through the engine and the test server."""

from __future__ import annotations

import json

from hafs_cli.ai.context import build_context, estimate_tokens
from hafs_cli.ai.request import from_record
from hafs_cli.ai.sandbox import Sandbox
from hafs_cli.schemas import validate_record
from tests.ai.test_engine import Collector


def chat_bodies(srv) -> list[dict]:
    return [b for b in srv.bodies if b["path"] == "/api/chat"]


def test_tool_loop_feeds_results_back_to_the_model(ollama_server, make_engine, tmp_path):
    (tmp_path / "notes.txt").write_text("the answer is 42\n")
    srv = ollama_server(["m"])
    srv.reply(
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]},
        "It says 42.",
    )
    col = Collector()
    eng = make_engine({"a": (srv, {})}, roots=[tmp_path])
    eng.submit(
        {"id": "t", "model": "m", "prompt": "what is in notes?", "tools": ["read_file"]}, col.reply
    )
    (result,) = col.wait(1)
    assert result["ok"] and result["content"] == "It says 42."
    assert validate_record(result) == []
    call = result["tool_calls"][0]
    assert (call["name"], call["arguments"], call["ok"], call["round"]) == (
        "read_file", {"path": "notes.txt"}, True, 1,
    )  # fmt: skip
    first, second = chat_bodies(srv)
    assert [t["function"]["name"] for t in first["tools"]] == ["read_file"]
    assert second["messages"][-1] == {
        "role": "tool",
        "content": "the answer is 42\n",
        "tool_name": "read_file",
    }


def test_escape_through_the_model_is_refused_and_reported(ollama_server, make_engine, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    srv = ollama_server(["m"])
    srv.reply(
        {"tool_calls": [
            {"name": "read_file", "arguments": {"path": "../secret.txt"}},
            {"name": "run_shell", "arguments": {"command": "cat ../secret.txt"}},
        ]},
        "ok",
    )  # fmt: skip
    col = Collector()
    eng = make_engine({"a": (srv, {})}, roots=[root])
    eng.submit({"id": "t", "model": "m", "prompt": "x", "tools": ["read_file"]}, col.reply)
    (result,) = col.wait(1)
    codes = [c["error"]["code"] for c in result["tool_calls"]]
    assert codes == ["path_outside_roots", "tool_not_advertised"]
    sent = json.dumps(chat_bodies(srv)[1]["messages"])
    assert "TOP SECRET" not in sent and "path_outside_roots" in sent


def test_tool_rounds_are_limited(ollama_server, make_engine, tmp_path):
    srv = ollama_server(["m"])
    srv.reply_fn = lambda body: {"tool_calls": [{"name": "list_directory", "arguments": {}}]}
    col = Collector()
    eng = make_engine({"a": (srv, {})}, roots=[tmp_path], tool_rounds=2)
    eng.submit({"id": "t", "model": "m", "prompt": "x", "tools": ["list_directory"]}, col.reply)
    (result,) = col.wait(1)
    assert len(chat_bodies(srv)) == 3
    assert [c["ok"] for c in result["tool_calls"]] == [True, True, False]
    assert result["tool_calls"][-1]["error"]["code"] == "tool_rounds_exhausted"


def test_unknown_tool_name_in_request_fails_the_request(ollama_server, make_engine, tmp_path):
    srv = ollama_server(["m"])
    col = Collector()
    eng = make_engine({"a": (srv, {})}, roots=[tmp_path])
    eng.submit({"id": "t", "model": "m", "prompt": "x", "tools": ["rm_rf"]}, col.reply)
    (result,) = col.wait(1)
    assert result["error"]["code"] == "tool_not_advertised"
    assert srv.counts["/api/chat"] == 0


def test_structured_format_is_passed_and_honoured(ollama_server, make_engine):
    srv = ollama_server(["m"])
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
    col = Collector()
    eng = make_engine({"a": (srv, {})})
    eng.submit({"id": "f", "model": "m", "prompt": "rate", "format": schema}, col.reply)
    (result,) = col.wait(1)
    assert json.loads(result["content"]) == {"score": 0}
    assert chat_bodies(srv)[0]["format"] == schema


def test_context_files_fit_then_trim_then_drop(tmp_path):
    (tmp_path / "a.txt").write_text("A" * 400)  # 100 tokens
    (tmp_path / "b.txt").write_text("B" * 2000)  # 500 tokens: will be cut
    (tmp_path / "c.txt").write_text("C" * 400)  # no room left
    req = from_record(
        {"model": "m", "prompt": "p" * 40, "context": ["a.txt", "b.txt", "c.txt", "../x"]}
    )
    messages, report = build_context(
        req, Sandbox([tmp_path]), num_ctx=600, max_tokens=200, tools=[]
    )
    assert report["budget"] == 400
    dropped = {d["path"]: d for d in report["dropped"]}
    assert dropped["b.txt"]["reason"] == "trimmed" and dropped["b.txt"]["total_chars"] == 2000
    assert dropped["c.txt"]["reason"] == "no_budget"
    assert dropped["../x"]["reason"] == "path_outside_roots"
    system = messages[0]["content"]
    assert "A" * 400 in system and "B" * 100 in system and "CCCC" not in system
    assert sum(estimate_tokens(m["content"]) + 4 for m in messages) <= 400
    assert report["used"] <= report["budget"]


def test_old_messages_are_dropped_to_fit_but_never_the_last(tmp_path):
    msgs = [{"role": "system", "content": "be brief"}] + [
        {"role": "user", "content": "x" * 400} for _ in range(5)
    ]
    req = from_record({"model": "m", "messages": msgs})
    messages, report = build_context(req, None, num_ctx=500, max_tokens=100, tools=[])
    assert messages[0]["role"] == "system" and len(messages) == 4
    assert report["dropped"] == [{"messages": 2, "reason": "over_budget"}]


def test_a_context_directory_contributes_its_files_in_order(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "b.asm").write_text("; bee\n")
    (src / "a.asm").write_text("; ay\n")
    (src / "sub" / "c.asm").write_text("; sea\n")
    (src / "blob.bin").write_bytes(b"\x00\x01")
    (src / "out").symlink_to(tmp_path.parent)  # a symlink out of the roots is never read
    req = from_record({"model": "m", "prompt": "p", "context": ["src"]})
    messages, report = build_context(
        req, Sandbox([tmp_path]), num_ctx=4096, max_tokens=256, tools=[]
    )
    note = messages[0]["content"]
    assert (
        note.index("=== src/a.asm") < note.index("=== src/b.asm") < note.index("=== src/sub/c.asm")
    )
    assert [d["reason"] for d in report["dropped"]] == ["binary_file"]
