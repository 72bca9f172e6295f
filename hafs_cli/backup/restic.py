"""The restic driver: run restic with a repository's environment, parse its --json output.

restic does the backing up; this module only builds argument lists, never puts a
password on one, and turns restic's failures into errors a user can act on.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from hafs_cli import exits
from hafs_cli.exits import HafsError

INSTALL_HELP = (
    "install it: Debian/Ubuntu 'sudo apt install restic', Fedora 'sudo dnf install restic', "
    "Arch 'sudo pacman -S restic', macOS 'brew install restic', "
    "Windows 'scoop install restic' (or 'winget install restic.restic'); "
    "or set [backup] restic to the program's path"
)

# Exit codes restic 0.16+ gives these conditions; 0.14 exits 1 for all of them, so its
# messages are matched too.
EXIT_NO_REPOSITORY = 10
EXIT_LOCKED = 11
EXIT_WRONG_PASSWORD = 12
# restic's messages for conditions the user can fix.
_WRONG_PASSWORD = "wrong password or no key found"
_NO_REPOSITORY = ("Is there a repository at the following location?", "unable to open config file")
_LOCKED = ("repository is already locked", "unable to create lock")
_SSH_FAILURE = (
    "ssh: ",
    "Host key verification failed",
    "unable to start the sftp session",
    "subprocess ssh:",
    "Permission denied (publickey",
    "Connection refused",
    "Connection closed",
)


def find_restic(program: str = "restic") -> str:
    """The restic executable to run, or a RUNTIME error saying how to install it."""
    found = shutil.which(os.path.expanduser(program))
    if found is None:
        raise HafsError(
            f"restic not found (looked for '{program}' on PATH); {INSTALL_HELP}", exits.RUNTIME
        )
    return found


def escape_pattern(path: str) -> str:
    """A restic include/exclude pattern that matches exactly this path (no glob meaning)."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", path)


class ResticLocked(HafsError):
    """restic could not lock the repository (another process, or a stale lock)."""

    def __init__(self, message: str):
        super().__init__(message, exits.RUNTIME)


