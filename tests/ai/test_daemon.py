"""The daemon: shared queue over a Unix socket (and HTTP), submit/status/cancel, client.chat."""

from __future__ import annotations

import httpx
import orjson
import pytest

from hafs_cli.ai import client
from hafs_cli.ai.daemon import Daemon, ask, submit_many
from hafs_cli.ai.errors import AIError
from hafs_cli.ai.session import build_engine
from hafs_cli.config import load_config
from hafs_cli.schemas import validate_record


@pytest.fixture
def daemon(ollama_server, write_config, tmp_path):
    srv = ollama_server(["m"], slots=1)
    write_config({"local": (srv, {})})
    config = load_config()
    engine = build_engine(config, origin="daemon").start()
    d = Daemon(engine, tmp_path / "orch.sock", http="127.0.0.1:0", token="s3cret").start()
    yield d, srv
    d.stop(0.5)


def test_submit_over_the_socket_returns_results(daemon):
    d, srv = daemon
    got = []
    reqs = [{"kind": "request", "id": f"s{i}", "model": "m", "prompt": f"p{i}"} for i in range(5)]
    assert submit_many(d.path, reqs, got.append) == 5
    assert sorted(r["id"] for r in got) == [f"s{i}" for i in range(5)]
    assert all(r["ok"] and validate_record(r) == [] for r in got)


def test_cli_submit_and_status_talk_to_the_daemon(daemon, hafs):
    d, _ = daemon
    stdin = orjson.dumps({"kind": "request", "id": "c1", "model": "m", "prompt": "hey"}) + b"\n"
    r = hafs("orchestrate", "submit", "--only", input=stdin)
    assert r.exit_code == 0, r.stderr
    assert r.records[0]["content"] == "echo: hey"
    r = hafs("orchestrate", "status")
    (status,) = r.records
    assert status["event"] == "status" and status["hosts"][0]["host"] == "local"
    assert status["counts"]["accepted"] >= 1 and validate_record(status) == []
    r = hafs("orchestrate", "cancel", "nope")
    assert r.exit_code == 1 and r.records[0]["found"] is False


def test_client_chat_goes_through_the_daemon_when_it_runs(daemon):
    d, srv = daemon
    answer = client.chat(
        [{"role": "user", "content": "via daemon"}], model="m", priority="interactive"
    )
    assert answer["via"] == "daemon" and answer["content"] == "echo: via daemon"
    assert answer["host"] == "local"
    status = ask(d.path, {"op": "status"})
    assert status["counts"]["ok"] >= 1


def test_client_chat_calls_ollama_directly_without_daemon(ollama_server, write_config):
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    answer = client.chat([{"role": "user", "content": "direct"}], model="m", format="json")
    assert answer["via"] == "direct" and answer["content"] == "{}"
    body = srv.bodies[-1]
    assert body["stream"] is False and body["options"]["num_ctx"] == 8192
    with pytest.raises(AIError) as err:
        client.chat([{"role": "user", "content": "x"}], model="missing")
    assert err.value.code == "model_not_found"
    srv.kill()
    with pytest.raises(AIError) as err:
        client.chat([{"role": "user", "content": "x"}], model="m", timeout=1)
    assert err.value.code == "host_unreachable"


