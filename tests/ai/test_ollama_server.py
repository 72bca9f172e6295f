"""The Ollama-protocol test server behaves like Ollama for the real client and raw HTTP."""

from __future__ import annotations

import threading

import httpx
import ollama
import orjson
import pytest

from tests.fixtures.ollama_server import BUSY, OllamaServer, wait_until

MSG = [{"role": "user", "content": "hello there"}]


def test_chat_non_streaming_and_streaming_agree(ollama_server):
    srv = ollama_server(["m:1"], chunks=3)
    client = ollama.Client(host=srv.url)
    whole = client.chat(model="m:1", messages=MSG)
    assert whole.message.content == "echo: hello there" and whole.done_reason == "stop"
    assert (whole.prompt_eval_count, whole.eval_count) == (2, 3)
    parts = list(client.chat(model="m:1", messages=MSG, stream=True))
    assert "".join(p.message.content for p in parts) == "echo: hello there"
    assert [p.done for p in parts] == [False, False, False, True]
    assert parts[-1].done_reason == "stop" and parts[-1].eval_count == 3


def test_stream_is_ndjson_by_default(ollama_server):
    srv = ollama_server(["m"])
    r = httpx.post(srv.url + "/api/generate", json={"model": "m", "prompt": "a b"})
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(x) for x in r.content.splitlines()]
    assert "".join(x["response"] for x in lines) == "echo: a b" and lines[-1]["done"] is True


def test_errors_have_ollama_status_codes_and_bodies(ollama_server):
    srv = ollama_server(["m"])
    r = httpx.post(srv.url + "/api/chat", json={"messages": MSG})
    assert (r.status_code, r.json()) == (400, {"error": "model is required"})
    r = httpx.post(srv.url + "/api/chat", json={"model": "x", "messages": MSG})
    assert r.status_code == 404 and r.json() == {
        "error": 'model "x" not found, try pulling it first'
    }
    with pytest.raises(ollama.ResponseError) as err:
        ollama.Client(host=srv.url).chat(model="x", messages=MSG)
    assert err.value.status_code == 404


def test_num_predict_cuts_the_reply_with_done_reason_length(ollama_server):
    srv = ollama_server(["m"])
    out = ollama.Client(host=srv.url).generate(
        model="m", prompt="one two three", options={"num_predict": 2}
    )
    assert (out.response, out.done_reason, out.eval_count) == ("echo: one", "length", 2)


def test_tool_calls_and_structured_format(ollama_server):
    srv = ollama_server(["m"])
    srv.reply({"tool_calls": [{"name": "read_file", "arguments": {"path": "a"}}]})
    client = ollama.Client(host=srv.url)
    calls = client.chat(model="m", messages=MSG).message.tool_calls
    assert calls[0].function.name == "read_file" and calls[0].function.arguments == {"path": "a"}
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}}}
    assert orjson.loads(client.chat(model="m", messages=MSG, format=schema).message.content) == {
        "ok": False,
        "n": 0,
    }


def test_load_unload_ps_tags_show_embed_version(ollama_server):
    srv = ollama_server(["m", "e"])
    client = ollama.Client(host=srv.url)
    assert client.chat(model="m", messages=[]).done_reason == "load"
    assert [p.model for p in client.ps().models] == ["m"]
    assert client.generate(model="m", keep_alive=0).done_reason == "unload"
    assert client.ps().models == []
    assert [t.model for t in client.list().models] == ["m", "e"]
    assert "tools" in client.show("m").capabilities
    emb = client.embed(model="e", input=["a", "b"]).embeddings
    assert len(emb) == 2 and len(emb[0]) == 8
    assert httpx.get(srv.url + "/api/version").json() == {"version": "0.12.6"}


def test_slots_bound_concurrency_and_max_queue_gives_503():
    with OllamaServer(["m"], slots=1, max_queue=1, delay=0.3) as srv:
        statuses: list[int] = []

        def call() -> None:
            r = httpx.post(
                srv.url + "/api/chat", json={"model": "m", "messages": MSG, "stream": False}
            )
            statuses.append(r.status_code)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200, 200, 503]
        assert srv.max_active == 1
        assert srv.status_counts[503] == 1


def test_kill_drops_connections_mid_reply():
    srv = OllamaServer(["m"]).start()
    srv.reply({"hang": True})
    errors: list[Exception] = []

    def call() -> None:
        try:
            ollama.Client(host=srv.url).chat(model="m", messages=MSG)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    assert wait_until(lambda: srv.active == 1)
    srv.kill()
    t.join(5)
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError)
    with pytest.raises(ConnectionError):
        ollama.Client(host=srv.url).chat(model="m", messages=MSG)
    assert BUSY.startswith("server busy")


def test_a_message_that_is_not_an_object_is_a_400_like_ollamas(ollama_server):
    srv = ollama_server(["m"])
    for messages in (["hello"], "hello"):
        r = httpx.post(
            srv.url + "/api/chat", json={"model": "m", "messages": messages, "stream": False}
        )
        assert r.status_code == 400
        assert "cannot unmarshal" in r.json()["error"]
