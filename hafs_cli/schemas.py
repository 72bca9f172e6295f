"""Record schemas (schemas/records/KIND.schema.json, JSON Schema draft 2020-12)."""

from __future__ import annotations

import functools
from pathlib import Path

import orjson

from hafs_cli import exits
from hafs_cli.exits import HafsError
from hafs_cli.resources import data_path

SUFFIX = ".schema.json"


def records_dir() -> Path:
    return data_path("schemas/records")


def record_kinds() -> list[str]:
    """Every record kind that has a schema, sorted."""
    return list(_kinds())


@functools.cache
def _kinds() -> tuple[str, ...]:
    # Cached: validate_record runs per record, and a directory glob per call dominated it.
    return tuple(sorted(p.name[: -len(SUFFIX)] for p in records_dir().glob(f"*{SUFFIX}")))


@functools.cache
def load_schema(kind: str) -> dict:
    path = records_dir() / f"{kind}{SUFFIX}"
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        import difflib

        close = difflib.get_close_matches(kind, record_kinds(), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise HafsError(
            f"no schema for record kind '{kind}'.{hint} See 'hafs schema list'."
        ) from None
    except orjson.JSONDecodeError as exc:
        raise HafsError(f"schema {path} is not valid JSON: {exc}", exits.RUNTIME) from None


@functools.cache
def _validator(kind: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(kind))


def validate_record(rec: dict) -> list[str]:
    """Reasons why a record does not match its kind's schema (empty: valid).

    A kind without a schema is reported: every kind hafs writes has one.
    """
    kind = rec.get("kind")
    if not isinstance(kind, str):
        return ["record has no string `kind` field"]
    if kind not in _kinds():
        return [f"unknown record kind '{kind}' (no schema in schemas/records/)"]
    errors = sorted(_validator(kind).iter_errors(rec), key=lambda e: list(map(str, e.path)))
    out = []
    for err in errors:
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{where}: {err.message}" if where else err.message)
    return out
