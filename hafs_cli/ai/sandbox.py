"""The sandbox every model-driven file access goes through.

Every path resolves (symlinks included) under one of the allowed roots or is refused;
nothing runs a program or a shell; outputs are capped in bytes and lines; a tool that
takes longer than its timeout is abandoned with an error. Refusals are `ToolError`s with
a stable code, returned to the model (and recorded) as structured errors.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hafs_cli.ai.errors import AIError

# ToolError codes
NOT_ADVERTISED = "tool_not_advertised"
BAD_ARGUMENTS = "bad_arguments"
OUTSIDE = "path_outside_roots"
NOT_FOUND = "path_not_found"
NOT_A_FILE = "not_a_regular_file"
TOO_LARGE = "file_too_large"
BINARY = "binary_file"
BAD_PATTERN = "bad_pattern"
TIMEOUT = "tool_timeout"


class ToolError(AIError):
    """A refused or failed tool call; `code` is one of the constants above."""


@dataclass
class Limits:
    max_file_bytes: int = 1 << 20
    max_output_bytes: int = 64 << 10
    max_output_lines: int = 2000
    timeout_s: float = 10.0

    @classmethod
    def from_config(cls, section: dict) -> Limits:
        return cls(
            max_file_bytes=int(section.get("max_file_bytes", cls.max_file_bytes)),
            max_output_bytes=int(section.get("max_output_bytes", cls.max_output_bytes)),
            max_output_lines=int(section.get("max_output_lines", cls.max_output_lines)),
            timeout_s=float(section.get("tool_timeout_s", cls.timeout_s)),
        )


class Sandbox:
    """Allowed roots plus limits; resolves and reads paths safely."""

    def __init__(
        self,
        roots: list[str | Path],
        limits: Limits | None = None,
        index_path: str | Path | None = None,
    ) -> None:
        if not roots:
            roots = [Path.cwd()]
        self.roots = [Path(os.path.realpath(os.path.expanduser(str(r)))) for r in roots]
        self.limits = limits or Limits()
        self.index_path = Path(index_path) if index_path else None

    def resolve(self, arg: Any, *, argument: str = "path") -> Path:
        """The real path an argument names, if it lies under a root; else ToolError."""
        if not isinstance(arg, str) or not arg:
            raise ToolError(
                BAD_ARGUMENTS, f"{argument} must be a non-empty string", argument=argument
            )
        if "\0" in arg:
            raise ToolError(BAD_ARGUMENTS, f"{argument} contains a NUL byte", argument=argument)
        if arg.startswith("-"):
            raise ToolError(
                BAD_ARGUMENTS,
                f"{argument} {arg!r} starts with '-'; write ./{arg} for a file of that name",
                argument=argument,
            )
        candidate = Path(arg)
        if not candidate.is_absolute():
            candidate = self.roots[0] / candidate
        real = Path(os.path.realpath(candidate))
        if not any(real == root or root in real.parents for root in self.roots):
            raise ToolError(
                OUTSIDE,
                f"{arg!r} resolves to {real}, outside the allowed roots "
                f"({', '.join(map(str, self.roots))}); see [context] roots in hafs.toml",
                argument=argument,
            )
        if not real.exists():
            raise ToolError(NOT_FOUND, f"{arg!r} does not exist", argument=argument)
        return real

    def display(self, real: Path) -> str:
        """A path relative to its root, for the model and for records."""
        for root in self.roots:
            if real == root:
                return "."
            if root in real.parents:
                return str(real.relative_to(root))
        return str(real)

    def walk(self, top: Path, deadline: Deadline):
        """Files under `top`, sorted, never following a symlink out of the roots."""
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            deadline.check()
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_symlink() and not self.within(path):
                    continue
                yield path

    def within(self, real: Path) -> bool:
        real = Path(os.path.realpath(real))
        return any(real == root or root in real.parents for root in self.roots)

    def read_text(self, real: Path, *, max_bytes: int | None = None) -> str:
        """A regular file's text, refusing devices, FIFOs, huge and binary files."""
        limit = self.limits.max_file_bytes if max_bytes is None else max_bytes
        # O_NONBLOCK: opening a FIFO must not hang; fstat after open closes the race.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ToolError(NOT_A_FILE, f"{self.display(real)} is not a regular file")
            if st.st_size > limit:
                raise ToolError(
                    TOO_LARGE,
                    f"{self.display(real)} is {st.st_size} bytes, over the {limit}-byte limit "
                    "([context] max_file_bytes)",
                    size=st.st_size,
                    limit=limit,
                )
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(limit + 1)
        finally:
            os.close(fd)
        if b"\0" in data[:8192]:
            raise ToolError(BINARY, f"{self.display(real)} looks binary (NUL bytes); not read")
        return data.decode("utf-8", errors="replace")

    def cap(self, text: str) -> tuple[str, bool]:
        """Cut text to the output limits; (text, truncated)."""
        lines = text.splitlines(keepends=True)
        truncated = False
        if len(lines) > self.limits.max_output_lines:
            lines = lines[: self.limits.max_output_lines]
            truncated = True
        out = "".join(lines)
        data = out.encode()
        if len(data) > self.limits.max_output_bytes:
            out = data[: self.limits.max_output_bytes].decode("utf-8", errors="ignore")
            truncated = True
        if truncated:
            out += (
                "" if out.endswith("\n") else "\n"
            ) + "[output truncated by hafs: limits in [context] max_output_bytes/lines]"
        return out, truncated


class Deadline:
    """Cooperative timeout for tools that loop over files."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise ToolError(TIMEOUT, f"tool ran out of time ({self.seconds:g} s)")


def run_with_timeout(fn, timeout: float) -> Any:
    """Run fn() in a daemon thread; ToolError(timeout) if it does not finish in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="hafs-tool")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ToolError(TIMEOUT, f"tool did not finish within {timeout:g} s; abandoned")
    if "error" in box:
        raise box["error"]
    return box.get("value")
