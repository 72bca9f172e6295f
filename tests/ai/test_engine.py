"""The orchestrator against Ollama-protocol test servers standing for several hosts."""

from __future__ import annotations

import threading
import time

import pytest

from hafs_cli.schemas import validate_record
from tests.ai.conftest import BUSY, IDLE
from tests.fixtures.ollama_server import wait_until


class Collector:
    """Results and events, with a way to wait for N results."""

    def __init__(self) -> None:
        self.results: list[dict] = []
        self.events: list[dict] = []
        self._lock = threading.Lock()

    def reply(self, result: dict) -> None:
        with self._lock:
            self.results.append(result)

    def event(self, ev: dict) -> None:
        with self._lock:
            self.events.append(ev)

    def wait(self, n: int, timeout: float = 10) -> list[dict]:
        assert wait_until(lambda: len(self.results) >= n, timeout), (
            f"{len(self.results)} of {n} results"
        )
        return self.results

    def by_id(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.results}

    def started(self) -> list[str]:
        return [e["id"] for e in self.events if e["event"] == "started"]


def request(i, priority="analysis", model="m", **extra) -> dict:
    return {
        "kind": "request",
        "id": f"r{i}",
        "model": model,
        "prompt": f"q{i}",
        "priority": priority,
        **extra,
    }


def test_each_request_gets_exactly_one_valid_result(ollama_server, make_engine):
    a, b = ollama_server(["m"], slots=2), ollama_server(["m"], slots=1)
    col = Collector()
    eng = make_engine({"a": (a, {}), "b": (b, {})})
    for i in range(30):
        eng.submit(request(i), col.reply)
    results = col.wait(30)
    time.sleep(0.05)
    assert sorted(r["id"] for r in results) == sorted(f"r{i}" for i in range(30))
    assert len(results) == 30
    for r in results:
        assert validate_record(r) == []
        assert r["ok"] and r["content"] == f"echo: q{r['id'][1:]}"
        assert r["host"] in ("a", "b") and r["tokens_in"] == 1 and r["tokens_out"] == 2
    assert a.counts["/api/chat"] + b.counts["/api/chat"] == 30
    assert a.max_active <= 2 and b.max_active <= 1


def test_num_ctx_and_num_predict_are_always_set(ollama_server, make_engine):
    srv = ollama_server(["m"])
    col = Collector()
    eng = make_engine({"a": (srv, {})}, num_ctx=2048)
    eng.submit(request(1, max_tokens=64, options={"temperature": 0}), col.reply)
    col.wait(1)
    sent = [b for b in srv.bodies if b["path"] == "/api/chat"][0]
    assert sent["options"] == {"temperature": 0, "num_ctx": 2048, "num_predict": 64}


def test_interactive_request_behind_50_scheduled_starts_within_one_job(ollama_server, make_engine):
    job = 0.3
    srv = ollama_server(["m"], slots=1, delay=job)
    col = Collector()
    eng = make_engine({"a": (srv, {})}, events=col.event, aging_s=0)
    for i in range(50):
        eng.submit(request(i, "scheduled"), col.reply)
    assert wait_until(lambda: len(col.started()) >= 1)
    eng.submit(request("-interactive", "interactive"), col.reply)
    assert wait_until(lambda: "r-interactive" in col.by_id(), 5)
    started = col.started()
    assert started.index("r-interactive") == 1  # right after the one job already running
    wait_ms = col.by_id()["r-interactive"]["queue_wait_ms"]
    # within one running job's time (plus slack for a loaded test machine)
    assert wait_ms < job * 1000 * 1.5
    eng.drain(0)


def test_busy_gpu_host_gets_no_requests_and_idle_models_are_unloaded(
    ollama_server, make_engine, fake_smi
):
    fake_smi.set(BUSY)
    gpu, cpu = ollama_server(["m"], slots=2), ollama_server(["m"], slots=1)
    gpu.loaded["m"] = __import__("datetime").datetime.now(__import__("datetime").UTC)
    col = Collector()
    eng = make_engine(
        {"gpu": (gpu, {"tags": ["gpu"]}), "cpu": (cpu, {"tags": ["cpu"]})}, events=col.event
    )
    for i in range(20):
        eng.submit(request(i, ["interactive", "analysis", "scheduled", 7][i % 4]), col.reply)
    results = col.wait(20)
    assert gpu.counts["/api/chat"] == 0
    assert {r["host"] for r in results} == {"cpu"}
    assert any(e["event"] == "guard_busy" and "utilisation 97%" in e["reason"] for e in col.events)
    assert wait_until(lambda: any(e["event"] == "unload" for e in col.events))
    unload = [b for b in gpu.bodies if b["path"] == "/api/generate"]
    assert unload and unload[0]["keep_alive"] == 0 and unload[0]["model"] == "m"
    assert gpu.ps()["models"] == []


