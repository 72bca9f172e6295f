from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from hafs_cli.schedule.engine import Engine, Settings
from hafs_cli.schedule.spec import jobs_from_config

PY = sys.executable


class FakeClock:
    """A clock the test moves by hand: hours of schedule in milliseconds."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 1, 5, 0, 0, 30, tzinfo=UTC))


@pytest.fixture
def make_engine(tmp_path, clock):
    engines = []

    def make(jobs: dict, **settings) -> Engine:
        specs = jobs_from_config({"jobs": jobs})
        records: list[dict] = []
        engine = Engine(
            specs,
            Settings(state_dir=tmp_path / "state", **settings),
            clock=clock,
            on_record=records.append,
        )
        engine.records = records
        engines.append(engine)
        engine.start()
        return engine

    yield make
    for engine in engines:
        engine.shutdown()
        try:
            engine.close()
        except Exception:
            pass


def py(code: str) -> str:
    """A job command line that runs Python code (quoted for bash)."""
    import shlex

    return f"{shlex.quote(PY)} -c {shlex.quote(code)}"
