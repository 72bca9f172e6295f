"""The training guard: is a host's GPU busy with training right now?

Busy when any of: GPU utilisation or memory over the thresholds (nvidia-smi, locally or
over SSH), a configured training process is alive, a PID file names a live process, or a
lock file exists. A probe that fails or takes longer than `probe_timeout_s` counts as busy:
when in doubt, stay out of training's way.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

QUERY = "--query-gpu=utilization.gpu,memory.used,memory.total"


@dataclass
class GuardVerdict:
    busy: bool
    reason: str  # what made it busy, or "idle"


def parse_nvidia_smi(text: str, util_max: float, mem_max: float) -> GuardVerdict:
    """Read `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` output."""
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        return GuardVerdict(True, "nvidia-smi printed no GPUs")
    for index, line in enumerate(rows):
        try:
            util, used, total = (float(x.strip()) for x in line.split(","))
        except ValueError:
            return GuardVerdict(True, f"nvidia-smi output not understood: {line.strip()!r}")
        mem_pct = 100.0 * used / total if total > 0 else 100.0
        if util > util_max:
            return GuardVerdict(True, f"GPU {index} utilisation {util:.0f}% > {util_max:.0f}%")
        if mem_pct > mem_max:
            return GuardVerdict(True, f"GPU {index} memory {mem_pct:.0f}% > {mem_max:.0f}%")
    return GuardVerdict(False, "idle")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_running(patterns: list[str]) -> str | None:
    """The first pattern equal to a live process's name or found in its command line."""
    own = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for pattern in patterns:
            if pattern == comm or pattern in cmdline:
                return pattern
    return None


class Guard:
    """Probes one host; `check()` returns a verdict and never raises."""

    def __init__(self, settings: dict, *, ssh: list[str] | None = None) -> None:
        self.settings = settings
        self.ssh = ssh  # None: the GPU is on this machine

    def check(self) -> GuardVerdict:
        try:
            local = self._local_markers() if self.ssh is None else None
            if local is not None:
                return local
            return self._gpu()
        except Exception as exc:  # a probe that fails counts as busy
            return GuardVerdict(True, f"guard probe failed: {exc}")

    def _local_markers(self) -> GuardVerdict | None:
        s = self.settings
        for lock in s.get("lock_files", []):
            if Path(os.path.expanduser(lock)).exists():
                return GuardVerdict(True, f"lock file {lock} exists")
        for pid_file in s.get("pid_files", []):
            path = Path(os.path.expanduser(pid_file))
            try:
                pid = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if _pid_alive(pid):
                return GuardVerdict(True, f"training PID {pid} from {pid_file} is alive")
        if s.get("processes"):
            found = _process_running(s["processes"])
            if found:
                return GuardVerdict(True, f"training process {found!r} is running")
        return None

    def _gpu(self) -> GuardVerdict:
        s = self.settings
        program = s.get("nvidia_smi", "nvidia-smi")
        args = [program, QUERY, "--format=csv,noheader,nounits"]
        if self.ssh is None:
            found = shutil.which(program)
            if found is None:
                return GuardVerdict(True, f"{program} not found on PATH (guard on, probe failed)")
            args[0] = found
        else:
            args = [*self.ssh, remote_probe(program, s.get("lock_files", []))]
        timeout = float(s.get("probe_timeout_s", 2))
        try:
            proc = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            return GuardVerdict(True, f"GPU probe took over {timeout:g} s")
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            return GuardVerdict(True, f"GPU probe exited {proc.returncode}: {detail[0]}")
        out = proc.stdout
        if self.ssh is not None:
            lines = out.splitlines()
            locks = [line[len(LOCK_MARK) :] for line in lines if line.startswith(LOCK_MARK)]
            if locks:
                return GuardVerdict(True, f"lock file {locks[0]} exists on the remote host")
            out = "\n".join(line for line in lines if not line.startswith(LOCK_MARK))
        return parse_nvidia_smi(
            out, float(s.get("gpu_util_max", 50)), float(s.get("gpu_mem_max", 60))
        )


LOCK_MARK = "hafs-lock: "


def remote_probe(program: str, lock_files: list[str]) -> str:
    """One remote command: nvidia-smi's query, then a line per lock file that exists.

    ssh hands its command to the remote login shell, so every word is quoted; the
    command exits with nvidia-smi's status, so a failed query still counts as busy.
    """
    smi = f"{shlex.quote(program)} {QUERY} --format=csv,noheader,nounits"
    if not lock_files:
        return smi
    files = " ".join(shlex.quote(f) for f in lock_files)
    mark = shlex.quote(LOCK_MARK)
    return (
        f"{smi}; s=$?; for f in {files}; do "
        f'if [ -e "$f" ]; then printf "%s%s\\n" {mark} "$f"; fi; done; exit $s'
    )
