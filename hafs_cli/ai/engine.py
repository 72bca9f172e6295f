"""The orchestrator: one queue, many hosts, exactly one result per accepted request.

Threads: a dispatcher that matches waiting requests with free host slots (priority order,
see queue.py; host choice, see hosts.choose_host), one worker per running request, one
guard prober per guarded host and one discovery loop. All shared state is protected by
one condition variable; every state change notifies it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from hafs_cli.ai import errors as E
from hafs_cli.ai.context import build_context
from hafs_cli.ai.errors import AIError
from hafs_cli.ai.hosts import Host, HostProber, choose_host
from hafs_cli.ai.ledger import Ledger
from hafs_cli.ai.monitor import HostMonitor
from hafs_cli.ai.queue import RequestQueue
from hafs_cli.ai.request import CLASSES, Request, from_record
from hafs_cli.ai.runner import CallSettings, HostFailure, execute
from hafs_cli.ai.sandbox import Sandbox
from hafs_cli.ai.tools import ToolBox

Reply = Callable[[dict], None]
STATUS_WAITING = 200  # status lists at most this many waiting requests (in order)
SWEEP_S = 1.0  # how often waiting requests are checked for hosts that stayed down


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts or time.time(), UTC).isoformat(timespec="milliseconds")


def error_result(req_id: str, code: str, message: str, **fields: Any) -> dict:
    return {
        "kind": "result",
        "id": req_id,
        "ok": False,
        "error": {"code": code, "message": message},
        **fields,
    }


class Engine:
    def __init__(
        self,
        settings: dict,
        hosts: list[Host],
        *,
        sandbox: Sandbox | None = None,
        ledger: Ledger | None = None,
        on_event: Callable[[dict], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.hosts = hosts
        self.sandbox = sandbox
        self.ledger = ledger
        self.on_event = on_event
        self.clock = clock
        self.queue = RequestQueue(
            aging_s=float(settings.get("aging_s", 60)), limits=settings.get("queue_limits", {})
        )
        self.prober = HostProber(float(settings.get("connect_timeout_s", 3)))
        self._cond = threading.Condition()
        self._running: dict[int, Request] = {}  # by identity: ids of different clients may clash
        self._rows: dict[int, int] = {}  # id(Request) -> ledger row
        self._in_use: dict[str, Counter[str]] = {h.name: Counter() for h in hosts}
        self._accepting = True
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self.monitor = HostMonitor(
            self.prober, self._cond, self._event, self._in_use, settings, clock,
            stopped=lambda: self._stopped,
        )  # fmt: skip
        slots = sum(h.slots for h in hosts)
        self._pool = ThreadPoolExecutor(max_workers=max(1, slots) + 2, thread_name_prefix="hafs-ai")
        self.stats = Counter()
        self._paid_spent: float | None = None

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> Engine:
        self.monitor.discover_all(self.hosts)
        self._spawn(self._dispatch_loop, "dispatch")
        self._spawn(self.monitor.discovery_loop, "discovery", self.hosts)
        for host in self.hosts:
            if host.guard is not None:
                self.monitor.check_guard(host)
                self._spawn(self.monitor.guard_loop, f"guard-{host.name}", host)
        return self

    def _spawn(self, fn, name: str, *args: Any) -> None:
        t = threading.Thread(target=fn, args=args, name=f"hafs-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def drain(self, timeout: float | None = None) -> None:
        """Stop accepting; let waiting and running work finish for up to `timeout` seconds.

        What is still waiting then gets a `shutdown` error result; what still runs is
        cancelled and reports `cancelled`. Every accepted request gets its one result.
        """
        timeout = float(self.settings.get("drain_timeout_s", 30)) if timeout is None else timeout
        end = self.clock() + timeout
        with self._cond:
            if self._accepting:
                self._event("drain", waiting=len(self.queue), running=len(self._running))
            self._accepting = False
            while (len(self.queue) or self._running) and self.clock() < end:
                self._cond.wait(min(0.1, max(0.0, end - self.clock())))
            for req in self.queue.take_all():
                self._finish(
                    req,
                    error_result(req.id, E.DRAINED, "hafs orchestrate stopped before it could run"),
                )
            running = list(self._running.values())
            for req in running:
                req.cancel.set()
                if req.abort is not None:
                    req.abort()
            end = self.clock() + 5
            while self._running and self.clock() < end:
                self._cond.wait(0.05)

    def close(self) -> None:
        self.drain(0)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(2)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------
    def submit(
        self, record: dict | Request, reply: Reply, *, wait_for_room: bool = False
    ) -> Request | None:
        """Accept a request; `reply` gets its one result (maybe at once, on refusal).

        Refusals (invalid, queue full, shutting down) are recorded in the ledger too.
        `wait_for_room`: when the class's queue is full, block until it has room instead
        of refusing (back-pressure for a batch reading its own input).
        """
        try:
            if isinstance(record, Request):
                req = record
            else:
                if not record.get("model") and self.settings.get("default_model"):
                    record = {**record, "model": self.settings["default_model"]}
                req = from_record(record, now=self.clock())
        except AIError as exc:
            rid = record.get("id") if isinstance(record, dict) else None
            rid = str(rid) if rid is not None else ""
            model = record.get("model") if isinstance(record, dict) else None
            with self._cond:
                self._refuse(rid, "", -1, model, error_result(rid, exc.code, exc.message), reply)
            return None
        req.reply = reply
        with self._cond:
            if not self._accepting:
                message = "hafs orchestrate is shutting down; not accepted"
                result = error_result(req.id, E.DRAINED, message, priority=req.priority_class)
                self._refuse(req.id, req.priority_class, req.rank, req.model, result, reply)
                return None
            while True:
                try:
                    self.queue.push(req)
                    break
                except AIError as exc:
                    if wait_for_room and self._accepting:
                        self._cond.wait(0.1)
                        continue
                    code, message = exc.code, exc.message
                    if wait_for_room:  # stopped while waiting for room
                        code, message = E.DRAINED, "hafs orchestrate stopped; not accepted"
                    result = error_result(req.id, code, message, priority=req.priority_class)
                    self._refuse(req.id, req.priority_class, req.rank, req.model, result, reply)
                    return None
            if self.ledger is not None:
                self._rows[id(req)] = self.ledger.accepted(
                    req.id, req.priority_class, req.rank, req.model, req.accepted_at
                )
            self.stats["accepted"] += 1
            self._event("accepted", id=req.id, priority=req.priority_class, rank=req.rank,
                        waiting=len(self.queue), at=req.arrived)  # fmt: skip
            if self._model_for(req) is None:
                self.queue.remove(req)
                self._finish(req, self._no_host_result(req))
            else:  # start it now if a slot is free: one thread hand-off fewer
                job = self._dispatch_one(self.clock())
                if job is not None:
                    self._pool.submit(self._work, *job)
            self._cond.notify_all()
        return req

    def _refuse(self, rid, priority, rank, model, result: dict, reply: Reply) -> None:
        """Answer a request that was not accepted (caller holds the lock)."""
        self.stats["refused"] += 1
        if self.ledger is not None:
            row = self.ledger.accepted(rid, priority or "", rank, model or "", time.time())
            self.ledger.finished(row, result, paid=False)
        reply(result)

    def cancel(self, request_id: str) -> bool:
        """Cancel every waiting or running request with this id; False when there is none."""
        with self._cond:
            found = [r for r in self.queue if r.id == request_id]
            found += [r for r in self._running.values() if r.id == request_id]
            for req in found:
                self.cancel_request(req)
            return bool(found)

    def cancel_request(self, req: Request) -> None:
        """Cancel one request: out of the queue at once, or its connection cut if running."""
        with self._cond:
            if req.finished:
                return
            if self.queue.remove(req):
                self._finish(req, error_result(req.id, E.CANCELLED, "cancelled while waiting"))
                return
            req.cancel.set()
            if req.abort is not None:
                req.abort()

    def status(self) -> dict:
        with self._cond:
            now = self.clock()
            waiting = [
                {"id": r.id, "priority": r.priority_class, "rank": r.rank,
                 "aged_rank": self.queue.aged_rank(r, now), "model": r.model,
                 "waiting_s": round(now - r.arrived, 3)}
                for r, _ in zip(self.queue, range(STATUS_WAITING), strict=False)
            ]  # fmt: skip
            return {
                "accepting": self._accepting,
                "waiting_count": len(self.queue),
                "waiting_by_class": {c: self.queue.count(c) for c in CLASSES},
                "waiting": waiting,
                "running": [
                    {
                        "id": r.id,
                        "priority": r.priority_class,
                        "running_s": round(now - (r.started or now), 3),
                    }
                    for r in self._running.values()
                ],
                "hosts": [h.describe() for h in self.hosts],
                "counts": dict(self.stats),
            }

    def idle(self) -> bool:
        with self._cond:
            return not len(self.queue) and not self._running

    # -- routing ----------------------------------------------------------------------
    def _paid_allowed(self) -> bool:
        paid = self.settings.get("paid", {})
        if not paid.get("enabled"):
            return False
        if self._paid_spent is None:  # the ledger's total once; then kept up to date here
            self._paid_spent = self.ledger.paid_spent() if self.ledger is not None else 0.0
        return self._paid_spent < float(paid.get("budget", 0))

    def _candidates(self) -> list[Host]:
        if any(h.paid for h in self.hosts) and self._paid_allowed():
            return self.hosts
        return [h for h in self.hosts if not h.paid]

    def _standing_in(self, host: Host) -> bool:
        """A standby host takes work only while the host it stands in for is busy."""
        if not host.standby_for:
            return True
        return any(h.name == host.standby_for and (h.busy or not h.up) for h in self.hosts)

    def _model_for(self, req: Request) -> str | None:
        """The model to run: the requested one, else its fallback; None if no host has either.

        A host that is up beats one that is down: the fallback model on a running host
        is used rather than waiting for the only host with the requested model.
        """
        hosts = self._candidates()
        fallback = self.settings.get("fallback_models", {}).get(req.model)
        for pool in ([h for h in hosts if h.up], hosts):
            if any(h.could_run(req, req.model) for h in pool):
                return req.model
            if fallback and any(h.could_run(req, fallback) for h in pool):
                return fallback
        return None

    def _no_host_result(self, req: Request) -> dict:
        known = {m for h in self.hosts if h.models for m in h.models}
        tried = sorted(req.excluded_hosts)
        if tried:
            return error_result(
                req.id,
                E.HOST_UNREACHABLE,
                f"every host that could run {req.model} failed ({', '.join(tried)})",
            )
        if req.host is not None:
            return error_result(req.id, E.NO_HOST, self._pinned_host_problem(req))
        return error_result(
            req.id,
            E.NO_HOST,
            f"no configured host has model {req.model} (known: {', '.join(sorted(known)) or 'none'}); "
            "pull it (ollama pull) or set orchestrate.fallback_models",
        )

    def _pinned_host_problem(self, req: Request) -> str:
        """Why the one host a request pins cannot run it."""
        pinned = next((h for h in self.hosts if h.name == req.host), None)
        if pinned is None:
            names = ", ".join(h.name for h in self.hosts) or "none"
            return (
                f"request {req.id} pins host {req.host!r}, which is not in [orchestrate.hosts] "
                f"(configured: {names}); drop `host` or configure it"
            )
        if pinned not in self._candidates():
            return (
                f"request {req.id} pins host {req.host!r}, a paid route that is not enabled "
                "([orchestrate.paid] enabled) or is over its budget; drop `host` or enable it"
            )
        has = ", ".join(sorted(pinned.models or ())) or "none"
        return (
            f"request {req.id} pins host {req.host!r}, which does not have model {req.model} "
            f"(it has: {has}); pull it there (ollama pull {req.model}) or drop `host`"
        )

    # -- dispatcher -----------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        last_sweep = 0.0
        with self._cond:
            while not self._stopped:
                now = self.clock()
                for req in self.queue.take_expired(now):
                    self._finish(
                        req, error_result(req.id, E.DEADLINE, "deadline passed while waiting")
                    )
                if now - last_sweep >= SWEEP_S:
                    self._sweep_unrunnable(now)
                    last_sweep = now
                job = self._dispatch_one(now)
                if job is not None:
                    self._pool.submit(self._work, *job)
                    continue
                self._cond.wait(self._next_wake(now))

    def _dispatch_one(self, now: float, only: Host | None = None) -> tuple | None:
        """Take the next request a free host (or `only` that host) may run; None if none.

        Caller holds the lock and runs the returned (request, host, model, why).
        """
        hosts = self._candidates()
        if only is not None:
            hosts = [only] if only in hosts else []
        free = [h for h in hosts if h.up and h.has_free_slot() and self._standing_in(h)]
        if not free:
            return None
        prefer = list(self.settings.get("prefer_tags", ["gpu"]))
        picks: dict[int, tuple[Host, str, str]] = {}

        def eligible(req: Request) -> bool:
            model = self._model_for(req)
            if model is None:
                return False
            choice = choose_host(req, model, free, prefer)
            if choice is None:
                return False
            picks[id(req)] = (choice[0], choice[1], model)
            return True

        req = self.queue.pop_for(eligible, now)
        if req is None:
            return None
        host, why, model = picks[id(req)]
        if model != req.model:
            why += f"; fallback from {req.model}"
        if host.standby_for:
            why += f"; standing in for {host.standby_for} (busy with training)"
        host.active += 1
        self._in_use[host.name][model] += 1
        req.started = now
        self._running[id(req)] = req
        self._event("started", id=req.id, host=host.name, model=model, routed=why,
                    queue_wait_ms=round((now - req.arrived) * 1000, 3), at=now)  # fmt: skip
        return req, host, model, why

    def _sweep_unrunnable(self, now: float) -> None:
        """Fail requests no host can ever run, and those whose hosts stayed down too long."""
        wait_for = float(self.settings.get("wait_for_host_s", 60))
        for req in list(self.queue):
            model = self._model_for(req)
            if model is None:
                self.queue.remove(req)
                self._finish(req, self._no_host_result(req))
                continue
            candidates = [h for h in self._candidates() if h.could_run(req, model)]
            if any(h.up for h in candidates) or now - req.arrived < wait_for:
                continue
            self.queue.remove(req)
            names = "; ".join(f"{h.name} at {h.url}: {h.down_reason or 'down'}" for h in candidates)
            self._finish(req, error_result(
                req.id, E.HOST_UNREACHABLE,
                f"every host that could run {model} is down ({names}); waited "
                f"{wait_for:g} s (orchestrate.wait_for_host_s); start Ollama there "
                "(ollama serve) or check the url in [orchestrate.hosts]"))  # fmt: skip

    def _next_wake(self, now: float) -> float:
        wake = 0.25
        deadline = self.queue.next_deadline()
        if deadline is not None:
            wake = min(wake, max(0.001, deadline - now))
        return wake

    # -- running ------------------------------------------------------------------------
    def _call_settings(self, req: Request, host: Host) -> tuple[CallSettings, int, int]:
        s = self.settings
        options = {**req.options, **host.options}  # the host's own options win (num_gpu = 0)
        num_ctx = int(options.get("num_ctx") or s.get("num_ctx", 8192))
        max_tokens = int(req.max_tokens or options.get("num_predict") or s.get("max_tokens", 1024))
        options["num_ctx"] = num_ctx
        options["num_predict"] = max_tokens
        settings = CallSettings(
            options=options,
            keep_alive=req.record.get("keep_alive"),
            retries=int(s.get("retries", 2)),
            backoff_s=float(s.get("backoff_s", 0.5)),
            request_timeout_s=float(s.get("request_timeout_s", 600)),
            connect_timeout_s=float(s.get("connect_timeout_s", 3)),
            tool_rounds=int(s.get("tool_rounds", 4)),
        )
        return settings, num_ctx, max_tokens

    def _work(self, req: Request, host: Host, model: str, why: str) -> None:
        """Run a request, then keep this thread on the same host while it has work.

        Taking the host's next request here saves two thread hand-offs per request
        (worker -> dispatcher -> worker), which is most of the dispatch overhead.
        """
        job: tuple | None = (req, host, model, why)
        while job is not None:
            self._run(*job)
            with self._cond:
                job = None if self._stopped else self._dispatch_one(self.clock(), only=host)

    def _run(self, req: Request, host: Host, model: str, why: str) -> None:
        started = self.clock()
        extra: dict[str, Any] = {
            "host": host.name, "model": model, "routed": why, "priority": req.priority_class,
            "queue_wait_ms": round((started - req.arrived) * 1000, 3),
        }  # fmt: skip
        requeued = False
        try:
            settings, num_ctx, max_tokens = self._call_settings(req, host)
            toolbox = ToolBox(self.sandbox, req.tools) if req.tools and self.sandbox else None
            if req.tools and self.sandbox is None:
                raise AIError(E.TOOL, "tools were asked for but no sandbox is configured")
            tools = toolbox.schemas() if toolbox else []
            messages, ctx = build_context(req, self.sandbox, num_ctx, max_tokens, tools)
            client = self.prober.client(host)
            req.abort = self.prober.arm_abort(host)
            out = execute(client, host.name, req, model, messages, toolbox, settings, self.clock)
            result = {
                "kind": "result", "id": req.id, "ok": True, "content": out.content,
                "done_reason": out.done_reason, "tool_calls": out.tool_calls,
                "tokens_in": out.tokens_in, "tokens_out": out.tokens_out, "attempts": out.attempts,
                "context": ctx, **extra,
            }  # fmt: skip
            if host.paid:
                result["cost"] = round(host.cost(out.tokens_in, out.tokens_out), 6)
        except HostFailure as fail:
            requeued = self._host_failed(req, host, model, fail)
            result = None if requeued else error_result(req.id, fail.code, fail.message, **extra)
        except AIError as exc:  # the request's own failure (tool errors included)
            result = error_result(req.id, exc.code, exc.message, **extra)
        except Exception as exc:  # noqa: BLE001 - a bug must still give the request its result
            result = error_result(req.id, E.SERVER_ERROR, f"internal error: {exc!r}", **extra)
        req.abort = None
        with self._cond:
            host.active -= 1
            self._in_use[host.name][model] -= 1
            if result is not None and result.get("ok"):
                host.loaded.add(model)
            if not requeued:
                self._running.pop(id(req), None)
                result["run_ms"] = round((self.clock() - started) * 1000, 3)
                self._finish(req, result, paid=host.paid)
            self._cond.notify_all()

    def _host_failed(self, req: Request, host: Host, model: str, fail: HostFailure) -> bool:
        """Record a host failure; True when the request went back into the queue."""
        with self._cond:
            self._running.pop(id(req), None)
            req.excluded_hosts.add(host.name)
            if fail.host_down and host.up:
                host.up = False
                host.down_since = self.clock()
                self._event("host_down", host=host.name, reason=fail.message)
            if fail.code == E.MODEL_NOT_FOUND and host.models is not None:
                host.models.discard(model)
            if req.cancel.is_set() or self._model_for(req) is None:
                return False
            self.queue.push(req, requeue=True)
            self.stats["requeued"] += 1
            self._event("requeued", id=req.id, host=host.name, reason=fail.message)
            return True

    def _finish(self, req: Request, result: dict, *, paid: bool = False) -> None:
        """Deliver the one result (caller holds the lock)."""
        if req.finished:
            return
        req.finished = True
        result.setdefault("priority", req.priority_class)
        if paid and self._paid_spent is not None:
            self._paid_spent += float(result.get("cost") or 0)
        self.stats["ok" if result.get("ok") else "failed"] += 1
        row = self._rows.pop(id(req), None)
        if self.ledger is not None and row is not None:
            self.ledger.finished(row, result, paid=paid)
        self._event("finished", id=req.id, ok=bool(result.get("ok")),
                    error=(result.get("error") or {}).get("code"))  # fmt: skip
        self._cond.notify_all()
        try:
            req.reply(result)
        except Exception:  # noqa: BLE001 - a vanished client must not stop the engine
            self.stats["reply_failed"] += 1

    def _event(self, name: str, **fields: Any) -> None:
        if self.on_event is not None:
            self.on_event({"kind": "event", "event": name, "time": _iso(), **fields})
