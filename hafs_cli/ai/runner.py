"""Run one request on one host through the real `ollama` client: retries, tool loop, cancel.

Streaming is used so that cancellation and deadlines act between chunks (a cancelled
request stops generating at once and frees the slot). Failures are sorted into:
- `HostFailure`: this host could not do it (503 after retries, connection lost, model
  missing there): the engine tries another host;
- `AIError`: the request itself failed (bad request, cancelled, deadline): final.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from hafs_cli.ai.errors import (
    BAD_REQUEST,
    CANCELLED,
    DEADLINE,
    HOST_UNREACHABLE,
    MODEL_NOT_FOUND,
    SERVER_ERROR,
    AIError,
)
from hafs_cli.ai.request import Request
from hafs_cli.ai.tools import ToolBox

RETRY_STATUS = {429, 500, 502, 503, 504}


class HostFailure(Exception):
    """This host failed the request; another host may succeed."""

    def __init__(self, code: str, message: str, *, host_down: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.host_down = host_down


@dataclass
class Outcome:
    content: str = ""
    done_reason: str | None = None
    tool_calls: list[dict] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 0


@dataclass
class CallSettings:
    options: dict
    keep_alive: Any = None
    retries: int = 2
    backoff_s: float = 0.5
    request_timeout_s: float = 600.0
    connect_timeout_s: float = 3.0
    tool_rounds: int = 4


def _wait(req: Request, seconds: float, clock) -> None:
    """Sleep for a retry backoff, but wake for cancellation; honour the deadline."""
    if req.deadline_at is not None:
        seconds = min(seconds, max(0.0, req.deadline_at - clock()))
    if req.cancel.wait(seconds):
        raise AIError(CANCELLED, f"request {req.id} was cancelled")


def _check(req: Request, clock) -> None:
    if req.cancel.is_set():
        raise AIError(CANCELLED, f"request {req.id} was cancelled")
    if req.expired(clock()):
        raise AIError(DEADLINE, f"request {req.id} passed its deadline while running")


def _set_timeout(client: Any, req: Request, s: CallSettings, clock) -> None:
    import httpx

    read = s.request_timeout_s
    if req.deadline_at is not None:
        read = max(0.05, min(read, req.deadline_at - clock()))
    # The ollama client has no per-call timeout; each worker thread owns its client,
    # so setting the underlying httpx client's timeout here is safe.
    client._client.timeout = httpx.Timeout(read, connect=min(s.connect_timeout_s, read))


def _chat_once(client: Any, req: Request, model: str, messages, tools, s: CallSettings, clock):
    """One streamed /api/chat call; returns (content, tool_calls, final chunk)."""
    content: list[str] = []
    calls: list[dict] = []
    final = None
    stream = client.chat(
        model=model,
        messages=messages,
        tools=tools or None,
        stream=True,
        format=req.format,
        options=s.options,
        keep_alive=s.keep_alive,
    )
    try:
        for part in stream:
            if req.cancel.is_set() or req.expired(clock()):
                break
            msg = part.message
            if msg.content:
                content.append(msg.content)
            for call in msg.tool_calls or ():
                calls.append(
                    {"name": call.function.name, "arguments": dict(call.function.arguments)}
                )
            if part.done:
                final = part
    finally:
        stream.close()
    _check(req, clock)
    if final is None:
        raise HostFailure(SERVER_ERROR, "the stream ended without a final (done) chunk")
    return "".join(content), calls, final


def classify(exc: Exception, host_name: str) -> tuple[str, str, bool, bool]:
    """(code, message, retry on this host, host is down) for an exception from a call."""
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        text = f"{host_name} answered {status}: {exc.error}"
        if status in RETRY_STATUS:
            return SERVER_ERROR, text, True, False
        if status == 404:
            return MODEL_NOT_FOUND, text, False, False
        if status == -1:  # an error inside the stream
            return SERVER_ERROR, text, True, False
        return BAD_REQUEST, text, False, False
    if isinstance(exc, (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)):
        return HOST_UNREACHABLE, f"cannot connect to {host_name}: {exc}", True, True
    if isinstance(exc, httpx.TimeoutException):
        return SERVER_ERROR, f"{host_name} did not answer in time: {exc}", True, False
    if isinstance(exc, httpx.TransportError):
        return HOST_UNREACHABLE, f"connection to {host_name} lost: {exc}", True, True
    if isinstance(exc, (ValueError, TypeError)):  # pydantic/JSON: a reply that is not Ollama's
        return SERVER_ERROR, f"{host_name} sent a malformed reply: {exc}", False, False
    raise exc


def call_with_retries(client: Any, host_name: str, req: Request, fn, s: CallSettings, clock):
    """Run fn() with retries and exponential backoff on retryable failures."""
    delay = s.backoff_s
    for attempt in range(s.retries + 1):
        _check(req, clock)
        try:
            _set_timeout(client, req, s, clock)
            return fn(), attempt + 1
        except AIError:
            raise
        except HostFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted by classify, unknown ones re-raised
            _check(req, clock)  # a cancel closes the connection: report the cancel, not that
            code, message, retry, down = classify(exc, host_name)
            if code == BAD_REQUEST:
                raise AIError(BAD_REQUEST, message) from None
            if not retry or attempt == s.retries:
                raise HostFailure(code, message, host_down=down) from None
            _wait(req, delay, clock)
            delay *= 2
    raise AssertionError("unreachable")


def execute(
    client: Any,
    host_name: str,
    req: Request,
    model: str,
    messages: list[dict],
    toolbox: ToolBox | None,
    s: CallSettings,
    clock=time.monotonic,
) -> Outcome:
    """The model/tool loop: call, run requested tools, feed results back, up to tool_rounds."""
    out = Outcome()
    tools = toolbox.schemas() if toolbox else []
    rounds = 0
    while True:
        (content, calls, final), attempts = call_with_retries(
            client,
            host_name,
            req,
            lambda: _chat_once(client, req, model, messages, tools, s, clock),
            s,
            clock,
        )
        out.attempts += attempts
        out.tokens_in += final.prompt_eval_count or 0
        out.tokens_out += final.eval_count or 0
        out.content = content
        out.done_reason = final.done_reason
        if not calls or toolbox is None or rounds >= s.tool_rounds:
            if calls:  # the model still wanted tools: report them, unrun
                why = _no_round(s) if toolbox else _not_offered()
                out.tool_calls += [{**c, "ok": False, "error": why} for c in calls]
            return out
        rounds += 1
        messages.append({"role": "assistant", "content": content, "tool_calls": [
            {"function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls
        ]})  # fmt: skip
        for call in calls:
            _check(req, clock)
            result = toolbox.call(call["name"], call["arguments"])
            entry = {**call, "round": rounds, "ok": result["ok"], "ms": result["ms"]}
            if result["ok"]:
                entry["output_bytes"] = len(result["output"].encode())
                entry["truncated"] = result["truncated"]
                reply = result["output"]
            else:
                entry["error"] = result["error"]
                reply = json.dumps({"error": result["error"]})
            out.tool_calls.append(entry)
            messages.append({"role": "tool", "tool_name": call["name"], "content": reply})


def _no_round(s: CallSettings) -> dict:
    return {
        "code": "tool_rounds_exhausted",
        "message": f"not run: the request used all {s.tool_rounds} tool rounds "
        "(orchestrate.tool_rounds)",
    }


def _not_offered() -> dict:
    return {"code": "tool_not_advertised", "message": "not run: the request offered no tools"}
