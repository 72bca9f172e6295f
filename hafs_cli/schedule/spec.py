"""Job definitions from hafs.toml [schedule.jobs.NAME]."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from hafs_cli.exits import HafsError


@dataclass(frozen=True)
class JobSpec:
    name: str
    command: str
    cron: str | None = None
    every: str | None = None
    timezone: str = ""
    enabled: bool = True
    timeout_s: float = 3600.0
    retries: int = 0
    retry_backoff_s: float = 30.0
    depends_on: tuple[str, ...] = ()
    overlap: str = "skip"  # skip | queue
    misfire: str = "run_once"  # run_once | skip
    misfire_grace_s: float = 3600.0
    workdir: str = ""
    env: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def triggered(self) -> bool:
        return bool(self.cron or self.every)

    def tz(self) -> tzinfo:
        return resolve_tz(self.timezone)

    def describe_trigger(self) -> str:
        parts = []
        if self.cron:
            parts.append(f"cron {self.cron}")
        if self.every:
            parts.append(f"every {self.every}")
        if self.depends_on:
            parts.append("after " + ", ".join(self.depends_on))
        return "; ".join(parts) or "manual"


def resolve_tz(name: str) -> tzinfo:
    """A named IANA zone, or the local zone when empty."""
    if not name:
        from datetime import datetime

        return datetime.now().astimezone().tzinfo
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HafsError(
            f"unknown timezone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None


def jobs_from_config(section: dict) -> dict[str, JobSpec]:
    """Validated job specs, by name; problems name the job and what to fix."""
    from hafs_cli.schedule.triggers import check_trigger

    jobs: dict[str, JobSpec] = {}
    raw_jobs = section.get("jobs", {}) or {}
    for name, raw in sorted(raw_jobs.items()):
        if not raw.get("command"):
            raise HafsError(f"[schedule.jobs.{name}] has no `command`")
        every = raw.get("every") or None
        spec = JobSpec(
            name=name,
            command=raw["command"],
            cron=raw.get("cron") or None,
            every=str(every) if every is not None else None,
            timezone=raw.get("timezone", ""),
            enabled=raw.get("enabled", True),
            timeout_s=float(raw.get("timeout_s", 3600)),
            retries=int(raw.get("retries", 0)),
            retry_backoff_s=float(raw.get("retry_backoff_s", 30)),
            depends_on=tuple(raw.get("depends_on", ())),
            overlap=raw.get("overlap", "skip"),
            misfire=raw.get("misfire", "run_once"),
            misfire_grace_s=float(raw.get("misfire_grace_s", 3600)),
            workdir=raw.get("workdir", ""),
            env=dict(raw.get("env", {})),
        )
        if spec.triggered:
            check_trigger(name, spec.cron, spec.every, spec.tz())
        elif not spec.depends_on:
            pass  # a manual job: `hafs schedule once NAME` only
        jobs[name] = spec
    for spec in jobs.values():
        for dep in spec.depends_on:
            if dep not in jobs:
                raise HafsError(f"[schedule.jobs.{spec.name}] depends on unknown job '{dep}'")
    _check_cycles(jobs)
    return jobs


def _check_cycles(jobs: dict[str, JobSpec]) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join(trail[trail.index(name) :] + [name])
            raise HafsError(f"[schedule.jobs] depends_on forms a cycle: {cycle}")
        state[name] = 1
        for dep in jobs[name].depends_on:
            visit(dep, trail + [name])
        state[name] = 2

    for name in jobs:
        visit(name, [])
