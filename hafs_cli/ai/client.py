"""The one call other hafs commands use for a chat: `chat(messages, model=...)`.

Goes through the orchestrate daemon when one answers on its socket (so the request
queues behind training and interactive work with everyone else's), and calls Ollama
directly otherwise. Either way the answer is a plain dict and failures are `AIError`s
with a stable `code`.
"""

from __future__ import annotations

import uuid
from typing import Any

from hafs_cli.ai import errors as E
from hafs_cli.ai.errors import AIError


def _settings(config: Any) -> dict:
    if config is None:
        from hafs_cli.config import load_config

        config = load_config()
    return config.section("orchestrate") if hasattr(config, "section") else dict(config)


def chat(
    messages: list[dict],
    *,
    model: str,
    host: str | None = None,
    format: Any = None,  # noqa: A002 - Ollama's name for structured output
    timeout: float = 120.0,
    priority: str | int = "analysis",
    options: dict | None = None,
    config: Any = None,
) -> dict:
    """Chat with a model; returns {content, model, host, tokens_in, tokens_out, done_reason, via}.

    `host` is a configured host name (pins the request) or an Ollama URL (always direct,
    bypassing the daemon). `timeout` is the deadline in seconds. Without the daemon,
    configured hosts are tried in order, skipping those the training guard finds busy.
    Raises AIError.
    """
    settings = _settings(config)
    direct_url = host if host and "://" in host else None
    if direct_url is None:
        from hafs_cli.ai.daemon import ping, socket_path

        path = socket_path(settings.get("socket", ""))
        if path.exists() and ping(path):
            return _via_daemon(path, messages, model, host, format, timeout, priority, options)
    return _direct(
        settings, messages, model, direct_url or host, format, timeout, options, priority
    )


def _via_daemon(path, messages, model, host, fmt, timeout, priority, options) -> dict:
    from hafs_cli.ai.daemon import submit_many

    request = {
        "kind": "request",
        "id": "chat-" + uuid.uuid4().hex[:12],
        "model": model,
        "messages": messages,
        "priority": priority,
        "deadline": timeout,
    }
    if host:
        request["host"] = host
    if fmt is not None:
        request["format"] = fmt
    if options:
        request["options"] = options
    box: list[dict] = []
    submit_many(path, [request], box.append, timeout=timeout + 10)
    result = box[-1]
    if not result.get("ok"):
        err = result.get("error") or {}
        raise AIError(err.get("code", E.SERVER_ERROR), err.get("message", "request failed"))
    return {
        "content": result.get("content", ""),
        "model": result.get("model"),
        "host": result.get("host"),
        "tokens_in": result.get("tokens_in", 0),
        "tokens_out": result.get("tokens_out", 0),
        "done_reason": result.get("done_reason"),
        "via": "daemon",
    }


def _direct_targets(settings: dict, host: str | None, priority) -> tuple[list, list[str]]:
    """Hosts to try in order, as (url, Host or None); and why others were skipped.

    Without the daemon there is no queue, but the training guard still applies:
    a guarded host busy with training is skipped (unless the work is training-class),
    and its standby host, if any, is tried instead.
    """
    from hafs_cli.ai.hosts import hosts_from_config
    from hafs_cli.ai.request import parse_priority

    if host and "://" in host:
        return [(host, None)], []
    hosts = [h for h in hosts_from_config(settings) if not h.paid]
    if host:
        hosts = [h for h in hosts if h.name == host]
        if not hosts:
            raise AIError(E.NO_HOST, f"no unpaid host named {host!r} in [orchestrate.hosts]")
    training = parse_priority(priority) == 0
    busy: set[str] = set()
    skipped: list[str] = []
    for h in hosts:
        if h.guard is not None and not training:
            verdict = h.guard.check()
            if verdict.busy:
                busy.add(h.name)
                skipped.append(f"{h.name}: {verdict.reason}")
    targets = [
        (h.url, h)
        for h in hosts
        if h.name not in busy and (not h.standby_for or h.standby_for in busy)
    ]
    return targets, skipped


