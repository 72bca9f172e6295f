"""The `request` record as the scheduler sees it: priority rank, deadline, cancellation."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hafs_cli.ai.errors import BAD_REQUEST, AIError

# Priority classes, most urgent first. An integer priority is a rank on the same scale:
# 0 is training, 1 interactive, 2 analysis, 3 scheduled, and 4, 5, ... rank below that.
CLASSES = ("training", "interactive", "analysis", "scheduled")
RANK = {name: i for i, name in enumerate(CLASSES)}


def class_of(rank: int) -> str:
    """The class a rank belongs to (for queue limits and reports)."""
    return CLASSES[min(rank, len(CLASSES) - 1)]


def parse_priority(value: Any) -> int:
    if value is None:
        return RANK["analysis"]
    if isinstance(value, bool):
        raise AIError(BAD_REQUEST, f"priority must be a class name or an integer, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise AIError(BAD_REQUEST, f"priority {value} is negative; use 0 (training) or more")
        return value
    if isinstance(value, str) and value in RANK:
        return RANK[value]
    raise AIError(
        BAD_REQUEST,
        f"unknown priority {value!r}; use one of {', '.join(CLASSES)} or an integer >= 0",
    )


def parse_deadline(value: Any, accepted_wall: float, accepted_mono: float) -> float | None:
    """A deadline as a monotonic time: seconds after acceptance, or an ISO 8601 time."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return accepted_mono + float(value)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.astimezone()
            return accepted_mono + (when.timestamp() - accepted_wall)
    raise AIError(
        BAD_REQUEST, f"deadline {value!r} is neither seconds nor an ISO 8601 time with a zone"
    )


@dataclass
class Request:
    """One unit of AI work, from acceptance until its one result."""

    id: str
    rank: int
    model: str
    messages: list[dict] | None = None
    prompt: str | None = None
    system: str | None = None
    options: dict = field(default_factory=dict)
    tools: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    deadline_at: float | None = None
    max_tokens: int | None = None
    format: Any = None
    host: str | None = None  # pin to one configured host
    record: dict = field(default_factory=dict)  # the request record as received
    # Scheduler state
    seq: int = 0
    arrived: float = 0.0  # monotonic (or the fake clock in tests)
    accepted_at: float = 0.0  # wall clock, for the ledger
    started: float | None = None
    excluded_hosts: set[str] = field(default_factory=set)
    cancel: threading.Event = field(default_factory=threading.Event)
    reply: Any = None  # where the result goes (a callback), set by the engine
    abort: Any = None  # while running: closes its connection, so cancel acts at once
    finished: bool = False  # its one result has been delivered

    @property
    def priority_class(self) -> str:
        return class_of(self.rank)

    def expired(self, now: float) -> bool:
        return self.deadline_at is not None and now >= self.deadline_at


def _message_problem(m: dict) -> str | None:
    """What is wrong with one chat message's fields (as Ollama's /api/chat takes them)."""
    if m.get("content") is not None and not isinstance(m["content"], str):
        return "content must be a string"
    images = m.get("images")
    if images is not None and (
        not isinstance(images, list) or not all(isinstance(x, str) for x in images)
    ):
        return "images must be a list of base64 strings"
    calls = m.get("tool_calls")
    if calls is not None and (
        not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls)
    ):
        return "tool_calls must be a list of objects"
    return None


def from_record(rec: dict, *, now: float | None = None) -> Request:
    """Validate a `request` record; raises AIError(bad_request) saying what is wrong."""
    mono = time.monotonic() if now is None else now
    wall = time.time()
    rid = rec.get("id")
    if rid is None:
        rid = uuid.uuid4().hex[:12]
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        raise AIError(BAD_REQUEST, "request id must be a string or an integer")
    model = rec.get("model")
    if not isinstance(model, str) or not model:
        raise AIError(BAD_REQUEST, f"request {rid}: `model` is required (a model name)")
    messages = rec.get("messages")
    prompt = rec.get("prompt")
    if messages is None and prompt is None:
        raise AIError(BAD_REQUEST, f"request {rid}: give `messages` or `prompt`")
    if messages is not None and (
        not isinstance(messages, list)
        or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
    ):
        raise AIError(BAD_REQUEST, f"request {rid}: `messages` must be a list of {{role, content}}")
    for i, m in enumerate(messages or ()):
        problem = _message_problem(m)
        if problem:
            raise AIError(BAD_REQUEST, f"request {rid}: messages[{i}].{problem}")
    if prompt is not None and not isinstance(prompt, str):
        raise AIError(BAD_REQUEST, f"request {rid}: `prompt` must be a string")
    options = rec.get("options") or {}
    if not isinstance(options, dict):
        raise AIError(BAD_REQUEST, f"request {rid}: `options` must be an object")
    tools = rec.get("tools") or []
    context = rec.get("context") or []
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise AIError(BAD_REQUEST, f"request {rid}: `tools` must be a list of tool names")
    if not isinstance(context, list) or not all(isinstance(p, str) for p in context):
        raise AIError(BAD_REQUEST, f"request {rid}: `context` must be a list of paths")
    fmt = rec.get("format")
    if fmt not in (None, "", "json") and not isinstance(fmt, dict):
        raise AIError(BAD_REQUEST, f'request {rid}: `format` must be "json" or a JSON schema')
    for key in ("system", "host"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise AIError(BAD_REQUEST, f"request {rid}: `{key}` must be a string")
    max_tokens = rec.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0
    ):
        raise AIError(BAD_REQUEST, f"request {rid}: `max_tokens` must be a positive integer")
    return Request(
        id=str(rid),
        rank=parse_priority(rec.get("priority")),
        model=model,
        messages=messages,
        prompt=prompt,
        system=rec.get("system"),
        options=dict(options),
        tools=list(tools),
        context=list(context),
        deadline_at=parse_deadline(rec.get("deadline"), wall, mono),
        max_tokens=max_tokens,
        format=fmt or None,
        host=rec.get("host"),
        record=rec,
        arrived=mono,
        accepted_at=wall,
    )
