"""The scheduling engine: due runs, catch-up, no overlap, retries, dependencies, shutdown.

APScheduler 3.x supplies the triggers (cron and interval fire times, time zones, DST).
Its schedulers read the wall clock directly, so the decisions are made here, with an
injected clock: tests drive hours of schedule in milliseconds, and the daemon loop
simply sleeps until the next fire time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hafs_cli.schedule.history import History, iso
from hafs_cli.schedule.runner import JobLock, Running, run_attempt
from hafs_cli.schedule.spec import JobSpec
from hafs_cli.schedule.triggers import fire_times_between, make_trigger, next_fire_time

ON_TIME_SLACK = timedelta(seconds=60)  # a fire this late is still "on time", not a catch-up


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Settings:
    state_dir: Path
    shutdown_grace_s: float = 30.0
    max_output_bytes: int = 1 << 20
    keep_runs: int = 200
    max_sleep_s: float = 60.0


class Engine:
    def __init__(
        self,
        jobs: dict[str, JobSpec],
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        on_record: Callable[[dict], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.jobs = jobs
        self.settings = settings
        self.clock = clock
        self.on_record = on_record or (lambda rec: None)
        self._sleep = sleep
        self.history = History(settings.state_dir / "schedule.sqlite")
        self._triggers = {
            name: make_trigger(spec.cron, spec.every, spec.tz())
            for name, spec in jobs.items()
            if spec.triggered
        }
        self._mutex = threading.Lock()
        self._workers: dict[str, threading.Thread] = {}
        self._running: dict[str, Running] = {}
        self._queued: set[str] = set()
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        now = self.clock()
        specs = {name: repr(sorted(asdict(spec).items())) for name, spec in self.jobs.items()}
        self.history.sync_jobs(specs, now)
        self.history.mark_abandoned(now)
        for name in self._triggers:
            if self.history.last_fire(name) is None:
                self.history.set_last_fire(name, now)  # never catch up on times before we existed

    def close(self) -> None:
        self.history.close()

    # -- the schedule ----------------------------------------------------------------
    def tick(self) -> None:
        """Start every run that is due now (catch-up runs coalesced into one)."""
        now = self.clock()
        for name, trigger in self._triggers.items():
            spec = self.jobs[name]
            if not spec.enabled:
                continue
            last = self.history.last_fire(name) or now
            fires = fire_times_between(trigger, last, now)
            if not fires:
                continue
            self.history.set_last_fire(name, fires[-1])
            latest = fires[-1]
            late = now - latest
            missed = len(fires) - 1
            if late <= ON_TIME_SLACK and not missed:
                self.submit(name, "schedule", latest)
            elif spec.misfire == "run_once" and late <= timedelta(seconds=spec.misfire_grace_s):
                reason = f"catch-up for {len(fires)} missed fire(s) since {iso(fires[0])}"
                self.submit(name, "catch-up", latest, reason=reason)
            else:
                why = (
                    "misfire policy is skip"
                    if spec.misfire == "skip"
                    else f"{int(late.total_seconds())} s late, over the grace of "
                    f"{int(spec.misfire_grace_s)} s"
                )
                self._note(
                    name, "schedule", latest, "missed", f"{len(fires)} fire(s) missed: {why}"
                )

    def next_wakeup(self) -> datetime | None:
        now = self.clock()
        times = [next_fire_time(t, now) for n, t in self._triggers.items() if self.jobs[n].enabled]
        times = [t for t in times if t is not None]
        return min(times) if times else None

    def run_forever(self, stop: threading.Event) -> None:
        """The daemon loop: tick, then sleep until the next fire time (or a stop)."""
        self.start()
        while not stop.is_set():
            self.tick()
            wake = self.next_wakeup()
            delay = self.settings.max_sleep_s
            if wake is not None:
                delay = min(delay, max(0.05, (wake - self.clock()).total_seconds()))
            stop.wait(delay)
        self.shutdown()

    # -- runs ------------------------------------------------------------------------
    def submit(self, name: str, trigger: str, scheduled_for, reason: str | None = None) -> bool:
        """Start a run in the background unless one is already running (overlap policy)."""
        spec = self.jobs[name]
        with self._mutex:
            if self._stopping.is_set():
                return False
            if name in self._workers:
                if spec.overlap == "queue" and name not in self._queued:
                    self._queued.add(name)
                    queued = True
                else:
                    queued = False
            else:
                worker = threading.Thread(
                    target=self._run_job,
                    args=(spec, trigger, scheduled_for, reason),
                    name=f"hafs-job-{name}",
                    daemon=True,
                )
                self._workers[name] = worker
                worker.start()
                return True
        if queued:
            self._note(name, trigger, scheduled_for, "queued", "previous run still running")
        else:
            self._note(name, trigger, scheduled_for, "skipped", "previous run still running")
        return False

    def run_now(self, name: str, trigger: str = "manual") -> dict:
        """Run a job in the foreground (hafs schedule once), with the same lock and log."""
        with self._mutex:
            if name in self._workers:
                return self._note(name, trigger, None, "skipped", "previous run still running")
            self._workers[name] = threading.current_thread()
        return self._run_job(self.jobs[name], trigger, self.clock(), None, follow=False)

    def _run_job(self, spec: JobSpec, trigger: str, scheduled_for, reason, follow=True) -> dict:
        lock = JobLock(self.settings.state_dir / "schedule" / "locks" / f"{spec.name}.lock")
        record: dict = {}
        try:
            if not lock.acquire():
                record = self._note(
                    spec.name, trigger, scheduled_for, "skipped", "locked by another hafs process"
                )
                return record
            try:
                record = self._attempts(spec, trigger, scheduled_for, reason)
            finally:
                lock.release()
        finally:
            with self._mutex:
                self._workers.pop(spec.name, None)
                self._running.pop(spec.name, None)
                again = spec.name in self._queued
                self._queued.discard(spec.name)
        if follow and record.get("status") in ("ok", "failed", "timeout", "killed"):
            self._after(spec, record["status"] == "ok")
        if follow and again:
            self.submit(spec.name, "queued", scheduled_for)
        return record

    def _attempts(self, spec: JobSpec, trigger: str, scheduled_for, reason) -> dict:
        record: dict = {}
        for attempt in range(1, spec.retries + 2):
            label = trigger if attempt == 1 else "retry"
            run_id = self.history.start_run(spec.name, label, scheduled_for, attempt, self.clock())
            out = self.settings.state_dir / "schedule" / "runs" / spec.name / f"{run_id}.jsonl"

            def on_start(running: Running, name=spec.name) -> None:
                with self._mutex:
                    self._running[name] = running

            result = run_attempt(
                spec.command,
                out,
                spec.timeout_s,
                self.settings.max_output_bytes,
                spec.env,
                spec.workdir,
                on_start=on_start,
            )
            status = result.status
            if self._stopping.is_set() and status != "ok":
                status = "killed"
            self.history.finish_run(
                run_id,
                ended=iso(self.clock()),
                status=status,
                exit_code=result.exit_code,
                reason=reason if attempt == 1 else f"attempt {attempt} of {spec.retries + 1}",
                stderr_tail=result.stderr_tail,
                records=result.records,
                output_path=result.output_path,
            )
            record = self._record(run_id)
            self.on_record(record)
            if status == "ok" or self._stopping.is_set() or attempt > spec.retries:
                break
            backoff = spec.retry_backoff_s * (2 ** (attempt - 1))
            if self._stopping.wait(backoff):
                break
        for path in self.history.prune(spec.name, self.settings.keep_runs):
            Path(path).unlink(missing_ok=True)
        return record

    def _after(self, spec: JobSpec, succeeded: bool) -> None:
        """Start (or skip) the jobs that depend on this one."""
        for other in self.jobs.values():
            if spec.name not in other.depends_on or not other.enabled:
                continue
            if not succeeded:
                self._note(
                    other.name, "dependency", None, "skipped", f"dependency {spec.name} failed"
                )
                continue
            mine = self._last_started_id(other.name)
            if all(self.history.last_success_id(dep) > mine for dep in other.depends_on):
                self.submit(other.name, "dependency", None, reason=f"after {spec.name} succeeded")

    def _last_started_id(self, name: str) -> int:
        runs = [
            r for r in self.history.runs(name) if r["status"] not in ("skipped", "missed", "queued")
        ]
        return runs[-1]["id"] if runs else 0

    def _note(self, name: str, trigger: str, scheduled_for, status: str, reason: str) -> dict:
        run_id = self.history.note(name, trigger, scheduled_for, status, reason, self.clock())
        record = self._record(run_id)
        self.on_record(record)
        return record

    def _record(self, run_id: int) -> dict:
        row = next(r for r in self.history.runs() if r["id"] == run_id)
        return run_record(row)

    # -- waiting and stopping --------------------------------------------------------
    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no job runs (tests and shutdown); True when idle."""
        end = time.monotonic() + timeout
        while True:
            with self._mutex:
                workers = [w for w in self._workers.values() if w is not threading.current_thread()]
            if not workers:
                return True
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            workers[0].join(min(remaining, 0.5))

    def shutdown(self) -> None:
        """Stop starting runs; wait up to the grace period; then stop what still runs."""
        self._stopping.set()
        if not self.wait_idle(self.settings.shutdown_grace_s):
            with self._mutex:
                running = list(self._running.values())
            for proc in running:
                proc.stop()
            self.wait_idle(10)


def run_record(row: dict) -> dict:
    rec = {"kind": "schedule_run", "id": row["id"], "job": row["job"], "trigger": row["trigger"]}
    for key in (
        "scheduled_for",
        "attempt",
        "started",
        "ended",
        "status",
        "exit_code",
        "reason",
        "stderr_tail",
        "records",
        "output_path",
    ):
        if row.get(key) is not None:
            rec[key] = row[key]
    return rec
