"""Paths in records: exact round-trip of any byte path, readable text where possible."""

from __future__ import annotations

import base64
import os

from hafs_cli.exits import HafsError


def path_fields(p: str | bytes | os.PathLike, key: str = "path") -> dict:
    """Record fields for a path: {key: text}, plus {key_b64: raw bytes} when not valid UTF-8."""
    raw = os.fsencode(p)
    try:
        return {key: raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            key: raw.decode("utf-8", errors="replace"),
            f"{key}_b64": base64.b64encode(raw).decode("ascii"),
        }


def display(text: str) -> str:
    """Text that JSON can carry: bytes that are not UTF-8 (kept in a str as surrogates,
    as in a file name or an argument) become U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def record_path(rec: dict, key: str = "path") -> bytes:
    """The exact raw path a record names (from `key_b64` when present)."""
    b64 = rec.get(f"{key}_b64")
    if b64 is not None:
        try:
            return base64.b64decode(b64, validate=True)
        except (ValueError, TypeError) as exc:
            raise HafsError(f"record has an invalid {key}_b64 value: {exc}") from None
    value = rec.get(key)
    if not isinstance(value, str):
        raise HafsError(f"record of kind {rec.get('kind')!r} has no {key!r} string")
    return os.fsencode(value)


def display_path(rec: dict, key: str = "path") -> str:
    """The path as text for people (lossy for undecodable names)."""
    return str(rec.get(key, ""))
