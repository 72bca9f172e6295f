"""Wiring for the orchestrate command: an engine from the configuration, and `run` mode."""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from hafs_cli.ai import errors as E
from hafs_cli.ai.engine import Engine
from hafs_cli.ai.hosts import hosts_from_config
from hafs_cli.ai.ledger import Ledger, default_path
from hafs_cli.ai.sandbox import Limits, Sandbox


def index_path(context: dict) -> Path:
    from hafs_cli import xdg

    configured = context.get("index", "")
    return Path(configured).expanduser() if configured else xdg.cache_dir() / "context-index.sqlite"


def sandbox_from_config(config: Any) -> Sandbox:
    context = config.section("context")
    return Sandbox(
        context.get("roots", []), Limits.from_config(context), index_path=index_path(context)
    )


def build_engine(
    config: Any,
    *,
    origin: str,
    on_event: Callable[[dict], None] | None = None,
    ledger: bool = True,
) -> Engine:
    settings = config.section("orchestrate")
    hosts = hosts_from_config(settings, config.section("hosts"))
    book = Ledger(default_path(settings.get("ledger", "")), origin=origin) if ledger else None
    return Engine(
        settings, hosts, sandbox=sandbox_from_config(config), ledger=book, on_event=on_event
    )


class Outcome:
    """Counts of one `run`, for the exit status."""

    def __init__(self) -> None:
        self.submitted = 0
        self.ok = 0
        self.failed = 0
        self.unreachable = 0

    def add(self, result: dict) -> None:
        if result.get("ok"):
            self.ok += 1
            return
        self.failed += 1
        if (result.get("error") or {}).get("code") in (E.HOST_UNREACHABLE, E.NO_HOST):
            self.unreachable += 1


def run_stream(
    engine: Engine,
    records: Iterable[dict],
    *,
    forward: Callable[[dict], None],
    emit: Callable[[dict], None],
    events: bool = False,
) -> Outcome:
    """Submit every `request` record as it arrives; write results in completion order.

    Input records are forwarded in order; results and events are written by this thread
    only (the output is never interleaved mid-line). SIGTERM stops reading and drains:
    every accepted request still gets exactly one result.
    """
    out: queue.Queue[tuple[str, Any]] = queue.Queue()
    outcome = Outcome()
    if events:
        engine.on_event = lambda ev: out.put(("emit", ev))
    stop = threading.Event()
    submitted = [0]

    def reader() -> None:
        try:
            for rec in records:
                if stop.is_set():
                    break
                out.put(("forward", rec))
                if rec.get("kind") == "request":
                    submitted[0] += 1
                    # A batch waits for room in a full queue rather than failing its own input.
                    engine.submit(
                        rec, lambda result: out.put(("result", result)), wait_for_room=True
                    )
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            out.put(("raise", exc))
        out.put(("eof", None))

    def handle(what: str, item: Any) -> None:
        if what == "forward":
            forward(item)
        elif what == "emit":
            emit(item)
        elif what == "result":
            outcome.add(item)
            emit(item)
        elif what == "raise":
            raise item

    previous = _on_sigterm(stop.set)
    threading.Thread(target=reader, name="hafs-orchestrate-reader", daemon=True).start()
    eof = draining = False
    try:
        while not (eof and outcome.ok + outcome.failed >= submitted[0]):
            try:
                what, item = out.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set() and not draining:
                    # SIGTERM: read no more (the reader may be blocked on stdin), drain.
                    eof = draining = True
                    threading.Thread(target=engine.drain, daemon=True).start()
                continue
            if what == "eof":
                eof = True
            else:
                handle(what, item)
    finally:
        _restore_sigterm(previous)
    engine.drain(0)  # a request submitted in the very last instant still gets its result
    while not out.empty():
        what, item = out.get_nowait()
        if what not in ("eof", "forward"):
            handle(what, item)
    outcome.submitted = submitted[0]
    return outcome


def _on_sigterm(handler: Callable[[], Any]):
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda *_: handler())


def _restore_sigterm(previous) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


class EventWriter:
    """Events written by a thread of their own: the engine emits them under its lock,
    and a reader that stops reading must not stall the engine."""

    def __init__(self, emit: Callable[[dict], None]) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._emit = emit
        self._thread = threading.Thread(target=self._loop, name="hafs-events", daemon=True)
        self._thread.start()

    def __call__(self, event: dict) -> None:
        self._queue.put(event)

    def _loop(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._emit(event)
            except (OSError, ValueError):
                return  # stdout closed: events are lost, the daemon goes on

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)


def serve(
    config: Any,
    *,
    socket_file: str | None,
    http: str | None,
    emit_event: Callable[[dict], None] | None,
    announce: Callable[[str], None],
) -> None:
    """Run the daemon until SIGTERM or SIGINT, then drain. Raises AIError."""
    import os

    from hafs_cli.ai.daemon import Daemon, socket_path

    settings = config.section("orchestrate")
    events = EventWriter(emit_event) if emit_event is not None else None
    engine = build_engine(config, origin="daemon", on_event=events)
    path = socket_path(socket_file or settings.get("socket", ""))
    token = os.environ.get(settings.get("token_env") or "", "")
    daemon = Daemon(engine, path, http=http or settings.get("http", ""), token=token)
    try:
        engine.start()
        daemon.start()
    except BaseException:
        engine.close()
        if events is not None:
            events.close()
        raise
    where = str(path) + (f" and {daemon.http_address}" if daemon.http_address else "")
    announce(f"serving on {where} (pid {os.getpid()})")
    signame = wait_for_signal()
    announce(f"{signame}: draining")
    daemon.stop()
    if events is not None:
        events.close()


def wait_for_signal() -> str:
    """Block until SIGTERM or SIGINT; returns the signal's name."""
    got = threading.Event()
    name: list[str] = []

    def handler(signum, _frame) -> None:
        name.append(signal.Signals(signum).name)
        got.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not got.wait(0.5):
            pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return name[0]


def ledger_result(row: dict) -> dict:
    """A ledger row as a `result` record (content is not kept in the ledger)."""
    rec: dict[str, Any] = {
        "kind": "result",
        "id": row["id"],
        "ok": bool(row["ok"]) if row["ok"] is not None else False,
        "priority": row["priority"],
        "model": row["used_model"] or row["model"],
        "host": row["host"],
        "routed": row["routed"],
        "queue_wait_ms": row["queue_wait_ms"],
        "run_ms": row["run_ms"],
        "tokens_in": row["tokens_in"],
        "tokens_out": row["tokens_out"],
        "accepted_at": datetime.fromtimestamp(row["accepted_at"])
        .astimezone()
        .isoformat(timespec="seconds"),
        "origin": row["origin"],
    }
    if row["cost"] is not None:
        rec["cost"] = row["cost"]
    if row["finished_at"] is None:
        rec["error"] = {"code": "unfinished", "message": "no result recorded (the process died?)"}
    elif row["error_code"]:
        rec["error"] = {"code": row["error_code"], "message": row["error_message"]}
    return {k: v for k, v in rec.items() if v is not None}