def test_training_class_still_runs_on_a_busy_host(ollama_server, make_engine, fake_smi):
    fake_smi.set(BUSY)
    gpu = ollama_server(["m"])
    col = Collector()
    eng = make_engine({"gpu": (gpu, {"tags": ["gpu"]})})
    eng.submit(request("t", "training"), col.reply)
    eng.submit(request("s", "scheduled", deadline=0.5), col.reply)
    results = col.by_id() if col.wait(2) else {}
    assert results["rt"]["ok"] and results["rt"]["host"] == "gpu"
    assert "training-class request on a guarded host" in results["rt"]["routed"]
    assert results["rs"]["error"]["code"] == "deadline_exceeded"


def test_work_resumes_within_seconds_of_the_guard_clearing(ollama_server, make_engine, fake_smi):
    fake_smi.set(BUSY)
    gpu = ollama_server(["m"])
    col = Collector()
    eng = make_engine({"gpu": (gpu, {"tags": ["gpu"]})}, events=col.event)
    eng.submit(request(1), col.reply)
    time.sleep(0.3)
    assert col.results == [] and gpu.counts["/api/chat"] == 0
    cleared = time.monotonic()
    fake_smi.set(IDLE)
    col.wait(1, timeout=10)
    assert time.monotonic() - cleared < 5  # interval_s 0.05 here (default 2 s); goal < 10 s
    assert any(e["event"] == "guard_clear" for e in col.events)


@pytest.mark.parametrize("state,reason", [("sleep", "took over"), ("fail", "exited 9")])
def test_a_slow_or_failing_probe_counts_as_busy(
    ollama_server, make_engine, fake_smi, state, reason
):
    fake_smi.set(state)
    gpu, cpu = ollama_server(["m"]), ollama_server(["m"])
    col = Collector()
    eng = make_engine({"gpu": (gpu, {"tags": ["gpu"]}), "cpu": (cpu, {})}, events=col.event)
    eng.submit(request(1), col.reply)
    assert col.wait(1)[0]["host"] == "cpu"
    assert any(e["event"] == "guard_busy" and reason in e["reason"] for e in col.events)


def test_lock_file_makes_a_local_host_busy(ollama_server, make_engine, fake_smi, tmp_path):
    lock = tmp_path / "training.lock"
    lock.touch()
    gpu, cpu = ollama_server(["m"]), ollama_server(["m"])
    col = Collector()
    eng = make_engine(
        {"gpu": (gpu, {"tags": ["gpu"]}), "cpu": (cpu, {})}, guard={"lock_files": [str(lock)]}
    )
    for i in range(5):
        eng.submit(request(i), col.reply)
    assert {r["host"] for r in col.wait(5)} == {"cpu"}


def test_host_killed_mid_run_still_gives_one_result_per_request(ollama_server, make_engine):
    a = ollama_server(["m"], slots=2, delay=0.3)
    b = ollama_server(["m"], slots=2, delay=0.02)
    col = Collector()
    eng = make_engine({"a": (a, {"tags": ["gpu"], "guard": "off"}), "b": (b, {})}, events=col.event)
    for i in range(40):
        eng.submit(request(i), col.reply)
    assert wait_until(lambda: a.active == 2)
    a.kill()
    results = col.wait(40, timeout=15)
    time.sleep(0.1)
    assert len(results) == 40
    assert sorted(r["id"] for r in results) == sorted(f"r{i}" for i in range(40))
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    assert any(e["event"] == "host_down" and e["host"] == "a" for e in col.events)
    assert sum(e["event"] == "requeued" for e in col.events) >= 2


def test_503_is_retried_with_backoff_then_succeeds(ollama_server, make_engine):
    srv = ollama_server(["m"])
    srv.reply({"status": 503})
    col = Collector()
    eng = make_engine({"a": (srv, {})}, retries=2)
    eng.submit(request(1), col.reply)
    result = col.wait(1)[0]
    assert result["ok"] and result["attempts"] == 2
    assert srv.status_counts[503] == 1


