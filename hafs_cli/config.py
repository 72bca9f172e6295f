"""Layered hafs.toml: defaults < user file < project file < HAFS_* environment < flags.

The schema (schemas/hafs.toml.schema.json, assembled from schemas/config/*.json) is the
single source of keys, types and defaults; every effective value remembers its origin.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hafs_cli import exits, xdg
from hafs_cli.exits import HafsError
from hafs_cli.resources import data_path

SCHEMA_FILE = "schemas/hafs.toml.schema.json"
ENV_PREFIX = "HAFS_"
ENV_SEP = "__"


@functools.cache
def _schema_bytes() -> bytes:
    path = data_path(SCHEMA_FILE)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise HafsError(f"configuration schema missing: {path}", exits.RUNTIME) from None


@functools.cache
def config_schema() -> dict:
    return orjson.loads(_schema_bytes())


# -- defaults ------------------------------------------------------------------------
def defaults_of(schema: dict) -> Any:
    """The default value a schema describes (objects: the defaults of their properties)."""
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if schema.get("type") == "object" and "properties" in schema:
        out = {}
        for key, sub in schema["properties"].items():
            value = defaults_of(sub)
            if value is not None:
                out[key] = value
        return out
    return None


def _named_entry_schema(schema: dict) -> dict | None:
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _fill_defaults(value: Any, schema: dict) -> Any:
    """Apply defaults inside named tables (e.g. each [sync.profiles.NAME])."""
    if not isinstance(value, dict) or schema.get("type") != "object":
        return value
    props = schema.get("properties", {})
    entry_schema = _named_entry_schema(schema)
    for key, sub in list(value.items()):
        if key in props:
            value[key] = _fill_defaults(sub, props[key])
        elif entry_schema is not None and isinstance(sub, dict):
            base = defaults_of(entry_schema) or {}
            merged = _merge(base, sub)
            value[key] = _fill_defaults(merged, entry_schema)
    return value


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return over


# -- locating keys in TOML text -------------------------------------------------------
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _split_dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)", text)
    return tuple(a or b or c for a, b, c in parts)


def locate_keys(text: str) -> dict[tuple[str, ...], tuple[int, int]]:
    """Map dotted key paths to (line, column) where they are written (1-based)."""
    where: dict[tuple[str, ...], tuple[int, int]] = {}
    table: tuple[str, ...] = ()
    in_multiline = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            where.setdefault(table, (lineno, line.index("[") + 1))
            continue
        keyline = _KEYLINE.match(line)
        if keyline:
            key = table + _split_dotted(keyline.group(1))
            where.setdefault(key, (lineno, len(line) - len(line.lstrip()) + 1))
            rest = line[keyline.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
    return where


def _position(where: dict, path: tuple[str, ...]) -> tuple[int, int]:
    while path:
        if path in where:
            return where[path]
        path = path[:-1]
    return (1, 1)


# -- checking --------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def to_record(self) -> dict:
        return {
            "kind": "config_problem",
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


def _is_object_schema(schema: dict) -> bool:
    kind = schema.get("type")
    return (
        "properties" in schema or kind == "object" or (isinstance(kind, list) and "object" in kind)
    )


def _unknown_keys(doc: Any, schema: dict, path: tuple[str, ...]):
    if not isinstance(doc, dict) or not _is_object_schema(schema):
        return
    props = schema.get("properties", {})
    entry = _named_entry_schema(schema)
    for key, value in doc.items():
        if key in props:
            yield from _unknown_keys(value, props[key], path + (key,))
        elif entry is not None:
            yield from _unknown_keys(value, entry, path + (key,))
        elif schema.get("additionalProperties", True) is False:
            close = difflib.get_close_matches(key, list(props), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            dotted = ".".join(path + (key,))
            yield path + (key,), f"unknown key '{dotted}'{hint}"


def check_config_text(text: str, name: str) -> list[Problem]:
    """Every problem in one hafs.toml text, with file:line:column."""
    try:
        doc = tomllib.loads(text)
        return check_config_doc(doc, text, name)
    except RecursionError:
        return [Problem(name, 1, 1, "TOML nested too deeply to check (simplify the file)")]
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        return [Problem(name, line, col, f"TOML syntax error: {msg}")]


def check_config_doc(doc: dict, text: str, name: str) -> list[Problem]:
    from jsonschema import Draft202012Validator

    schema = config_schema()
    where = locate_keys(text)
    unknown = list(_unknown_keys(doc, schema, ()))
    problems = [Problem(name, *_position(where, path), msg) for path, msg in unknown]
    reported = {path[:-1] for path, _ in unknown}
    validator = Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        if (
            err.validator == "additionalProperties"
            and tuple(map(str, err.absolute_path)) in reported
        ):
            continue  # reported above, with a did-you-mean
        path = tuple(str(p) for p in err.absolute_path)
        dotted = ".".join(path) or "(top level)"
        problems.append(Problem(name, *_position(where, path), f"{dotted}: {err.message}"))
    return sorted(problems, key=lambda p: (p.line, p.column, p.message))


# -- loading ---------------------------------------------------------------------------
def user_config_path() -> Path:
    return xdg.config_dir(create=False) / "hafs.toml"


def project_config_path() -> Path | None:
    explicit = os.environ.get("HAFS_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise HafsError(f"HAFS_CONFIG names {path}, which is not a readable file")
        return path
    local = Path("hafs.toml")
    return local if local.is_file() else None


def _read_layer(path: Path) -> tuple[dict, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HafsError(f"cannot read configuration {path}: {exc}") from None
    if _known_valid(text):
        return tomllib.loads(text), text
    problems = check_config_text(text, str(path))
    if not problems:
        _remember_valid(text)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise HafsError(
            f"invalid configuration:\n  {shown}{more}\n(run 'hafs config check {path}')"
        )
    return tomllib.loads(text), text


VALID_CACHE = "config-valid.txt"
VALID_KEEP = 32


def _valid_key(text: str) -> str:
    try:  # hashlib's blake2b without loading OpenSSL (2 ms of every start-up)
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b

    digest = blake2b(_schema_bytes(), digest_size=16)
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def _known_valid(text: str) -> bool:
    """True when this exact text already passed this exact schema (skips jsonschema)."""
    try:
        known = (xdg.cache_dir(create=False) / VALID_CACHE).read_text().split()
    except OSError:
        return False
    return _valid_key(text) in known


def _remember_valid(text: str) -> None:
    path = xdg.cache_dir() / VALID_CACHE
    try:
        known = path.read_text().split() if path.exists() else []
        known = [k for k in known if k != _valid_key(text)][-(VALID_KEEP - 1) :]
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("\n".join([*known, _valid_key(text)]) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _schema_at(path: tuple[str, ...]) -> dict | None:
    schema = config_schema()
    for part in path:
        props = schema.get("properties", {})
        if part in props:
            schema = props[part]
        elif _named_entry_schema(schema) is not None:
            schema = _named_entry_schema(schema)
        else:
            return None
    return schema


def _norm(name: str) -> str:
    return name.replace("-", "_").lower()


def _env_layer(environ: dict[str, str]) -> tuple[dict, dict[tuple[str, ...], str]]:
    """HAFS_SECTION__KEY=value (TOML value syntax, else a string)."""
    doc: dict = {}
    origins: dict[tuple[str, ...], str] = {}
    for var, raw in sorted(environ.items()):
        if not var.startswith(ENV_PREFIX) or ENV_SEP not in var:
            continue
        parts = var[len(ENV_PREFIX) :].split(ENV_SEP)
        path: list[str] = []
        schema = config_schema()
        for part in parts:
            props = schema.get("properties", {})
            match = next((k for k in props if _norm(k) == _norm(part)), None)
            if match is None:
                raise HafsError(
                    f"environment variable {var} names no configuration key "
                    f"(run 'hafs config show' for the keys)"
                )
            path.append(match)
            schema = props[match]
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        if schema.get("type") == "string" and not isinstance(value, str):
            value = raw
        node = doc
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        origins[tuple(path)] = f"env {var}"
    return doc, origins


def _leaf_origins(doc: Any, origin: str, where: dict | None, path=()) -> dict:
    out = {}
    if isinstance(doc, dict) and doc:
        for key, value in doc.items():
            out.update(_leaf_origins(value, origin, where, path + (key,)))
    elif path:
        if where is not None:
            line, _ = _position(where, path)
            out[path] = f"{origin}:{line}"
        else:
            out[path] = origin
    return out


class Config:
    """The effective configuration, with the origin of every value."""

    def __init__(self, values: dict, origins: dict[tuple[str, ...], str]):
        self.values = values
        self.origins = origins

    def section(self, name: str) -> dict:
        return copy.deepcopy(self.values.get(name, {}))

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    def origin(self, dotted: str) -> str:
        return self.origins.get(tuple(dotted.split(".")), "default")

    def with_overrides(self, overrides: dict[str, Any], origin: str = "flag") -> Config:
        """A copy with command-line values applied (None means: not given)."""
        values = copy.deepcopy(self.values)
        origins = dict(self.origins)
        for dotted, value in overrides.items():
            if value is None:
                continue
            path = dotted.split(".")
            node = values
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
            origins[tuple(path)] = origin
        return Config(values, origins)

    def leaves(self):
        """(dotted key, value, origin) for every leaf value, sorted."""
        for path, value in sorted(_flatten(self.values).items()):
            yield ".".join(path), value, self.origins.get(path, "default")


def _flatten(doc: Any, path: tuple[str, ...] = ()) -> dict:
    if isinstance(doc, dict) and doc:
        out = {}
        for key, value in doc.items():
            out.update(_flatten(value, path + (key,)))
        return out
    return {path: doc} if path else {}


def load_config(environ: dict[str, str] | None = None) -> Config:
    """Build the effective configuration from every layer."""
    environ = dict(os.environ if environ is None else environ)
    schema = config_schema()
    values = defaults_of(schema) or {}
    origins: dict[tuple[str, ...], str] = {}
    layers: list[Path] = []
    user = user_config_path()
    if user.is_file():
        layers.append(user)
    project = project_config_path()
    if project is not None:
        layers.append(project)
    for path in layers:
        doc, text = _read_layer(path)
        values = _merge(values, doc)
        origins.update(_leaf_origins(doc, str(path), locate_keys(text)))
    env_doc, env_origins = _env_layer(environ)
    values = _merge(values, env_doc)
    origins.update(env_origins)
    values = _fill_defaults(values, schema)
    return Config(values, origins)
