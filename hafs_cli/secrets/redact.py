"""What may be shown of a secret (a short, public prefix) and its stable fingerprint."""

from __future__ import annotations

import hashlib

ELLIPSIS = "…"


def redact(secret: str, prefix: str = "") -> str:
    """The public prefix plus at most 1 in 8 of the remaining characters (never more than 4)."""
    if not secret.startswith(prefix):
        prefix = ""
    body = secret[len(prefix) :]
    shown = min(4, len(body) // 8)
    return prefix + body[:shown] + ELLIPSIS


def fingerprint(secret: str) -> str:
    """A stable id for one secret value (the same key in two files has one fingerprint).

    Independent of path and line, so moving a line does not invalidate a baseline.
    """
    return hashlib.sha256(b"hafs-secret\0" + secret.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def detect_secrets_hash(secret: str) -> str:
    """detect-secrets' `hashed_secret` (SHA-1 of the value), to honour its baselines."""
    return hashlib.sha1(secret.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324 - their format