def test_persistent_503_moves_the_request_to_another_host(ollama_server, make_engine):
    bad, good = ollama_server(["m"]), ollama_server(["m"])
    bad.reply_fn = lambda body: {"status": 503}
    col = Collector()
    eng = make_engine(
        {"bad": (bad, {"tags": ["gpu"], "guard": "off"}), "good": (good, {})}, retries=1
    )
    eng.submit(request(1), col.reply)
    result = col.wait(1)[0]
    assert result["ok"] and result["host"] == "good"
    assert bad.status_counts[503] == 2


def test_fallback_model_when_no_host_has_the_requested_one(ollama_server, make_engine):
    srv = ollama_server(["small:8b"])
    col = Collector()
    eng = make_engine({"a": (srv, {})}, fallback_models={"big:70b": "small:8b"})
    eng.submit(request(1, model="big:70b"), col.reply)
    eng.submit(request(2, model="other"), col.reply)
    got = col.by_id() if col.wait(2) else {}
    assert got["r1"]["ok"] and got["r1"]["model"] == "small:8b"
    assert "fallback from big:70b" in got["r1"]["routed"]
    assert got["r2"]["error"]["code"] == "no_host"
    assert "pull it" in got["r2"]["error"]["message"]


def test_queue_full_gives_a_structured_error_result(ollama_server, make_engine):
    srv = ollama_server(["m"], delay=0.25)
    col = Collector()
    eng = make_engine({"a": (srv, {})}, queue_limits={"scheduled": 2})
    eng.submit(request(0, "scheduled"), col.reply)
    assert wait_until(lambda: srv.active == 1)
    for i in range(1, 5):
        eng.submit(request(i, "scheduled"), col.reply)
    full = [r for r in col.wait(2) if not r["ok"]]
    assert [r["id"] for r in full] == ["r3", "r4"]
    assert full[0]["error"]["code"] == "queue_full" and validate_record(full[0]) == []
    eng.submit(request(9, "interactive"), col.reply)  # another class is not affected
    assert col.wait(6, timeout=10) and col.by_id()["r9"]["ok"]


def test_cancel_waiting_and_running_requests(ollama_server, make_engine):
    srv = ollama_server(["m"], delay=30)
    col = Collector()
    eng = make_engine({"a": (srv, {})})
    eng.submit(request("run"), col.reply)
    assert wait_until(lambda: srv.active == 1)
    eng.submit(request("wait"), col.reply)
    assert eng.cancel("rwait") and eng.cancel("rrun") and not eng.cancel("nope")
    got = col.by_id() if col.wait(2, timeout=10) else {}
    assert got["rwait"]["error"]["code"] == "cancelled"
    assert got["rrun"]["error"]["code"] == "cancelled"
    assert got["rrun"]["run_ms"] < 10_000  # the connection was cut, not waited out (30 s)


def test_drain_gives_queued_requests_a_shutdown_result(ollama_server, make_engine):
    srv = ollama_server(["m"], delay=0.2)
    col = Collector()
    eng = make_engine({"a": (srv, {})})
    for i in range(6):
        eng.submit(request(i), col.reply)
    assert wait_until(lambda: srv.active == 1)
    eng.drain(0.3)
    results = col.wait(6)
    codes = sorted((r.get("error") or {}).get("code", "ok") for r in results)
    assert len(results) == 6 and "shutdown" in codes and "ok" in codes
    late = []
    eng.submit(request(99), late.append)
    assert late[0]["error"]["code"] == "shutdown"


def test_host_down_at_start_requests_wait_then_fail_unreachable(ollama_server, make_engine):
    srv = ollama_server(["m"])
    srv.kill()
    col = Collector()
    eng = make_engine({"a": (srv, {})}, wait_for_host_s=0.3)
    eng.submit(request(1), col.reply)
    result = col.wait(1, timeout=5)[0]
    assert result["error"]["code"] == "host_unreachable"
    assert "orchestrate.wait_for_host_s" in result["error"]["message"]


