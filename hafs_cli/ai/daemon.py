"""The orchestrate daemon: one shared queue for every hafs process on the machine.

Protocol on the Unix socket: JSON Lines both ways. A client sends
`{"op": "submit", "request": {...}}` (any number per connection) and receives each
`result` record when it completes; `{"op": "status"}` answers one `event` record
(event "status"); `{"op": "cancel", "id": ...}` answers an `event` (event "cancel").
The optional HTTP listener (127.0.0.1 only, bearer token required) offers
POST /v1/requests (one request, answers its result) and GET /v1/status.
"""

from __future__ import annotations

import hmac
import os
import queue
import socket
import socketserver
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from hafs_cli import xdg
from hafs_cli.ai.engine import Engine
from hafs_cli.ai.errors import CONFIG, DAEMON, AIError
from hafs_cli.ai.request import Request


def socket_path(configured: str = "") -> Path:
    return Path(configured).expanduser() if configured else xdg.state_dir() / "orchestrate.sock"


def _line(obj: dict) -> bytes:
    return orjson.dumps(obj) + b"\n"


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    engine: Engine


class _Connection(socketserver.StreamRequestHandler):
    """One client connection: requests in, results out through a writer thread.

    The engine answers under its lock, so answers go into a queue that a writer thread
    sends: a client that stops reading stalls only its own connection, never the engine.
    """

    server: _UnixServer

    def handle(self) -> None:
        engine = self.server.engine
        lock = threading.Lock()
        pending: dict[int, Request] = {}
        outbox: queue.SimpleQueue = queue.SimpleQueue()
        writer = threading.Thread(target=self._write_loop, args=(outbox,), daemon=True)
        writer.start()

        def send(obj: dict) -> None:
            if obj.get("kind") == "result":
                with lock:
                    for key, req in list(pending.items()):
                        if req.finished:
                            del pending[key]
            outbox.put(obj)

        try:
            self._serve(engine, send, pending, lock)
        finally:
            # The client went away: its unanswered requests would only waste the GPU.
            with lock:
                orphans = list(pending.values())
            for req in orphans:
                engine.cancel_request(req)
            outbox.put(None)
            writer.join(5)

    def _write_loop(self, outbox: queue.SimpleQueue) -> None:
        while (obj := outbox.get()) is not None:
            try:
                self.wfile.write(_line(obj))
                self.wfile.flush()
            except OSError:
                return  # the client is gone; handle() cancels what it still waited for

    def _serve(self, engine: Engine, send, pending: dict, lock: threading.Lock) -> None:
        for raw in self.rfile:
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                send({"kind": "error", "reason": "not JSON", "command": "orchestrate serve"})
                continue
            op = msg.get("op") if isinstance(msg, dict) else None
            if op == "submit" and isinstance(msg.get("request"), dict):
                req = engine.submit(msg["request"], send)
                if req is not None:
                    with lock:
                        if not req.finished:
                            pending[id(req)] = req
            elif op == "status":
                send({"kind": "event", "event": "status", **engine.status()})
            elif op == "cancel":
                found = engine.cancel(str(msg.get("id")))
                send({"kind": "event", "event": "cancel", "id": str(msg.get("id")), "found": found})
            elif op == "ping":
                send({"kind": "event", "event": "pong"})
            else:
                reason = f"unknown op {op!r}; use submit, status, cancel or ping"
                send({"kind": "error", "reason": reason, "command": "orchestrate serve"})


