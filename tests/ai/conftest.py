"""Fixtures for orchestrate: Ollama-protocol servers, a hafs.toml for them, a fake nvidia-smi."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hafs_cli.ai.engine import Engine
from hafs_cli.ai.hosts import hosts_from_config
from hafs_cli.ai.ledger import Ledger
from hafs_cli.ai.sandbox import Sandbox
from hafs_cli.config import load_config
from tests.fixtures.ollama_server import ollama_server  # noqa: F401 - a fixture
from tests.fixtures.sshd import sshd  # noqa: F401 - a fixture

IDLE = "3, 1000, 24576\n"
BUSY = "97, 20000, 24576\n"


class FakeSmi:
    """A fake nvidia-smi on PATH whose output (or slowness, or failure) a test sets."""

    def __init__(self, bindir: Path) -> None:
        self.state = bindir / "smi-state"
        self.calls = bindir / "smi-calls"
        script = bindir / "nvidia-smi"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$@" >> "{self.calls}"\n'
            f'state="{self.state}"\n'
            'case "$(head -c 5 "$state")" in\n'
            "  sleep) exec sleep 5 ;;\n"
            '  fail*) echo "NVIDIA-SMI has failed" >&2; exit 9 ;;\n'
            "esac\n"
            'cat "$state"\n'
        )
        script.chmod(0o755)
        self.set(IDLE)

    def set(self, text: str) -> None:
        self.state.write_text(text)

    def count(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0


@pytest.fixture
def fake_smi(tmp_path, monkeypatch) -> FakeSmi:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return FakeSmi(bindir)


def settings_for(servers: dict, **overrides) -> dict:
    """orchestrate settings (defaults applied) with fast test timings and these hosts."""
    s = load_config().section("orchestrate")
    s.update(
        retries=1, backoff_s=0.01, connect_timeout_s=1, request_timeout_s=10,
        discover_interval_s=0.2, wait_for_host_s=2, drain_timeout_s=2,
    )  # fmt: skip
    s["guard"].update(interval_s=0.05, probe_timeout_s=0.5)
    hosts = {}
    for name, (srv, extra) in servers.items():
        hosts[name] = {"url": srv.url, "slots": srv.slots, **extra}
    s["hosts"] = hosts
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(s.get(key), dict):
            s[key].update(value)
        else:
            s[key] = value
    return s


@pytest.fixture
def make_engine(tmp_path):
    """make_engine({"a": (server, {"tags": ["gpu"]})}, aging_s=0) -> a started Engine."""
    engines = []

    def make(
        servers: dict, *, roots=None, ledger=False, events=None, ssh_hosts=None, **overrides
    ) -> Engine:
        s = settings_for(servers, **overrides)
        hosts = hosts_from_config(s, ssh_hosts)
        book = Ledger(tmp_path / "ledger.sqlite") if ledger else None
        sandbox = Sandbox(roots or [tmp_path])
        eng = Engine(s, hosts, sandbox=sandbox, ledger=book, on_event=events)
        engines.append(eng)
        return eng.start()

    yield make
    for eng in engines:
        eng.close()


@pytest.fixture
def write_config(tmp_path, monkeypatch):
    """Write a hafs.toml for servers and point HAFS_CONFIG at it."""

    def write(servers: dict, extra: str = "") -> Path:
        lines = [
            "[orchestrate]",
            "retries = 1",
            "backoff_s = 0.01",
            "connect_timeout_s = 1",
            "discover_interval_s = 0.2",
            f'ledger = "{tmp_path / "ledger.sqlite"}"',
            f'socket = "{tmp_path / "orch.sock"}"',
            "",
            "[orchestrate.guard]",
            "interval_s = 0.05",
            "",
        ]
        for name, (srv, fields) in servers.items():
            lines.append(f"[orchestrate.hosts.{name}]")
            lines.append(f'url = "{srv.url}"')
            lines.append(f"slots = {srv.slots}")
            for key, value in fields.items():
                lines.append(f"{key} = {json.dumps(value)}")
            lines.append("")
        path = tmp_path / "hafs.toml"
        path.write_text("\n".join(lines) + "\n" + extra)
        monkeypatch.setenv("HAFS_CONFIG", str(path))
        return path

    return write