def test_paid_route_only_when_enabled_and_within_budget(ollama_server, make_engine):
    local, paid = ollama_server(["m"]), ollama_server(["cloud"])
    hosts = {
        "local": (local, {}),
        "paid": (paid, {"paid": True, "cost_in_per_mtok": 1e6, "cost_out_per_mtok": 1e6}),
    }
    col = Collector()
    off = make_engine(hosts, ledger=True)
    off.submit(request(1, model="cloud"), col.reply)
    assert col.wait(1)[0]["error"]["code"] == "no_host" and paid.counts["/api/chat"] == 0
    on = make_engine(hosts, ledger=True, paid={"enabled": True, "budget": 4})
    on.submit(request(2, model="cloud"), col.reply)
    second = col.wait(2)[1]
    assert second["ok"] and second["cost"] == 3.0  # 1 token in + 2 out at 1 per token
    on.submit(request(3, model="cloud"), col.reply)
    col.wait(3)
    on.submit(request(4, model="cloud"), col.reply)  # 6.0 spent > budget 4
    assert col.wait(4)[3]["error"]["code"] == "no_host"
    assert on.ledger.paid_spent() == 6.0
    rows = {r["id"]: r for r in on.ledger.query()}
    assert rows["r2"]["paid"] == 1 and rows["r2"]["cost"] == 3.0 and rows["r2"]["host"] == "paid"


def test_1000_random_requests_end_to_end_have_no_ordering_violations(ollama_server, make_engine):
    """Random classes and integer ranks, three servers, aging on: the start order obeys
    strict priority and FIFO, except where aging (checked from the engine's own clock
    readings in the events) let an older request rise."""
    import random

    rnd = random.Random(7)
    aging = 0.05
    hosts = {
        "a": (ollama_server(["m"], slots=1), {}),
        "b": (ollama_server(["m"], slots=1), {}),
        "c": (ollama_server(["m"], slots=2), {}),
    }
    col = Collector()
    eng = make_engine(hosts, events=col.event, aging_s=aging)
    for i in range(1000):
        pr = rnd.choice(["training", "interactive", "analysis", "scheduled", "scheduled", 5, 9])
        eng.submit(request(i, pr), col.reply)
    results = col.wait(1000, timeout=60)
    assert all(r["ok"] for r in results)

    def aged(rank: int, arrived: float, now: float) -> int:
        return rank if rank <= 1 else max(1, rank - int((now - arrived) / aging))

    with col._lock:
        events = list(col.events)
    waiting: dict[str, tuple[int, float, int]] = {}  # id -> (rank, arrived, sequence)
    violations = seq = 0
    for ev in events:
        if ev["event"] == "accepted":
            seq += 1
            waiting[ev["id"]] = (ev["rank"], ev["at"], seq)
        elif ev["event"] == "started":
            now = ev["at"]
            rank, arrived, mine = waiting.pop(ev["id"])
            my_key = (aged(rank, arrived, now), mine)
            for o_rank, o_arrived, o_seq in waiting.values():
                if (aged(o_rank, o_arrived, now), o_seq) < my_key:
                    violations += 1
    assert violations == 0
    assert not waiting


def test_training_process_and_pid_file_make_a_local_host_busy(
    ollama_server, make_engine, fake_smi, tmp_path
):
    import subprocess
    import sys

    marker = "hafs-fake-train-run-7"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        gpu, cpu = ollama_server(["m"]), ollama_server(["m"])
        col = Collector()
        eng = make_engine(
            {"gpu": (gpu, {"tags": ["gpu"]}), "cpu": (cpu, {})},
            guard={"processes": [marker]},
            events=col.event,
        )
        eng.submit(request(1), col.reply)
        assert col.wait(1)[0]["host"] == "cpu"
        assert any(marker in e.get("reason", "") for e in col.events if e["event"] == "guard_busy")
    finally:
        proc.kill()
        proc.wait()
    pid_file = tmp_path / "train.pid"
    pid_file.write_text(f"{proc.pid}\n")  # a dead PID: not busy
    gpu2 = ollama_server(["m"])
    col = Collector()
    eng = make_engine({"gpu": (gpu2, {"tags": ["gpu"]})}, guard={"pid_files": [str(pid_file)]})
    eng.submit(request(2), col.reply)
    assert col.wait(1)[0]["host"] == "gpu"


def test_default_model_fills_requests_that_name_none(ollama_server, make_engine):
    srv = ollama_server(["qwen3:8b"])
    col = Collector()
    eng = make_engine({"a": (srv, {})}, default_model="qwen3:8b")
    eng.submit({"id": "x", "prompt": "hi"}, col.reply)
    assert col.wait(1)[0]["model"] == "qwen3:8b"


