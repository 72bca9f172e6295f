"""Run one job attempt: a hafs pipeline or command line, with a timeout and bounded output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

STDERR_TAIL = 4000


@dataclass
class Attempt:
    status: str  # ok | failed | timeout | killed
    exit_code: int | None
    stderr_tail: str
    records: int
    output_path: str


class JobLock:
    """An exclusive per-job file lock, so that a second daemon or a manual run cannot overlap."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            if os.name == "nt":  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the lock
            self._fh = None


def shell_argv(command: str) -> list[str]:
    """The shell that runs a pipeline: bash with pipefail where present (a failing stage counts)."""
    if os.name == "nt":  # pragma: no cover - Windows
        return ["cmd", "/c", command]
    bash = shutil.which("bash")
    if bash:
        return [bash, "-o", "pipefail", "-c", command]
    return ["/bin/sh", "-c", command]


def job_env(extra: dict) -> dict:
    """The job's environment: hafs's own bin directory first on PATH, so `hafs` is this hafs."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _count_records(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.startswith(b"{") and b'"kind"' in line:
                n += 1
    return n


class Running:
    """A started attempt; `stop()` ends its whole process group."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def stop(self, sig: int = signal.SIGTERM) -> None:
        try:
            if os.name == "nt":  # pragma: no cover
                self.proc.kill()
            else:
                os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def run_attempt(
    command: str,
    output_path: Path,
    timeout_s: float,
    max_output_bytes: int,
    env: dict,
    workdir: str = "",
    on_start=None,
) -> Attempt:
    """Run the command; stdout goes to output_path (bounded), stderr's tail is kept."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    err_path = output_path.with_suffix(".stderr")
    with open(output_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            shell_argv(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=workdir or None,
            env=job_env(env),
            start_new_session=(os.name != "nt"),
        )
        running = Running(proc)
        if on_start:
            on_start(running)
        copier = threading.Thread(target=_copy_bounded, args=(proc.stdout, out, max_output_bytes))
        copier.start()
        status = "ok"
        try:
            proc.wait(timeout=timeout_s if timeout_s > 0 else None)
        except subprocess.TimeoutExpired:
            status = "timeout"
            running.stop(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                running.stop(signal.SIGKILL)
                proc.wait()
        copier.join()
    code = proc.returncode
    if status == "ok" and code != 0:
        status = "killed" if code < 0 else "failed"
    tail = _tail(err_path)
    err_path.unlink(missing_ok=True)
    return Attempt(status, code, tail, _count_records(output_path), str(output_path))


def _copy_bounded(src, dst, limit: int) -> None:
    """Copy a pipe to a file, keeping at most `limit` bytes (then drain, so the job never blocks)."""
    written = 0
    truncated = False
    while True:
        chunk = src.read(65536)
        if not chunk:
            break
        if written < limit:
            part = chunk[: limit - written]
            dst.write(part)
            written += len(part)
            truncated |= len(part) < len(chunk)
        else:
            truncated = True
    if truncated:
        dst.write(b'{"kind":"error","reason":"output truncated at %d bytes"}\n' % limit)
    src.close()


def _tail(path: Path) -> str:
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.seek(max(0, size - STDERR_TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