@dataclass
class Restic:
    """One repository: the program, the repository URL, extra -o options, the environment."""

    program: str
    repository: str
    name: str = "default"
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    password_source: str = ""
    host: object = None  # the [hosts] entry of an sftp repository

    def argv(self, *args: str) -> list[str]:
        argv = [self.program, "--repo", self.repository]
        for opt in self.options:
            argv += ["-o", opt]
        return argv + list(args)

    @contextlib.contextmanager
    def _spawn(self) -> Iterator[dict]:
        """Keyword arguments for subprocess: the environment, and the password pipe if any.

        A password held in memory (environment variable, keyring) reaches restic through
        a fresh pipe per run, read as RESTIC_PASSWORD_FILE=/dev/fd/N: it is never in an
        argv, and not in restic's environment either where /dev/fd exists.
        """
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("RESTIC_") or k in ("RESTIC_CACHE_DIR", "RESTIC_PACK_SIZE")
        }
        env.update(self.env)
        if self.password is not None:
            # the variable the password came from stays out of restic's environment
            env = {k: v for k, v in env.items() if v != self.password}
        if self.password is None:
            yield {"env": env}
            return
        if not os.path.isdir("/dev/fd"):
            env["RESTIC_PASSWORD"] = self.password
            yield {"env": env}
            return
        read_fd, write_fd = os.pipe()
        try:
            os.write(write_fd, self.password.encode() + b"\n")
            os.close(write_fd)
            write_fd = -1
            env["RESTIC_PASSWORD_FILE"] = f"/dev/fd/{read_fd}"
            yield {"env": env, "pass_fds": (read_fd,)}
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)

    def popen(self, args: Sequence[str]) -> subprocess.Popen:
        with self._spawn() as spawn:
            return subprocess.Popen(
                self.argv(*args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=False,
                **spawn,
            )

    def run(self, *args: str, ok_codes: Sequence[int] = (0,)) -> subprocess.CompletedProcess:
        """Run restic to completion; raise a HafsError describing any failure."""
        try:
            with self._spawn() as spawn:
                proc = subprocess.run(
                    self.argv(*args), stdin=subprocess.DEVNULL, capture_output=True, **spawn
                )
        except FileNotFoundError:
            raise HafsError(
                f"restic not found at '{self.program}'; {INSTALL_HELP}", exits.RUNTIME
            ) from None
        if proc.returncode not in ok_codes:
            command = next((a for a in args if not a.startswith("-")), "")
            raise self.failure(command, proc.returncode, proc.stderr.decode(errors="replace"))
        return proc

    def json(self, *args: str) -> object:
        """Run a restic command with --json and parse its single JSON document."""
        proc = self.run("--json", *args)
        out = proc.stdout.strip()
        if not out:
            return None
        try:
            return orjson.loads(out)
        except orjson.JSONDecodeError:
            pass
        # Some commands print a progress line before the document; the document is last.
        last = out.splitlines()[-1]
        try:
            return orjson.loads(last)
        except orjson.JSONDecodeError:
            raise HafsError(
                f"restic {args[0]}: unexpected output (not JSON): {last[:200]!r}", exits.RUNTIME
            ) from None

    def stream(
        self, args: Sequence[str], on_stderr: Callable[[str], None] | None = None
    ) -> Iterator[dict]:
        """Run restic --json and yield each JSON message as it arrives.

        Lines that are not JSON go to on_stderr. After the last message the exit status
        is checked: 0 is success, 3 means "snapshot saved but some files could not be
        read" (restic's own code) and is reported as a message, anything else raises.
        """
        proc = self.popen(["--json", *args])
        stderr_lines: list[str] = []
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.strip()
                if not line:
                    continue
                try:
                    msg = orjson.loads(line)
                except orjson.JSONDecodeError:
                    if on_stderr:
                        on_stderr(line.decode(errors="replace"))
                    continue
                if isinstance(msg, dict):
                    yield msg
            assert proc.stderr is not None
            stderr_text = proc.stderr.read().decode(errors="replace")
            stderr_lines = [ln for ln in stderr_text.splitlines() if ln.strip()]
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        if code == 3:
            yield {"message_type": "incomplete", "stderr": stderr_lines}
            return
        if code != 0:
            raise self.failure(args[0], code, "\n".join(stderr_lines))
        if on_stderr:
            for line in stderr_lines:
                on_stderr(line)

    def failure(self, command: str, code: int, stderr: str) -> HafsError:
        """A HafsError for a failed restic command: what, where, what to do."""
        where = f"repository '{self.name}' ({self.repository})"
        detail = _last_fatal(stderr)
        if _WRONG_PASSWORD in stderr or code == EXIT_WRONG_PASSWORD:
            return HafsError(
                f"the password from {self.password_source or 'the configuration'} does not open {where}; "
                "check [backup.repositories] password_file / password_env / password_keyring",
                exits.USAGE,
            )
        if any(s in stderr for s in _LOCKED) or code == EXIT_LOCKED:
            return ResticLocked(f"{where} is locked: {detail}")
        if command != "init" and (
            any(s in stderr for s in _NO_REPOSITORY) or code == EXIT_NO_REPOSITORY
        ):
            return HafsError(
                f"no restic repository at {where}; create it with 'hafs backup init --repo {self.name}'",
                exits.USAGE,
            )
        if any(s in stderr for s in _SSH_FAILURE):
            if self.host is not None:
                probe = self._diagnose_ssh()
                if probe is not None:
                    return probe
            return HafsError(f"cannot reach {where} over SSH: {detail}", exits.RUNTIME)
        return HafsError(
            f"restic {command} failed on {where} (exit {code}): {detail}", exits.RUNTIME
        )

    def _diagnose_ssh(self) -> HafsError | None:
        """Why ssh fails for this host (restic does not relay ssh's own message reliably)."""
        from hafs_cli.remote.ssh import SSH_FAILED, ssh_argv, ssh_failure

        proc = subprocess.run(
            ssh_argv(self.host, "true"), capture_output=True, stdin=subprocess.DEVNULL
        )  # type: ignore[arg-type]
        if proc.returncode == SSH_FAILED:
            return ssh_failure(
                self.host, proc.stderr, f"repository '{self.name}' ({self.repository})"
            )  # type: ignore[arg-type]
        return None


def _last_fatal(stderr: str) -> str:
    """The most telling line of restic's stderr, secrets-free (restic never prints passwords)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("Fatal:"):
            return ln[len("Fatal:") :].strip()
    return lines[-1] if lines else "no message"
