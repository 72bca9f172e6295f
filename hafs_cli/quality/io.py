"""Reading samples and score records from the stream (datasets without `kind` too)."""

from __future__ import annotations

SAMPLE_KEYS = (
    "messages",
    "conversations",
    "instruction",
    "output",
    "prompt",
    "completion",
    "question",
)


def looks_like_sample(obj: dict) -> bool:
    return any(k in obj for k in SAMPLE_KEYS)


def adopt_sample(obj: dict) -> dict | None:
    """A dataset line without `kind` that has sample fields is a `sample` record."""
    return {"kind": "sample", **obj} if looks_like_sample(obj) else None