def test_standby_cpu_route_only_while_the_gpu_trains(ollama_server, make_engine, fake_smi):
    gpu, cpu = ollama_server(["m"]), ollama_server(["m"])
    hosts = {
        "gpu": (gpu, {"tags": ["gpu"]}),
        "gpu-cpu": (cpu, {"guard": "off", "standby_for": "gpu", "options": {"num_gpu": 0}}),
    }
    col = Collector()
    eng = make_engine(hosts)
    for i in range(4):
        eng.submit(request(i), col.reply)
    assert {r["host"] for r in col.wait(4)} == {"gpu"} and cpu.counts["/api/chat"] == 0
    fake_smi.set(BUSY)
    assert wait_until(lambda: eng.hosts[0].busy, 5)
    eng.submit(request("busy"), col.reply)
    result = col.wait(5)[-1]
    assert result["host"] == "gpu-cpu" and "standing in for gpu" in result["routed"]
    assert [b for b in cpu.bodies if b["path"] == "/api/chat"][0]["options"]["num_gpu"] == 0


def test_standby_for_an_unknown_host_is_a_configuration_error():
    from hafs_cli.ai.errors import AIError
    from hafs_cli.ai.hosts import hosts_from_config

    with pytest.raises(AIError, match="not a configured host"):
        hosts_from_config({"hosts": {"cpu": {"url": "http://127.0.0.1:1", "standby_for": "gpu"}}})


def test_a_host_that_comes_back_is_used_again(ollama_server, make_engine):
    srv = ollama_server(["m"])
    srv.kill()
    col = Collector()
    eng = make_engine({"a": (srv, {})}, events=col.event, wait_for_host_s=30)
    eng.submit(request(1), col.reply)
    time.sleep(0.3)
    assert col.results == []  # waiting for the host, not failed
    srv.restart()
    result = col.wait(1, timeout=10)[0]
    assert result["ok"] and result["host"] == "a"
    assert any(e["event"] == "host_up" for e in col.events)


def test_fallback_model_on_a_live_host_beats_waiting_for_a_dead_one(ollama_server, make_engine):
    big, small = ollama_server(["big:70b"]), ollama_server(["small:8b"])
    big.kill()  # down from the start: nobody knows its models
    col = Collector()
    eng = make_engine(
        {"big": (big, {}), "small": (small, {})},
        fallback_models={"big:70b": "small:8b"},
        wait_for_host_s=30,
    )
    eng.submit(request(1, model="big:70b"), col.reply)
    result = col.wait(1, timeout=5)[0]
    assert result["ok"] and (result["host"], result["model"]) == ("small", "small:8b")
    assert result["queue_wait_ms"] < 2000  # did not wait for the dead host


def test_a_malformed_reply_moves_the_request_to_another_host(ollama_server, make_engine):
    bad, good = ollama_server(["m"]), ollama_server(["m"])
    bad.reply_fn = lambda body: {"tool_calls": [{"function": {"name": 42}}]}  # not Ollama's shape
    col = Collector()
    eng = make_engine({"bad": (bad, {"tags": ["gpu"], "guard": "off"}), "good": (good, {})})
    eng.submit(request(1), col.reply)
    result = col.wait(1)[0]
    assert result["ok"] and result["host"] == "good"


def test_a_pinned_host_that_cannot_run_the_request_is_named_as_the_reason(
    ollama_server, make_engine
):
    a, b = ollama_server(["m"]), ollama_server(["other"])
    col = Collector()
    eng = make_engine({"a": (a, {}), "b": (b, {})})
    eng.submit(request(1, host="nowhere"), col.reply)
    eng.submit(request(2, host="b"), col.reply)
    got = {r["id"]: r for r in col.wait(2)}
    assert got["r1"]["error"] == {
        "code": "no_host",
        "message": "request r1 pins host 'nowhere', which is not in [orchestrate.hosts] "
        "(configured: a, b); drop `host` or configure it",
    }
    assert got["r2"]["error"] == {
        "code": "no_host",
        "message": "request r2 pins host 'b', which does not have model m (it has: other); "
        "pull it there (ollama pull m) or drop `host`",
    }
    assert a.counts["/api/chat"] == b.counts["/api/chat"] == 0