def _http_handler(engine: Engine, token: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, obj: dict) -> None:
            data = orjson.dumps(obj)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            got = self.headers.get("Authorization", "")
            if hmac.compare_digest(got.encode(), f"Bearer {token}".encode()):
                return True
            self._send(401, {"error": "missing or wrong bearer token"})
            return False

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            if self.path == "/v1/status":
                self._send(200, {"kind": "event", "event": "status", **engine.status()})
            else:
                self._send(404, {"error": "not found; use GET /v1/status or POST /v1/requests"})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            if self.path != "/v1/requests":
                self._send(404, {"error": "not found; use POST /v1/requests"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = orjson.loads(self.rfile.read(length))
            except orjson.JSONDecodeError:
                self._send(400, {"error": "body is not JSON"})
                return
            if not isinstance(body, dict):
                self._send(400, {"error": "body must be one request object"})
                return
            done = threading.Event()
            box: dict = {}

            def reply(result: dict) -> None:
                box["result"] = result
                done.set()

            engine.submit(body, reply)
            done.wait()
            self._send(200, box["result"])

    return Handler


class Daemon:
    """Serve an engine on a Unix socket (and optionally HTTP) until stopped."""

    def __init__(self, engine: Engine, path: Path, http: str = "", token: str = "") -> None:
        self.engine = engine
        self.path = path
        self.http = http
        self.token = token
        self._unix: _UnixServer | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> Daemon:
        http = self._check_http()  # configuration errors before anything listens
        if self.path.is_symlink() or self.path.exists():
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise AIError(
                    CONFIG,
                    f"{self.path} exists and is not a socket; it was left alone: "
                    "choose another --socket path (or orchestrate.socket)",
                )
            if ping(self.path):
                raise AIError(DAEMON, f"a daemon already serves {self.path}; stop it first")
            self.path.unlink()  # stale socket of a daemon that died
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o177)  # the socket is for this user only
        try:
            self._unix = _UnixServer(str(self.path), _Connection)
        except OSError as exc:
            raise AIError(DAEMON, f"cannot listen on {self.path}: {exc}") from None
        finally:
            os.umask(old)
        self._unix.engine = self.engine
        self._serve(self._unix)
        if http is not None:
            try:
                self._httpd = ThreadingHTTPServer(http, _http_handler(self.engine, self.token))
            except OSError as exc:
                self.stop(0)
                raise AIError(DAEMON, f"cannot listen on {self.http}: {exc}") from None
            self._httpd.daemon_threads = True
            self._serve(self._httpd)
        return self

    def _check_http(self) -> tuple[str, int] | None:
        if not self.http:
            return None
        host, _, port = self.http.rpartition(":")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AIError(CONFIG, f"the HTTP listener must be on loopback, not {host!r}")
        if not port.isdigit():
            raise AIError(CONFIG, f"HTTP address {self.http!r} is not 127.0.0.1:PORT")
        if not self.token:
            raise AIError(
                CONFIG,
                "the HTTP listener needs a token: set the variable named by "
                "orchestrate.token_env (HAFS_ORCHESTRATE_TOKEN by default)",
            )
        return host, int(port)

    @property
    def http_address(self) -> str | None:
        if self._httpd is None:
            return None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, server: socketserver.BaseServer) -> None:
        t = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        t.start()
        self._threads.append(t)

    def stop(self, drain_timeout: float | None = None) -> None:
        """Drain the engine (every accepted request gets its result), then close listeners."""
        self.engine.drain(drain_timeout)
        for server in (self._unix, self._httpd):
            if server is not None:
                server.shutdown()
                server.server_close()
        self.path.unlink(missing_ok=True)
        self.engine.close()


# -- client side ------------------------------------------------------------------------
def connect(path: Path, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(path))
    return sock


def ping(path: Path, timeout: float = 1.0) -> bool:
    """True when a daemon answers on the socket."""
    try:
        with connect(path, timeout) as sock:
            sock.sendall(_line({"op": "ping"}))
            return b"pong" in sock.makefile("rb").readline()
    except OSError:
        return False


def ask(path: Path, message: dict, timeout: float = 5.0) -> dict:
    """Send one op and read its one answer."""
    try:
        with connect(path, timeout) as sock:
            sock.sendall(_line(message))
            line = sock.makefile("rb").readline()
    except OSError as exc:
        raise AIError(
            DAEMON, f"no orchestrate daemon at {path}: {exc}; start `hafs orchestrate serve`"
        ) from None
    if not line:
        raise AIError(DAEMON, f"the daemon at {path} closed the connection")
    return orjson.loads(line)


def submit_many(path: Path, requests, on_result, timeout: float | None = None) -> int:
    """Send requests over one connection and hand each result to on_result; returns count."""
    try:
        sock = connect(path, timeout)
    except OSError as exc:
        raise AIError(
            DAEMON, f"no orchestrate daemon at {path}: {exc}; start `hafs orchestrate serve`"
        ) from None
    with sock:
        reader = sock.makefile("rb")
        sent = 0
        for req in requests:
            sock.sendall(_line({"op": "submit", "request": req}))
            sent += 1
        got = 0
        while got < sent:
            line = reader.readline()
            if not line:
                raise AIError(
                    DAEMON, f"the daemon closed the connection after {got} of {sent} results"
                )
            rec = orjson.loads(line)
            if rec.get("kind") == "result":
                got += 1
            on_result(rec)
        return got
