"""Ollama hosts: configuration, discovered models, load, guard state, and routing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hafs_cli.ai.errors import CONFIG, AIError
from hafs_cli.ai.guard import Guard
from hafs_cli.ai.request import Request

DEFAULT_URL = "http://127.0.0.1:11434"


@dataclass
class Host:
    name: str
    url: str
    tags: list[str] = field(default_factory=list)
    slots: int = 1
    guarded: bool = False
    paid: bool = False
    api_key_env: str = ""
    cost_in_per_mtok: float = 0.0
    cost_out_per_mtok: float = 0.0
    options: dict = field(default_factory=dict)  # forced on every call to this host
    standby_for: str = ""  # used only while this host is busy with training
    guard: Guard | None = None
    # Live state (the engine's lock protects it)
    models: set[str] | None = None  # None: never reached, unknown
    loaded: set[str] = field(default_factory=set)
    active: int = 0
    up: bool = True
    down_since: float | None = None
    down_reason: str = ""  # the last failure of discovery, for messages
    busy: bool = False
    busy_reason: str = ""
    last_discovery: float = 0.0

    def has_free_slot(self) -> bool:
        return self.active < self.slots

    def headers(self) -> dict[str, str]:
        token = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {token}"} if token else {}

    def could_run(self, req: Request, model: str) -> bool:
        """Whether this host is a candidate at all (ignoring load, guard and health)."""
        if req.host is not None and req.host != self.name:
            return False
        if self.name in req.excluded_hosts:
            return False
        return self.models is None or model in self.models

    def admits(self, req: Request) -> bool:
        """The guard lets training-class work (rank 0) through, nothing else."""
        return not self.busy or req.rank == 0

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.cost_in_per_mtok + tokens_out * self.cost_out_per_mtok) / 1e6

    def describe(self) -> dict[str, Any]:
        return {
            "host": self.name,
            "url": self.url,
            "tags": self.tags,
            "slots": self.slots,
            "active": self.active,
            "up": self.up,
            "busy": self.busy,
            "busy_reason": self.busy_reason,
            "models": sorted(self.models) if self.models is not None else None,
            "loaded": sorted(self.loaded),
            "paid": self.paid,
        }


def hosts_from_config(section: dict, ssh_hosts: dict | None = None) -> list[Host]:
    """Hosts from [orchestrate.hosts]; none configured: $OLLAMA_HOST or the local default."""
    guard_settings = section.get("guard", {})
    configured = section.get("hosts") or {}
    if not configured:
        url = os.environ.get("OLLAMA_HOST") or DEFAULT_URL
        if "://" not in url:
            url = "http://" + url
        configured = {"local": {"url": url, "tags": [], "slots": 1, "guard": "auto"}}
    hosts = []
    for name, h in configured.items():
        tags = list(h.get("tags", []))
        mode = h.get("guard", "auto")
        guarded = mode == "on" or (mode == "auto" and "gpu" in tags)
        ssh = None
        if h.get("ssh_host"):
            # the same ssh settings, host-key policy and $HOME handling as sync and backup
            from hafs_cli.remote.hosts import lookup_host
            from hafs_cli.remote.ssh import ssh_argv

            ssh = ssh_argv(lookup_host(h["ssh_host"], ssh_hosts))
        hosts.append(
            Host(
                name=name,
                url=h.get("url") or DEFAULT_URL,
                tags=tags,
                slots=int(h.get("slots", 1)),
                guarded=guarded,
                paid=bool(h.get("paid", False)),
                api_key_env=h.get("api_key_env", ""),
                cost_in_per_mtok=float(h.get("cost_in_per_mtok", 0)),
                cost_out_per_mtok=float(h.get("cost_out_per_mtok", 0)),
                options=dict(h.get("options") or {}),
                standby_for=h.get("standby_for", ""),
                guard=Guard(guard_settings, ssh=ssh) if guarded else None,
            )
        )
    names = {h.name for h in hosts}
    for host in hosts:
        _check_url(host)
        if host.standby_for and host.standby_for not in names:
            raise AIError(
                CONFIG,
                f"orchestrate.hosts.{host.name}.standby_for names {host.standby_for!r}, "
                f"which is not a configured host ({', '.join(sorted(names))})",
            )
    return hosts


def _check_url(host: Host) -> None:
    """A host URL that can never be reached is a configuration error, not a host that is
    down (which would make every request wait orchestrate.wait_for_host_s for nothing)."""
    from urllib.parse import urlsplit

    url = host.url if "://" in host.url else "http://" + host.url  # as the ollama client does
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https"):
            problem = f"scheme {parts.scheme!r} is not http or https"
        elif not parts.hostname or any(c.isspace() for c in url):
            problem = "no host name"
    if problem:
        raise AIError(
            CONFIG,
            f"orchestrate.hosts.{host.name}.url {host.url!r} is not an Ollama URL ({problem}); "
            "write it like http://127.0.0.1:11434",
        )


def choose_host(
    req: Request, model: str, free: list[Host], prefer_tags: list[str]
) -> tuple[Host, str] | None:
    """The best free host for a request, and why; None when no free host may take it.

    Order: the model already loaded there (no load time), then preferred tags (gpu),
    then the most free slots, then unpaid before paid, then configuration order.
    """
    best = None
    best_key = None
    for order, host in enumerate(free):
        if not (host.up and host.could_run(req, model) and host.admits(req)):
            continue
        loaded = model in host.loaded
        tagged = any(t in host.tags for t in prefer_tags)
        key = (not loaded, not tagged, host.paid, -(host.slots - host.active), order)
        if best_key is None or key < best_key:
            best, best_key = host, key
    if best is None:
        return None
    why = []
    if req.host:
        why.append("pinned by the request")
    why.append(f"{model} loaded" if model in best.loaded else f"{model} available")
    tagged = [t for t in prefer_tags if t in best.tags]
    if tagged:
        why.append("preferred tag " + ",".join(tagged))
    why.append(f"{best.active}/{best.slots} slots busy")
    if best.busy:
        why.append("training-class request on a guarded host")
    if best.paid:
        why.append("paid route enabled")
    return best, "; ".join(why)


def _abortable_transport():
    """An httpx transport whose sockets can be shut down from another thread.

    Closing a client does not wake a thread blocked reading a response; shutting the
    socket down does. `hafs_arm()` starts a request and returns its abort function:
    it shuts the open sockets down, and any socket opened after it (the request was
    between its last check and connecting) is shut down as soon as it connects.
    httpcore's network backend is public API; HTTPTransport keeps its pool in `_pool`,
    so if that ever changes we fall back to a plain transport (cancel then waits for
    the next streamed chunk).
    """
    import socket

    import httpcore
    import httpx

    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        return transport
    streams: list = []
    current = [{"aborted": False}]  # the armed request's token
    inner = pool._network_backend

    def cut(stream) -> None:
        try:
            stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass

    class Recording(httpcore.NetworkBackend):
        def connect_tcp(self, *args, **kwargs):
            stream = inner.connect_tcp(*args, **kwargs)
            streams.append(stream)
            del streams[:-8]  # keep-alive reuses a few connections; old ones are closed
            if current[0]["aborted"]:
                cut(stream)
            return stream

        def connect_unix_socket(self, *args, **kwargs):
            return inner.connect_unix_socket(*args, **kwargs)

        def sleep(self, seconds: float) -> None:
            inner.sleep(seconds)

    def arm() -> Callable[[], None]:
        token = {"aborted": False}
        current[0] = token

        def abort() -> None:
            token["aborted"] = True
            if current[0] is token:  # a late abort must not hit the next request
                for stream in list(streams):
                    cut(stream)

        return abort

    pool._network_backend = Recording()
    transport.hafs_arm = arm
    return transport


class HostProber:
    """Discovers models (/api/tags, /api/ps) and health of hosts through the ollama client."""

    def __init__(self, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self._local = threading.local()

    def client(self, host: Host, timeout: float | None = None):
        import httpx
        import ollama

        clients = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        key = host.name
        client = clients.get(key)
        if client is None:
            client = ollama.Client(
                host=host.url,
                headers=host.headers(),
                timeout=httpx.Timeout(timeout or 10, connect=self.connect_timeout),
                transport=_abortable_transport(),
            )
            clients[key] = client
        return client

    def arm_abort(self, host: Host) -> Callable[[], None]:
        """Before a request on this thread's client: a function that cuts it off (cancel)."""
        transport = self.client(host)._client._transport
        arm = getattr(transport, "hafs_arm", None)
        return arm() if arm is not None else (lambda: None)

    def discover(self, host: Host) -> tuple[set[str], set[str]]:
        """(models installed, models loaded); raises on connection errors."""
        client = self.client(host)
        tags = client.list()
        models = {m.model for m in tags.models if m.model}
        try:
            loaded = {m.model for m in client.ps().models if m.model}
        except Exception:
            loaded = set()
        host.last_discovery = time.monotonic()
        return models, loaded

    def unload(self, host: Host, model: str) -> None:
        """Ask Ollama to unload a model now (keep_alive 0)."""
        self.client(host).generate(model=model, keep_alive=0)