def _all_busy(skipped: list[str]) -> str:
    if not skipped:
        return "no unpaid Ollama host in [orchestrate.hosts]; add one, or pass a host URL"
    return (
        "every host is busy with training (" + "; ".join(skipped) + "); retry later, or "
        "run `hafs orchestrate serve` so the request waits its turn"
    )


def _on_hosts(settings: dict, host: str | None, priority, attempt):
    """attempt(url, Host or None) on the direct targets in order until one succeeds;
    a host that is down or lacks the model passes to the next. Raises AIError."""
    targets, skipped = _direct_targets(settings, host, priority)
    if not targets:
        raise AIError(E.HOST_UNREACHABLE, _all_busy(skipped))
    last: AIError | None = None
    for url, target in targets:
        try:
            return attempt(url, target)
        except AIError as exc:
            if exc.code not in (E.HOST_UNREACHABLE, E.MODEL_NOT_FOUND):
                raise
            last = exc  # another host may be up, or have the model
    assert last is not None
    raise last


def _direct(settings: dict, messages, model, host, fmt, timeout, options, priority) -> dict:
    return _on_hosts(
        settings,
        host,
        priority,
        lambda url, target: _direct_one(
            settings, url, target, messages, model, fmt, timeout, options
        ),
    )


def _client(settings: dict, url: str, target, timeout: float):
    import httpx
    import ollama

    connect = min(float(settings.get("connect_timeout_s", 3)), timeout)
    return ollama.Client(
        host=url,
        timeout=httpx.Timeout(timeout, connect=connect),
        headers=target.headers() if target else None,
    )


def _call(client, url: str, timeout: float, fn):
    """fn(client), with failures sorted as the engine sorts them (runner.classify) into
    AIErrors; a read timeout is this call's deadline. Closes the client."""
    import httpx

    from hafs_cli.ai.runner import classify

    try:
        return fn(client)
    except Exception as exc:  # noqa: BLE001 - sorted by classify, unknown ones re-raised
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            raise AIError(
                E.DEADLINE, f"Ollama at {url} did not answer within {timeout:g} s"
            ) from None
        code, message, _retry, _down = classify(exc, url)
        raise AIError(code, message) from None
    finally:
        client.close()


def _direct_one(settings: dict, url: str, target, messages, model, fmt, timeout, options) -> dict:
    opts = {"num_ctx": int(settings.get("num_ctx", 8192)), **(options or {})}
    if target is not None:
        opts.update(target.options)
    resp = _call(
        _client(settings, url, target, timeout),
        url,
        timeout,
        lambda c: c.chat(model=model, messages=messages, format=fmt, options=opts, stream=False),
    )
    return {
        "content": resp.message.content or "",
        "model": resp.model or model,
        "host": target.name if target is not None else url,
        "tokens_in": resp.prompt_eval_count or 0,
        "tokens_out": resp.eval_count or 0,
        "done_reason": resp.done_reason,
        "via": "direct",
    }


def embed(
    texts: list[str],
    *,
    model: str,
    host: str | None = None,
    timeout: float = 120.0,
    priority: str | int = "analysis",
    config: Any = None,
) -> list[list[float]]:
    """Embedding vectors for `texts` (Ollama /api/embed), one per text, in order.

    `host` is an Ollama URL or a configured host name; without it the configured hosts
    are tried in order, skipping those the training guard finds busy (as for `chat`).
    Always direct: the daemon queues chats only. Raises AIError.
    """
    settings = _settings(config)

    def attempt(url: str, target) -> list[list[float]]:
        resp = _call(
            _client(settings, url, target, timeout),
            url,
            timeout,
            lambda c: c.embed(model=model, input=texts),
        )
        vectors = [list(map(float, v)) for v in resp.embeddings or ()]
        if len(vectors) != len(texts):
            raise AIError(
                E.SERVER_ERROR, f"{url} returned {len(vectors)} embeddings for {len(texts)} texts"
            )
        return vectors

    return _on_hosts(settings, host, priority, attempt)
