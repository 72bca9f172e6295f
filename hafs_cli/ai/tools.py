"""Tools a model may call: typed Python functions whose JSON schema is derived from them.

Each tool takes the `Sandbox` first and plain typed arguments after it. The schema Ollama
receives comes from the signature (types, defaults) and the docstring (first line and
`Args:` lines), so a tool is declared once. `ToolBox.call` only runs advertised tools,
checks argument names and types, applies the timeout and output caps, and turns every
refusal into a structured error.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
import re
import sqlite3
import stat
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hafs_cli.ai.sandbox import (
    BAD_ARGUMENTS,
    BAD_PATTERN,
    NOT_A_FILE,
    NOT_ADVERTISED,
    NOT_FOUND,
    Deadline,
    Sandbox,
    ToolError,
    run_with_timeout,
)

MAX_RESULTS = 500


MAX_PATTERN = 512  # long patterns are where pathological regular expressions live


def _pattern_arg(pattern: Any, name: str = "pattern") -> str:
    if not isinstance(pattern, str) or not pattern:
        raise ToolError(BAD_ARGUMENTS, f"{name} must be a non-empty string", argument=name)
    if len(pattern) > MAX_PATTERN:
        raise ToolError(BAD_PATTERN, f"{name} is over {MAX_PATTERN} characters", argument=name)
    if pattern.startswith("-"):
        raise ToolError(
            BAD_PATTERN,
            f"{name} {pattern!r} starts with '-' and could be read as an option; "
            "write [-] to match a leading dash",
            argument=name,
        )
    return pattern


def read_file(sb: Sandbox, path: str, start_line: int = 1, max_lines: int = 0) -> str:
    """Read a text file under the allowed roots.

    Args:
        path: file path, relative to the first root or absolute under a root
        start_line: first line to return (1-based)
        max_lines: most lines to return (0: up to the output limit)
    """
    real = sb.resolve(path)
    text = sb.read_text(real)
    lines = text.splitlines(keepends=True)[max(start_line, 1) - 1 :]
    if max_lines > 0:
        lines = lines[:max_lines]
    return "".join(lines)


def list_directory(sb: Sandbox, path: str = ".") -> str:
    """List a directory: one entry per line, directories end with '/'.

    Args:
        path: directory under the allowed roots
    """
    real = sb.resolve(path)
    if not real.is_dir():
        raise ToolError(NOT_A_FILE, f"{path!r} is not a directory", argument="path")
    out = []
    for entry in sorted(os.scandir(real), key=lambda e: e.name):
        suffix = "/" if entry.is_dir(follow_symlinks=False) else ""
        if entry.is_symlink():
            suffix = "@"
        out.append(entry.name + suffix)
    return "\n".join(out)


def find_files(sb: Sandbox, pattern: str, path: str = ".") -> str:
    """Find files whose name matches a glob pattern (like *.asm), one path per line.

    Args:
        pattern: glob matched against file names, e.g. *.py
        path: directory to search under
    """
    _pattern_arg(pattern)
    real = sb.resolve(path)
    deadline = Deadline(sb.limits.timeout_s)
    found = []
    for file in sb.walk(real, deadline):
        if fnmatch.fnmatch(file.name, pattern):
            found.append(sb.display(file))
            if len(found) >= MAX_RESULTS:
                break
    return "\n".join(found)


def search_text(
    sb: Sandbox, pattern: str, path: str = ".", glob: str = "*", ignore_case: bool = False
) -> str:
    """Search files for a regular expression; lines as path:line: text.

    Args:
        pattern: Python regular expression (not a command line: no options)
        path: file or directory to search
        glob: only files whose name matches this glob
        ignore_case: match without regard to case
    """
    _pattern_arg(pattern)
    _pattern_arg(glob, "glob")
    try:
        rx = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(BAD_PATTERN, f"bad regular expression {pattern!r}: {exc}") from None
    real = sb.resolve(path)
    deadline = Deadline(sb.limits.timeout_s)
    files = [real] if real.is_file() else sb.walk(real, deadline)
    hits = []
    for file in files:
        if not fnmatch.fnmatch(file.name, glob):
            continue
        try:
            text = sb.read_text(Path(os.path.realpath(file)))
        except (ToolError, OSError):
            continue  # binary, huge, special or vanished files are skipped in a search
        for number, line in enumerate(text.splitlines(), 1):
            if rx.search(line):
                hits.append(f"{sb.display(file)}:{number}: {line}")
                if len(hits) >= MAX_RESULTS:
                    return "\n".join(hits)
        deadline.check()
    return "\n".join(hits)


def file_info(sb: Sandbox, path: str) -> str:
    """Size, type and modification time of a path.

    Args:
        path: file or directory under the allowed roots
    """
    real = sb.resolve(path)
    st = os.stat(real)
    kind = (
        "directory" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
    )
    mtime = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))
    return f"path: {sb.display(real)}\ntype: {kind}\nsize: {st.st_size}\nmodified: {mtime}"


def read_context(sb: Sandbox, path: str = "") -> str:
    """Read a file from the configured context roots, trying each root in turn; no path lists the roots.

    Args:
        path: path relative to a context root
    """
    if not path:
        return "\n".join(str(r) for r in sb.roots)
    last: ToolError | None = None
    for root in sb.roots:
        try:
            real = sb.resolve(str(root / path)) if not os.path.isabs(path) else sb.resolve(path)
        except ToolError as exc:
            if exc.code != NOT_FOUND:
                raise
            last = exc
            continue
        return sb.read_text(real)
    raise last or ToolError(NOT_FOUND, f"{path!r} is in no context root")


def search_index(sb: Sandbox, query: str, limit: int = 10) -> str:
    """Full-text search of the context index (hafs orchestrate index); best matches first.

    Args:
        query: words to look for (SQLite FTS5 query syntax)
        limit: most results
    """
    _pattern_arg(query, "query")
    index = sb.index_path
    if index is None or not index.is_file():
        raise ToolError(NOT_FOUND, "no context index; build one with `hafs orchestrate index`")
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT path, snippet(docs, 1, '[', ']', '...', 12) FROM docs WHERE docs MATCH ? "
            "ORDER BY rank LIMIT ?",
            (query, max(1, min(int(limit), 100))),
        ).fetchall()
    except sqlite3.Error as exc:
        raise ToolError(BAD_PATTERN, f"bad index query {query!r}: {exc}") from None
    finally:
        db.close()
    return "\n".join(f"{p}: {s}" for p, s in rows if sb.within(Path(p)))


TOOLS: dict[str, Callable[..., str]] = {
    f.__name__: f
    for f in (
        read_file,
        list_directory,
        find_files,
        search_text,
        file_info,
        read_context,
        search_index,
    )
}

_JSON_TYPES = {str: "string", int: "integer", bool: "boolean", float: "number"}


def _arg_docs(doc: str) -> dict[str, str]:
    out = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped == "Args:":
            in_args = True
            continue
        if in_args and ":" in stripped:
            name, text = stripped.split(":", 1)
            out[name.strip()] = text.strip()
    return out


def tool_schema(fn: Callable[..., str]) -> dict:
    """Ollama's tool schema for a function, derived from its signature and docstring."""
    doc = inspect.getdoc(fn) or ""
    hints = typing.get_type_hints(fn)
    arg_docs = _arg_docs(doc)
    props: dict[str, dict] = {}
    required = []
    for name, param in list(inspect.signature(fn).parameters.items())[1:]:  # skip the sandbox
        prop: dict[str, Any] = {"type": _JSON_TYPES[hints[name]]}
        if name in arg_docs:
            prop["description"] = arg_docs[name]
        if param.default is inspect.Parameter.empty:
            required.append(name)
        else:
            prop["default"] = param.default
        props[name] = prop
    return {
        "type": "function",
        "function": {
            "name": fn.__name__,
            "description": doc.splitlines()[0] if doc else fn.__name__,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


class ToolBox:
    """The tools one request advertises, bound to a sandbox."""

    def __init__(self, sandbox: Sandbox, names: list[str]) -> None:
        unknown = [n for n in names if n not in TOOLS]
        if unknown:
            raise ToolError(
                NOT_ADVERTISED,
                f"unknown tool(s) {', '.join(unknown)}; available: {', '.join(TOOLS)}",
            )
        self.sandbox = sandbox
        self.names = list(dict.fromkeys(names))

    def schemas(self) -> list[dict]:
        return [tool_schema(TOOLS[n]) for n in self.names]

    def _check_arguments(self, fn: Callable[..., str], arguments: Any) -> dict:
        if not isinstance(arguments, dict):
            raise ToolError(BAD_ARGUMENTS, "tool arguments must be an object")
        hints = typing.get_type_hints(fn)
        params = list(inspect.signature(fn).parameters.values())[1:]
        names = {p.name for p in params}
        extra = sorted(set(arguments) - names)
        if extra:
            raise ToolError(BAD_ARGUMENTS, f"unexpected argument(s) {', '.join(extra)}")
        for p in params:
            if p.name not in arguments:
                if p.default is inspect.Parameter.empty:
                    raise ToolError(BAD_ARGUMENTS, f"missing argument {p.name}", argument=p.name)
                continue
            value = arguments[p.name]
            want = hints[p.name]
            ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ToolError(
                    BAD_ARGUMENTS,
                    f"argument {p.name} must be {_JSON_TYPES[want]}, not {type(value).__name__}",
                    argument=p.name,
                )
        return arguments

    def call(self, name: str, arguments: Any) -> dict:
        """Run one tool call; always returns {"ok": bool, "output"|"error", ...}, never raises."""
        started = time.monotonic()
        try:
            if name not in self.names:
                raise ToolError(
                    NOT_ADVERTISED,
                    f"tool {name!r} was not offered for this request "
                    f"(offered: {', '.join(self.names) or 'none'})",
                )
            fn = TOOLS[name]
            args = self._check_arguments(fn, arguments)
            raw = run_with_timeout(lambda: fn(self.sandbox, **args), self.sandbox.limits.timeout_s)
            output, truncated = self.sandbox.cap(raw)
            result = {"ok": True, "output": output, "truncated": truncated}
        except ToolError as exc:
            result = {"ok": False, "error": exc.to_dict()}
        except OSError as exc:
            result = {"ok": False, "error": {"code": "os_error", "message": str(exc)}}
        result["ms"] = round((time.monotonic() - started) * 1000, 3)
        return result
