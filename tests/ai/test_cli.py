"""`hafs orchestrate run` and `log` through the CLI, against test servers."""

from __future__ import annotations

import orjson

from hafs_cli.schemas import validate_record


def lines(*recs: dict) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in recs)


def test_run_forwards_input_and_adds_one_result_per_request(hafs, ollama_server, write_config):
    srv = ollama_server(["m"], slots=2)
    write_config({"local": (srv, {})})
    stdin = lines(
        {"kind": "file", "path": "a.txt", "size": 1},
        {"kind": "request", "id": "q1", "model": "m", "prompt": "hello there"},
        {
            "kind": "request",
            "id": "q2",
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    r = hafs("orchestrate", "run", input=stdin)
    assert r.exit_code == 0, r.stderr
    kinds = [rec["kind"] for rec in r.records]
    assert kinds.count("request") == 2 and kinds.count("file") == 1 and kinds.count("result") == 2
    results = {rec["id"]: rec for rec in r.records if rec["kind"] == "result"}
    assert results["q1"]["content"] == "echo: hello there"
    assert results["q2"]["content"] == "echo: hi"
    for rec in r.records:
        if rec["kind"] == "result":
            assert validate_record(rec) == []


def test_run_only_with_events_validates_and_fails_bad_requests(hafs, ollama_server, write_config):
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    stdin = (
        lines(
            {"kind": "request", "id": "good", "model": "m", "prompt": "x"},
            {"kind": "request", "id": "bad", "prompt": "no model"},
            {"kind": "request", "id": "prio", "model": "m", "prompt": "x", "priority": "urgent"},
        )
        + b"not json\n"
    )
    r = hafs("orchestrate", "run", "--only", "--events", input=stdin)
    assert r.exit_code == 2  # a bad input line outranks failed requests
    assert {rec["kind"] for rec in r.records} == {"result", "event"}
    for rec in r.records:
        assert validate_record(rec) == [], rec
    results = {rec["id"]: rec for rec in r.records if rec["kind"] == "result"}
    assert results["good"]["ok"]
    assert results["bad"]["error"] == {
        "code": "bad_request",
        "message": "request bad: `model` is required (a model name)",
    }
    assert results["prio"]["error"]["code"] == "bad_request"
    assert len(r.errors) == 1


def test_run_exit_1_when_some_fail_and_3_when_no_host_answers(hafs, ollama_server, write_config):
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    r = hafs("orchestrate", "run", "--only", input=lines(
        {"kind": "request", "id": "1", "model": "m", "prompt": "x"},
        {"kind": "request", "id": "2", "model": "absent", "prompt": "x"},
    ))  # fmt: skip
    assert r.exit_code == 1
    srv.kill()
    r = hafs("orchestrate", "run", "--only", input=lines({"kind": "request", "id": "3", "model": "m", "prompt": "x"}),
             env={"HAFS_ORCHESTRATE__WAIT_FOR_HOST_S": "0.2"})  # fmt: skip
    assert r.exit_code == 3
    error = r.records[0]["error"]
    assert error["code"] == "host_unreachable"
    # which host, where, why, and what to do
    assert f"local at {srv.url}: " in error["message"]
    assert error["message"].endswith(
        "start Ollama there (ollama serve) or check the url in [orchestrate.hosts]"
    )


def test_a_host_url_that_can_never_work_is_a_configuration_error(hafs, tmp_path, monkeypatch):
    import time

    for url, why in [
        ("not a url", "no host name"),
        ("ftp://127.0.0.1:11434", "scheme 'ftp' is not http or https"),
        ("http://127.0.0.1:port", "Port could not be cast"),
    ]:
        path = tmp_path / "hafs.toml"
        path.write_text(f'[orchestrate.hosts.box]\nurl = "{url}"\n')
        monkeypatch.setenv("HAFS_CONFIG", str(path))
        began = time.monotonic()
        r = hafs(
            "orchestrate",
            "run",
            "--no-ledger",
            input=lines({"kind": "request", "id": "1", "model": "m", "prompt": "x"}),
        )
        assert time.monotonic() - began < 10  # not orchestrate.wait_for_host_s (60 s)
        assert r.exit_code == 2, r.stderr
        assert r.stderr.decode().startswith(
            f"hafs: error: orchestrate.hosts.box.url '{url}' is not an Ollama URL ({why}"
        )
        assert b"write it like http://127.0.0.1:11434" in r.stderr


def test_log_lists_ledger_entries_and_totals(hafs, ollama_server, write_config):
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    hafs("orchestrate", "run", input=lines(
        {"kind": "request", "id": "a", "model": "m", "prompt": "one two", "priority": "interactive"},
        {"kind": "request", "id": "b", "model": "nope", "prompt": "x"},
        {"kind": "request", "id": "c", "prompt": "no model"},
    ))  # fmt: skip
    r = hafs("orchestrate", "log")
    assert r.exit_code == 0, r.stderr
    got = {rec["id"]: rec for rec in r.records}
    assert got["a"]["ok"] and got["a"]["host"] == "local" and got["a"]["priority"] == "interactive"
    assert got["a"]["tokens_in"] == 2 and got["a"]["tokens_out"] == 3
    assert got["b"]["error"]["code"] == "no_host"
    assert got["c"]["error"]["code"] == "bad_request"  # refusals are in the ledger too
    assert all(validate_record(rec) == [] for rec in r.records)
    r = hafs("orchestrate", "log", "--failed")
    assert [rec["id"] for rec in r.records] == ["b", "c"]
    r = hafs("orchestrate", "log", "--totals")
    (summary,) = r.records
    assert (summary["requests"], summary["ok"], summary["failed"]) == (3, 1, 2)
    assert summary["tokens_in"] == 2 and validate_record(summary) == []
    (failed,) = hafs("orchestrate", "log", "--totals", "--failed").records
    assert (failed["requests"], failed["ok"], failed["failed"]) == (2, 0, 2)
    (on_local,) = hafs("orchestrate", "log", "--totals", "--host", "local").records
    assert (on_local["requests"], on_local["ok"], on_local["tokens_in"]) == (1, 1, 2)
    r = hafs("orchestrate", "log", "--limit", "1")
    assert [rec["id"] for rec in r.records] == ["c"]
    r = hafs("orchestrate", "log", "--limit", "-5")  # SQLite reads LIMIT -5 as no limit
    assert r.exit_code == 2 and b"--limit" in r.stderr and r.records == []


def test_log_without_ledger_is_a_clear_error(hafs, write_config, ollama_server):
    write_config({"local": (ollama_server(["m"]), {})})
    r = hafs("orchestrate", "log")
    assert r.exit_code == 2
    assert b"no ledger at" in r.stderr and b"Traceback" not in r.stderr


def test_status_without_daemon_exits_3(hafs, write_config, ollama_server):
    write_config({"local": (ollama_server(["m"]), {})})
    r = hafs("orchestrate", "status")
    assert r.exit_code == 3
    assert b"start `hafs orchestrate serve`" in r.stderr


def test_help_has_examples_and_exit_statuses(hafs):
    for sub in ("run", "serve", "submit", "status", "cancel", "log", "index"):
        r = hafs("orchestrate", sub, "--help")
        assert r.exit_code == 0
        assert b"Examples:" in r.stdout and b"Exit status:" in r.stdout


def test_bare_orchestrate_reads_requests_like_run(hafs, ollama_server, write_config):
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    r = hafs(
        "orchestrate", input=lines({"kind": "request", "id": "b", "model": "m", "prompt": "bare"})
    )
    assert r.exit_code == 0, r.stderr
    assert [rec["kind"] for rec in r.records] == ["request", "result"]
    assert r.records[1]["content"] == "echo: bare"


def test_index_builds_the_search_index_of_the_context_roots(
    hafs, tmp_path, write_config, ollama_server
):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "bank00.asm").write_text("; Link's sword upgrade routine\nlda #$02\n")
    write_config(
        {"local": (ollama_server(["m"]), {})},
        extra=f'[context]\nroots = ["{root}"]\nindex = "{tmp_path / "idx.sqlite"}"\n',
    )
    r = hafs("orchestrate", "index")
    assert r.exit_code == 0, r.stderr
    (summary,) = r.records
    assert summary["indexed"] == 1 and validate_record(summary) == []
    from hafs_cli.ai.sandbox import Sandbox
    from hafs_cli.ai.tools import ToolBox

    sb = Sandbox([root], index_path=tmp_path / "idx.sqlite")
    out = ToolBox(sb, ["search_index"]).call("search_index", {"query": "sword"})
    assert out["ok"] and "bank00.asm" in out["output"]


def test_run_waits_for_room_instead_of_refusing_its_own_batch(hafs, ollama_server, write_config):
    srv = ollama_server(["m"], delay=0.02)
    write_config({"local": (srv, {})}, extra="[orchestrate.queue_limits]\nscheduled = 2\n")
    reqs = [
        {"kind": "request", "id": f"s{i}", "model": "m", "prompt": "x", "priority": "scheduled"}
        for i in range(8)
    ]
    r = hafs("orchestrate", "run", "--only", input=lines(*reqs))
    assert r.exit_code == 0, r.records
    assert sorted(rec["id"] for rec in r.records) == sorted(f"s{i}" for i in range(8))


def test_bare_orchestrate_takes_runs_options(hafs, ollama_server, write_config):
    # the group's help says: without a subcommand, like `run`, with run's options
    write_config({"local": (ollama_server(["m"]), {})})
    stdin = lines(
        {"kind": "file", "path": "x"}, {"kind": "request", "id": "1", "model": "m", "prompt": "hi"}
    )
    r = hafs("orchestrate", "--only", "--no-ledger", input=stdin)
    assert r.exit_code == 0, r.stderr
    assert [(x["kind"], x["id"], x["content"]) for x in r.records] == [("result", "1", "echo: hi")]
