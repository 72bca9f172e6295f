"""incsrc/incbin/table: find the file (next to the including file, then -I paths), read it."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from hafs_cli.asm import directives as dirs

_MAX_INCLUDE_DEPTH = 64
_MAX_INCLUDES_READ = 20_000  # per root file; real projects read a few hundred


def read_source(path: Path) -> str:
    """A source file as text (UTF-8, with or without BOM).

    Bytes that are not UTF-8 are kept as surrogate escapes, so an `incsrc` naming a file
    whose name is not UTF-8 still finds it; records show them as U+FFFD.
    """
    # O_NONBLOCK: opening a FIFO named on the command line must not wait for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = fh.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "surrogateescape")


class Includes:
    """Include handling for Session (uses its include_stack, once, _run and reporting)."""

    def _include(self, name: str, args: str, lineno: int, col: int, original: str) -> None:
        target = dirs.file_argument(name, args)
        if not target:
            self._report(
                lineno, col, "bad-directive", f"'{name}' needs a file name", None, original
            )
            return
        found = self._resolve(target)
        if found is None and name == "incbin" and ":" in target:
            found = self._resolve(target.rsplit(":", 1)[0])
        if found is None:
            self.missing_include = True
            where = ", ".join(
                os.fspath(d)
                for d in [self._base if self._base is not None else Path.cwd(),
                          *self.opts.include_paths]
            )  # fmt: skip
            self._report(lineno, col, "missing-include", f"{name} '{target}': no such file (looked in {where})",
                         "check the path; it is relative to the including file, then to -I DIRs", original)  # fmt: skip
            return
        if name != "incsrc":
            return
        display = os.path.normpath(found)
        if display in self.include_stack or display == os.path.normpath(self._path):
            self._report(lineno, col, "include-cycle", f"incsrc '{target}' includes a file that is already being read",
                         " -> ".join([*self.include_stack, os.path.normpath(self._path), display]), original)  # fmt: skip
            return
        if display in self.once:
            return
        self.includes_read = getattr(self, "includes_read", 0) + 1
        if self.includes_read > _MAX_INCLUDES_READ:
            if self.includes_read == _MAX_INCLUDES_READ + 1:  # say it once, then stop
                self._report(lineno, col, "bad-directive",
                             f"more than {_MAX_INCLUDES_READ} files read through incsrc; the rest are skipped",
                             "files that include the same file twice, level after level, multiply: use includeonce",
                             original)  # fmt: skip
            return
        if len(self.include_stack) >= _MAX_INCLUDE_DEPTH:
            self._report(
                lineno,
                col,
                "include-cycle",
                f"includes nest deeper than {_MAX_INCLUDE_DEPTH}",
                None,
                original,
            )
            return
        try:
            text = read_source(Path(found))
        except OSError as exc:
            self._report(
                lineno, col, "missing-include", f"incsrc '{target}': {exc.strerror}", None, original
            )
            return
        self.include_stack.append(os.path.normpath(self._path))
        try:
            self._run(text.splitlines(), display, Path(found).parent)
        finally:
            self.include_stack.pop()

    def _resolve(self, target: str) -> str | None:
        candidates = []
        if self._base is not None:
            candidates.append(self._base / target)
        candidates += [Path(p) / target for p in self.opts.include_paths]
        if self._base is None:
            candidates.append(Path(target))
        for c in candidates:
            if c.is_file():
                return os.fspath(c)
        return None
