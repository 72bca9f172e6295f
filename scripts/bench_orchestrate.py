#!/usr/bin/env python3
"""Benchmark hafs orchestrate against calling the Ollama-protocol server directly.

Usage: .venv/bin/python scripts/bench_orchestrate.py [--requests 400] [--slots 4] [--job-ms 20]

The server (tests/fixtures/ollama_server.py) runs in a separate process so that it does
not share the GIL with the code measured. Both sides use the real `ollama` client with
streaming (what the orchestrator uses). Two figures:

1. dispatch overhead: p50/p90 latency of one request at a time, orchestrated (queue,
   routing, ledger write, result) minus direct. Goal: <= 2 ms at p50.
2. throughput with N parallel slots and a fixed job time: orchestrated requests/s over
   what N direct client threads sustain against the same server. Goal: >= 95 %.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ollama  # noqa: E402

from hafs_cli.ai.engine import Engine  # noqa: E402
from hafs_cli.ai.hosts import hosts_from_config  # noqa: E402
from hafs_cli.ai.ledger import Ledger  # noqa: E402
from hafs_cli.config import load_config  # noqa: E402

SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fixtures.ollama_server import OllamaServer
srv = OllamaServer(["bench:1b"], slots={slots}, delay={delay}, chunks=3).start()
print(srv.url, flush=True)
sys.stdin.read()
srv.stop()
"""


def start_server(slots: int, delay: float) -> tuple[subprocess.Popen, str]:
    code = SERVER.format(root=str(ROOT), slots=slots, delay=delay)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    url = proc.stdout.readline().strip()
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(10)


MESSAGES = [{"role": "user", "content": "benchmark prompt with a few words"}]


def direct_call(client: ollama.Client) -> None:
    for _ in client.chat(
        model="bench:1b", messages=MESSAGES, stream=True, options={"num_ctx": 8192}
    ):
        pass


def make_engine(url: str, slots: int, ledger_dir: Path) -> Engine:
    settings = load_config().section("orchestrate")
    settings["hosts"] = {"bench": {"url": url, "slots": slots}}
    ledger = Ledger(ledger_dir / "bench.sqlite", origin="bench")
    return Engine(settings, hosts_from_config(settings), ledger=ledger).start()


def orchestrated_call(engine: Engine, i: int) -> dict:
    done = threading.Event()
    box: list[dict] = []

    def reply(result: dict) -> None:
        box.append(result)
        done.set()

    engine.submit({"id": f"b{i}", "model": "bench:1b", "messages": MESSAGES}, reply)
    done.wait()
    if not box[0]["ok"]:
        raise SystemExit(f"orchestrated request failed: {box[0]['error']}")
    return box[0]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def latency(n: int, tmp: Path) -> dict:
    """Sequential requests, direct and orchestrated interleaved one by one."""
    proc, url = start_server(slots=1, delay=0.0)
    try:
        client = ollama.Client(host=url)
        engine = make_engine(url, 1, tmp)
        for i in range(20):  # warm up both paths
            direct_call(client)
            orchestrated_call(engine, -i - 1)
        direct, orch = [], []
        cpu_direct = cpu_orch = 0.0
        for i in range(n):  # interleaved, so load on the machine hits both sides alike
            t, c = time.perf_counter(), time.process_time()
            direct_call(client)
            direct.append((time.perf_counter() - t) * 1000)
            cpu_direct += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            orchestrated_call(engine, i)
            orch.append((time.perf_counter() - t) * 1000)
            cpu_orch += time.process_time() - c
        engine.close()
    finally:
        stop_server(proc)
    return {
        "direct_p50_ms": statistics.median(direct),
        "orchestrated_p50_ms": statistics.median(orch),
        # Median of paired differences: each orchestrated call against the direct call
        # made just before it, so load on a shared machine cancels out.
        "overhead_p50_ms": statistics.median(o - d for o, d in zip(orch, direct, strict=True)),
        "overhead_p90_ms": pct(orch, 0.9) - pct(direct, 0.9),
        "cpu_direct_ms": cpu_direct / n * 1000,
        "cpu_orch_ms": cpu_orch / n * 1000,
    }


def _direct_round(clients: list, n: int) -> float:
    counter = iter(range(n))
    lock = threading.Lock()

    def worker(c: ollama.Client) -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            direct_call(c)

    t = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(worker, clients))
    return n / (time.perf_counter() - t)


def _orchestrated_round(engine: Engine, n: int, tag: str) -> float:
    left = threading.Semaphore(0)
    t = time.perf_counter()
    for i in range(n):
        engine.submit(
            {"id": f"{tag}{i}", "model": "bench:1b", "messages": MESSAGES}, lambda r: left.release()
        )
    for _ in range(n):
        left.acquire()
    return n / (time.perf_counter() - t)


def throughput(n: int, slots: int, job_s: float, tmp: Path, rounds: int) -> dict:
    """Alternating rounds of n requests each; medians, so a load spike hits one round only."""
    proc, url = start_server(slots=slots, delay=job_s)
    try:
        clients = [ollama.Client(host=url) for _ in range(slots)]
        for c in clients:
            direct_call(c)
        engine = make_engine(url, slots, tmp)
        direct, orch = [], []
        for r in range(rounds):
            direct.append(_direct_round(clients, n))
            orch.append(_orchestrated_round(engine, n, f"t{r}-"))
        engine.close()
    finally:
        stop_server(proc)
    d, o = statistics.median(direct), statistics.median(orch)
    return {
        "direct_rps": d,
        "orchestrated_rps": o,
        "ratio": o / d,
        "ratios": [b / a for a, b in zip(direct, orch, strict=True)],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--job-ms", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        lat = latency(args.requests, Path(d))
        thr = throughput(args.requests, args.slots, args.job_ms / 1000, Path(d), args.rounds)
    print(f"dispatch overhead, {args.requests} sequential requests, 1 slot, 0 ms jobs:")
    print(
        f"  direct p50 {lat['direct_p50_ms']:.3f} ms, orchestrated p50 {lat['orchestrated_p50_ms']:.3f} ms"
    )
    print(
        f"  overhead p50 {lat['overhead_p50_ms']:.3f} ms (median of paired differences; goal <= 2), "
        f"p90 difference {lat['overhead_p90_ms']:.3f} ms"
    )
    print(
        f"  client-process CPU per request: direct {lat['cpu_direct_ms']:.3f} ms, orchestrated {lat['cpu_orch_ms']:.3f} ms"
    )
    print(
        f"throughput, {args.rounds} alternating rounds of {args.requests} requests, {args.slots} slots, {args.job_ms:g} ms jobs (medians):"
    )
    print(
        f"  direct {thr['direct_rps']:.1f} req/s, orchestrated {thr['orchestrated_rps']:.1f} req/s"
    )
    print(
        f"  ratio {thr['ratio'] * 100:.1f} % (goal >= 95 %); per round: "
        + ", ".join(f"{r * 100:.0f}%" for r in thr["ratios"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
