"""The guard over real SSH, and SIGTERM to a real `hafs orchestrate serve` process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson

from hafs_cli.ai.daemon import ping, submit_many
from tests.ai.conftest import BUSY, IDLE
from tests.ai.test_engine import Collector, request
from tests.fixtures.ollama_server import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_guard_probes_a_remote_gpu_over_ssh(ollama_server, make_engine, fake_smi, sshd):
    fake_smi.set(BUSY)
    remote, local = ollama_server(["m"]), ollama_server(["m"])
    col = Collector()
    ssh_hosts = {"box": {"address": sshd.alias, "ssh_config": str(sshd.ssh_config)}}
    smi = str(fake_smi.state.parent / "nvidia-smi")  # absolute: the ssh session has its own PATH
    eng = make_engine(
        {"remote": (remote, {"tags": ["gpu"], "ssh_host": "box"}), "local": (local, {})},
        ssh_hosts=ssh_hosts,
        events=col.event,
        guard={"nvidia_smi": smi, "probe_timeout_s": 5, "interval_s": 0.1},
    )
    logins = sshd.accepted_logins()
    for i in range(6):
        eng.submit(request(i), col.reply)
    assert {r["host"] for r in col.wait(6)} == {"local"}
    assert remote.counts["/api/chat"] == 0
    fake_smi.set(IDLE)
    assert wait_until(lambda: any(e["event"] == "guard_clear" for e in col.events), 10)
    assert sshd.accepted_logins() > logins  # the probe really went over ssh
    eng.submit(request("after", host="remote"), col.reply)
    assert col.wait(7)[-1]["host"] == "remote"


def test_remote_lock_file_makes_the_remote_host_busy(
    ollama_server, make_engine, fake_smi, sshd, tmp_path
):
    lock = tmp_path / "it's training.lock"  # quoting matters: the remote shell sees it
    lock.touch()
    remote, local = ollama_server(["m"]), ollama_server(["m"])
    col = Collector()
    eng = make_engine(
        {"remote": (remote, {"tags": ["gpu"], "ssh_host": "box"}), "local": (local, {})},
        ssh_hosts={"box": {"address": sshd.alias, "ssh_config": str(sshd.ssh_config)}},
        events=col.event,
        guard={
            "nvidia_smi": str(fake_smi.state.parent / "nvidia-smi"),
            "lock_files": [str(lock), str(tmp_path / "absent.lock")],
            "probe_timeout_s": 5,
        },
    )
    eng.submit(request(1), col.reply)
    assert col.wait(1)[0]["host"] == "local"  # the GPU itself is idle: the lock decides
    busy = [e for e in col.events if e["event"] == "guard_busy"]
    assert (
        busy and "on the remote host" in busy[0]["reason"] and "it's training" in busy[0]["reason"]
    )
    lock.unlink()
    assert wait_until(lambda: any(e["event"] == "guard_clear" for e in col.events), 10)


def test_sigterm_drains_the_daemon_and_every_request_gets_a_result(
    ollama_server, write_config, tmp_path
):
    srv = ollama_server(["m"], slots=1, delay=0.4)
    write_config({"local": (srv, {})}, extra="")
    sock = tmp_path / "orch.sock"
    env = {**os.environ, "HAFS_ORCHESTRATE__DRAIN_TIMEOUT_S": "0.6"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hafs_cli",
            "orchestrate",
            "serve",
            "--events",
            "--socket",
            str(sock),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,  # `python -m hafs_cli` from the source tree
        env=env,
    )
    try:
        assert wait_until(lambda: sock.exists() and ping(sock), 15)
        got: list[dict] = []
        reqs = [request(i) for i in range(5)]
        t = threading.Thread(target=submit_many, args=(sock, reqs, got.append))
        t.start()
        assert wait_until(lambda: srv.active == 1, 5)
        proc.send_signal(signal.SIGTERM)
        t.join(15)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert b"SIGTERM: draining" in err
    events = [orjson.loads(line) for line in out.splitlines()]
    names = [e["event"] for e in events]
    assert names.count("accepted") == 5 and names.count("finished") == 5 and "drain" in names
    assert sorted(r["id"] for r in got) == [f"r{i}" for i in range(5)]
    codes = [(r.get("error") or {}).get("code", "ok") for r in got]
    assert "ok" in codes and "shutdown" in codes
    assert not sock.exists()


def _orchestrate_run(env: dict | None = None) -> subprocess.Popen:
    """`hafs orchestrate run --only` as a real process, its three streams piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "hafs_cli", "orchestrate", "run", "--only"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,  # `python -m hafs_cli` from the source tree
        env=env,
    )


def test_sigterm_during_run_drains_with_stdin_still_open(ollama_server, write_config):
    srv = ollama_server(["m"], slots=1, delay=0.3)
    write_config({"local": (srv, {})})
    proc = _orchestrate_run({**os.environ, "HAFS_ORCHESTRATE__DRAIN_TIMEOUT_S": "0.5"})
    try:
        for i in range(4):
            proc.stdin.write(orjson.dumps(request(i)) + b"\n")
        proc.stdin.flush()  # and keep stdin open: the reader stays blocked on it
        assert wait_until(lambda: srv.active == 1, 15)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    results = [orjson.loads(line) for line in out.splitlines()]
    assert sorted(r["id"] for r in results) == [f"r{i}" for i in range(4)], err
    codes = [(r.get("error") or {}).get("code", "ok") for r in results]
    assert "ok" in codes and "shutdown" in codes
    assert proc.returncode == 1  # some requests did not run


def test_run_streams_each_result_as_soon_as_it_is_known(ollama_server, write_config):
    srv = ollama_server(["m"])
    write_config({"local": (srv, {})})
    proc = _orchestrate_run()
    try:
        proc.stdin.write(orjson.dumps(request("first")) + b"\n")
        proc.stdin.flush()  # stdin stays open: the result must not wait for EOF
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "no result while the input is still open"
        line = proc.stdout.readline()
        assert orjson.loads(line)["id"] == "rfirst"
        proc.stdin.close()
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
