"""Fit a request into the model's context window: budget = num_ctx - max_tokens.

Tokens are estimated as ceil(characters / 4) (no tokenizer ships with Ollama's API); the
estimate errs on the long side for code. Context paths are read through the sandbox (the
same rules as the tools) and added whole while they fit, the first one that does not fit
is cut to the space left, the rest are dropped, and each cut or drop is reported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hafs_cli.ai.errors import BAD_REQUEST, AIError
from hafs_cli.ai.request import Request
from hafs_cli.ai.sandbox import Deadline, Sandbox, ToolError

CONTEXT_NOTE = "Context files (read-only, from hafs):\n\n"
MIN_USEFUL_TOKENS = 32
MAX_DIR_FILES = 1000  # a context directory contributes at most this many files  # below this, a cut file is dropped rather than kept as a stub


def estimate_tokens(text: str) -> int:
    return -(-len(text) // 4)


def message_tokens(messages: list[dict]) -> int:
    return sum(estimate_tokens(str(m.get("content") or "")) + 4 for m in messages)


def base_messages(req: Request) -> list[dict]:
    messages = [dict(m) for m in req.messages] if req.messages is not None else []
    if req.prompt is not None:
        messages.append({"role": "user", "content": req.prompt})
    if req.system:
        messages.insert(0, {"role": "system", "content": req.system})
    return messages


def fit_messages(messages: list[dict], budget: int) -> tuple[list[dict], int]:
    """Drop the oldest non-system messages (never the last) until they fit; (kept, dropped)."""
    dropped = 0
    kept = list(messages)
    while message_tokens(kept) > budget:
        victim = next((i for i, m in enumerate(kept[:-1]) if m.get("role") != "system"), None)
        if victim is None:
            raise AIError(
                BAD_REQUEST,
                f"the prompt alone needs about {message_tokens(kept)} tokens, over the "
                f"context budget of {budget} (num_ctx - max_tokens); raise num_ctx or shorten it",
            )
        del kept[victim]
        dropped += 1
    return kept, dropped


def _context_files(paths: list[str], sandbox: Sandbox | None, report: dict):
    """(name, real path) of each context file; a directory gives its files, sorted."""
    for path in paths:
        if sandbox is None:
            report["dropped"].append({"path": path, "reason": "no_sandbox"})
            continue
        try:
            real = sandbox.resolve(path)
        except ToolError as exc:
            report["dropped"].append({"path": path, "reason": exc.code, "message": exc.message})
            continue
        if not real.is_dir():
            yield path, real
            continue
        files = sandbox.walk(real, Deadline(sandbox.limits.timeout_s))
        try:
            for count, file in enumerate(files):
                if count >= MAX_DIR_FILES:
                    report["dropped"].append({"path": path, "reason": "too_many_files"})
                    break
                file = Path(os.path.realpath(file))
                yield sandbox.display(file), file
        except ToolError as exc:  # the walk ran out of time: keep what was found
            report["dropped"].append({"path": path, "reason": exc.code, "message": exc.message})


def build_context(
    req: Request, sandbox: Sandbox | None, num_ctx: int, max_tokens: int, tools: list[dict]
) -> tuple[list[dict], dict]:
    """Messages to send, and a report of the budget and of what was cut or dropped."""
    budget = num_ctx - max_tokens
    if budget <= 0:
        raise AIError(BAD_REQUEST, f"max_tokens {max_tokens} leaves no room in num_ctx {num_ctx}")
    tool_tokens = estimate_tokens(json.dumps(tools)) if tools else 0
    messages, dropped_messages = fit_messages(base_messages(req), budget - tool_tokens)
    used = message_tokens(messages) + tool_tokens
    if req.context:  # the context message's own header and per-message overhead
        used += estimate_tokens(CONTEXT_NOTE) + 4
    report: dict = {"num_ctx": num_ctx, "budget": budget, "dropped": []}
    if dropped_messages:
        report["dropped"].append({"messages": dropped_messages, "reason": "over_budget"})
    parts = []
    for path, real in _context_files(req.context, sandbox, report):
        try:
            text = sandbox.read_text(real)
        except ToolError as exc:
            report["dropped"].append({"path": path, "reason": exc.code, "message": exc.message})
            continue
        header = f"=== {sandbox.display(real)} ===\n"
        need = estimate_tokens(header + text) + 1
        room = budget - used
        if need <= room:
            parts.append(header + text)
            used += need
            continue
        if room - estimate_tokens(header) >= MIN_USEFUL_TOKENS:
            keep_chars = (room - estimate_tokens(header) - 1) * 4
            parts.append(header + text[:keep_chars])
            used += estimate_tokens(header + text[:keep_chars]) + 1
            report["dropped"].append(
                {
                    "path": path,
                    "reason": "trimmed",
                    "kept_chars": keep_chars,
                    "total_chars": len(text),
                }
            )
        else:
            report["dropped"].append({"path": path, "reason": "no_budget", "tokens": need})
    if parts:
        note = CONTEXT_NOTE + "\n".join(parts)
        first_user = next((i for i, m in enumerate(messages) if m.get("role") != "system"), 0)
        messages.insert(first_user, {"role": "system", "content": note})
    report["used"] = used
    return messages, report