def test_http_listener_requires_the_token(daemon):
    d, _ = daemon
    url = d.http_address
    assert httpx.get(url + "/v1/status").status_code == 401
    assert (
        httpx.get(url + "/v1/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    ok = httpx.post(
        url + "/v1/requests",
        headers={"Authorization": "Bearer s3cret"},
        json={"kind": "request", "id": "h1", "model": "m", "prompt": "over http"},
    )
    assert ok.status_code == 200 and ok.json()["content"] == "echo: over http"


def test_a_second_daemon_on_the_same_socket_is_refused(daemon):
    d, _ = daemon
    with pytest.raises(AIError, match="already serves"):
        Daemon(d.engine, d.path).start()


def test_stopping_the_daemon_answers_every_accepted_request(ollama_server, write_config, tmp_path):
    srv = ollama_server(["m"], slots=1, delay=0.3)
    write_config({"local": (srv, {})})
    engine = build_engine(load_config(), origin="daemon").start()
    d = Daemon(engine, tmp_path / "drain.sock").start()
    got = []
    import threading

    reqs = [{"kind": "request", "id": f"d{i}", "model": "m", "prompt": "x"} for i in range(5)]
    t = threading.Thread(target=submit_many, args=(d.path, reqs, got.append))
    t.start()
    from tests.fixtures.ollama_server import wait_until

    assert wait_until(lambda: srv.active == 1)
    d.stop(0.1)
    t.join(5)
    assert len(got) == 5
    codes = sorted((r.get("error") or {}).get("code", "ok") for r in got)
    assert "shutdown" in codes
    assert not d.path.exists()


def test_a_vanished_client_has_its_requests_cancelled(ollama_server, write_config, tmp_path):
    import socket as socketlib

    from tests.fixtures.ollama_server import wait_until

    srv = ollama_server(["m"], slots=1, delay=30)
    write_config({"local": (srv, {})})
    engine = build_engine(load_config(), origin="daemon").start()
    d = Daemon(engine, tmp_path / "gone.sock").start()
    try:
        sock = socketlib.socket(socketlib.AF_UNIX)
        sock.connect(str(d.path))
        for i in range(3):
            req = {"kind": "request", "id": f"g{i}", "model": "m", "prompt": "x"}
            sock.sendall(orjson.dumps({"op": "submit", "request": req}) + b"\n")
        assert wait_until(lambda: srv.active == 1)
        sock.close()
        done = wait_until(lambda: engine.stats["failed"] == 3, 10)  # not left running 30 s
        assert done, (engine.stats, engine.status())
        assert engine.idle()
    finally:
        d.stop(0)


def test_http_without_token_is_a_configuration_error(hafs, ollama_server, write_config, tmp_path):
    write_config({"local": (ollama_server(["m"]), {})})
    r = hafs("orchestrate", "serve", "--socket", str(tmp_path / "t.sock"), "--http", "127.0.0.1:0")
    assert r.exit_code == 2
    assert b"needs a token" in r.stderr and b"Traceback" not in r.stderr


def test_direct_chat_skips_a_training_gpu_and_a_down_host(ollama_server, write_config, fake_smi):
    from tests.ai.conftest import BUSY

    gpu, down, cpu = ollama_server(["m"]), ollama_server(["m"]), ollama_server(["m"])
    down.kill()
    write_config({"gpu": (gpu, {"tags": ["gpu"]}), "down": (down, {}), "cpu": (cpu, {})})
    fake_smi.set(BUSY)
    answer = client.chat([{"role": "user", "content": "x"}], model="m")
    assert answer["via"] == "direct" and answer["host"] == "cpu"
    assert gpu.counts["/api/chat"] == 0
    answer = client.chat([{"role": "user", "content": "x"}], model="m", priority="training")
    assert answer["host"] == "gpu"


def test_direct_chat_when_every_host_trains_says_so(ollama_server, write_config, fake_smi):
    from tests.ai.conftest import BUSY

    write_config({"gpu": (ollama_server(["m"]), {"tags": ["gpu"]})})
    fake_smi.set(BUSY)
    with pytest.raises(AIError) as err:
        client.chat([{"role": "user", "content": "x"}], model="m")
    assert err.value.code == "host_unreachable" and "busy with training" in err.value.message


def test_status_table_for_people(daemon, hafs):
    r = hafs("orchestrate", "status", "--format", "table")
    assert r.exit_code == 0, r.stderr
    text = r.stdout.decode()
    assert "hosts" in text and "local" in text and "0/1" in text
    assert "interactive" in text and "accepting" in text


def test_many_clients_share_one_queue_and_each_gets_its_own_results(daemon):
    import threading

    d, srv = daemon
    got: dict[int, list[dict]] = {c: [] for c in range(8)}

    def client_run(c: int) -> None:
        reqs = [
            {"kind": "request", "id": f"{i}", "model": "m", "prompt": f"c{c} r{i}"}
            for i in range(10)
        ]  # the same ids in every client: results still go to the right one
        submit_many(d.path, reqs, got[c].append)

    threads = [threading.Thread(target=client_run, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for c, results in got.items():
        assert sorted(r["content"] for r in results) == sorted(
            f"echo: c{c} r{i}" for i in range(10)
        )
    assert srv.max_active == 1  # one slot, shared by all clients


def test_a_client_that_stops_reading_does_not_stall_the_others(daemon):
    import socket as socketlib

    d, srv = daemon
    big = "word " * 4000  # each result echoes ~20 kB back
    stuck = socketlib.socket(socketlib.AF_UNIX)
    stuck.connect(str(d.path))
    try:
        for i in range(150):  # ~3 MB of results it never reads: far beyond socket buffers
            req = {
                "kind": "request",
                "id": f"x{i}",
                "model": "m",
                "prompt": big,
                "priority": "scheduled",
            }
            stuck.sendall(orjson.dumps({"op": "submit", "request": req}) + b"\n")
        from tests.fixtures.ollama_server import wait_until

        assert wait_until(lambda: srv.counts["/api/chat"] >= 150, 30)
        answer = client.chat([{"role": "user", "content": "still there?"}], model="m", timeout=10)
        assert answer["via"] == "daemon" and answer["content"] == "echo: still there?"
    finally:
        stuck.close()


def test_client_embed_returns_one_vector_per_text_in_order(ollama_server, write_config):
    srv = ollama_server(["emb"])
    write_config({"local": (srv, {})})
    vectors = client.embed(["a", "b", "a"], model="emb")
    assert len(vectors) == 3 and vectors[0] == vectors[2] != vectors[1]
    assert srv.bodies[-1] == {"path": "/api/embed", "model": "emb", "input": ["a", "b", "a"]}
    with pytest.raises(AIError) as err:
        client.embed(["a"], model="missing")
    assert err.value.code == "model_not_found" and "missing" in err.value.message


def test_client_embed_skips_a_training_gpu_and_a_down_host(ollama_server, write_config, fake_smi):
    from tests.ai.conftest import BUSY

    gpu, down, cpu = ollama_server(["emb"]), ollama_server(["emb"]), ollama_server(["emb"])
    down.kill()
    write_config({"gpu": (gpu, {"tags": ["gpu"]}), "down": (down, {}), "cpu": (cpu, {})})
    fake_smi.set(BUSY)
    assert len(client.embed(["x"], model="emb")) == 1
    assert gpu.counts["/api/embed"] == 0 and cpu.counts["/api/embed"] == 1


def test_client_embed_on_a_host_that_refuses_connections(write_config):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(AIError) as err:
        client.embed(["x"], model="emb", host=url)
    assert err.value.code == "host_unreachable" and url in err.value.message


def test_serve_never_deletes_a_file_that_is_not_a_socket(
    hafs, ollama_server, write_config, tmp_path
):
    write_config({"local": (ollama_server(["m"]), {})})
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    r = hafs("orchestrate", "serve", "--socket", str(precious))
    assert r.exit_code == 2
    assert r.stderr.decode().startswith(f"hafs: error: {precious} exists and is not a socket")
    assert precious.read_text() == "my notes\n"


def test_client_sorts_failures_like_the_engine(ollama_server, write_config):
    # the direct path shares runner.classify with the engine: a reply that is not Ollama's
    # is a server_error (it used to escape as a pydantic ValidationError), a 503 too
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    srv.reply({"tool_calls": [{"name": "f", "arguments": "not an object"}]})
    with pytest.raises(AIError) as err:
        client.chat([{"role": "user", "content": "x"}], model="m")
    assert err.value.code == "server_error"
    assert err.value.message.startswith(f"{srv.url} sent a malformed reply")
    srv.reply({"status": 503})
    with pytest.raises(AIError) as err:
        client.chat([{"role": "user", "content": "x"}], model="m")
    assert err.value.code == "server_error" and "503" in err.value.message
