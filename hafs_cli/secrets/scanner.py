"""Scan text for secrets: every rule, the filters, allow pragmas; findings carry no secret text."""

from __future__ import annotations

import bisect
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from hafs_cli.secrets import filters
from hafs_cli.secrets.entropy import shannon
from hafs_cli.secrets.generic import GENERIC_RULE, find_generic
from hafs_cli.secrets.redact import ELLIPSIS, fingerprint, redact
from hafs_cli.secrets.rules import PRIVATE_KEY_RULE, RULES, Rule

# Inline allow pragmas: ours, and detect-secrets' (so existing annotations keep working).
ALLOW_LINE = ("hafs: allow-secret", "pragma: allowlist secret", "pragma: whitelist secret")
ALLOW_NEXT_LINE = ("hafs: allow-secret-next-line", "pragma: allowlist nextline secret")

_PEM_BODY_NOISE = re.compile(r"\\[nr]|[\s\"',+]|^[A-Za-z-]+:.*$", re.MULTILINE)
_BASE64ISH = re.compile(r"[A-Za-z0-9+/=]{40,}")
_PEM_LINE = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")  # "=" only as padding
_ARMOR_HEADER = re.compile(r"[A-Za-z-]+: .*")


@dataclass(frozen=True)
class Finding:
    """One secret in one place. `secret` stays in memory only: records never carry it."""

    rule: Rule
    line: int
    column: int
    secret: str = field(repr=False)
    redacted: str
    fingerprint: str
    end_line: int = 0

    def to_record(self, path: dict) -> dict:
        return {
            "kind": "finding",
            "rule": f"secrets/{self.rule.id}",
            **path,
            "line": self.line,
            "column": self.column,
            "secret_kind": self.rule.secret_kind,
            "redacted": self.redacted,
            "fingerprint": self.fingerprint,
            "severity": "error",
            "message": self.rule.description,
        }


class _Text:
    """The text with fast offset -> (line, column) lookups and allow-pragma checks."""

    def __init__(self, text: str):
        self.text = text
        starts = [0]
        find, pos = text.find, text.find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self.starts = starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def line_text(self, lineno: int) -> str:
        start = self.starts[lineno - 1]
        end = self.starts[lineno] - 1 if lineno < len(self.starts) else len(self.text)
        return self.text[start:end]

    def allowed(self, lineno: int) -> bool:
        line = self.line_text(lineno)
        if any(p in line for p in ALLOW_LINE):
            return True
        return lineno > 1 and any(p in self.line_text(lineno - 1) for p in ALLOW_NEXT_LINE)


def scan_text(
    text: str,
    path: str = "",
    lines: Collection[int] | None = None,
    skip_rules: Iterable[str] = (),
) -> list[Finding]:
    """Every secret in `text`, in order; with `lines`, only those that touch these line numbers."""
    doc = _Text(text)
    skip = frozenset(skip_rules)
    public = filters.public_spans(text)
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []  # secret spans already reported (no generic duplicate)

    def keep(rule: Rule, start: int, end: int, secret: str, shown: str, end_line: int = 0) -> None:
        lineno = doc.line_of(start)
        last = max(end_line, lineno)
        if lines is not None and not any(n in lines for n in range(lineno, last + 1)):
            return
        if any(a <= start < b for a, b in public) or doc.allowed(lineno):
            return
        column = start - doc.starts[lineno - 1] + 1
        found.append(Finding(rule, lineno, column, secret, shown, fingerprint(secret), last))
        taken.append((start, end))

    lowered = text.lower()
    for rule in RULES:
        if rule.id in skip or (rule.context and not any(c in lowered for c in rule.context)):
            continue
        for m in rule.pattern.finditer(text):
            line = doc.line_text(doc.line_of(m.start()))
            if rule.check is not None and not rule.check(m, line):
                continue
            secret = m.group("secret")
            keep(rule, m.start("secret"), m.end("secret"), secret, _shown(rule, m))

    if PRIVATE_KEY_RULE.id not in skip and "PRIVATE KEY" in text:
        for start, end, body, label, end_line in _private_keys(doc):
            shown = f"-----BEGIN {label}----- {redact(body)}"
            keep(PRIVATE_KEY_RULE, start, end, body, shown, end_line)
    if GENERIC_RULE.id not in skip and not filters.is_lockfile(path):
        for start, end, secret in find_generic(doc):
            if not any(a < end and start < b for a, b in taken):
                keep(GENERIC_RULE, start, end, secret, redact(secret))
    found.sort(key=lambda f: (f.line, f.column))
    return found


def _shown(rule: Rule, m: re.Match[str]) -> str:
    """The redacted form: URLs keep everything but the password; tokens their public prefix."""
    groups = m.groupdict()
    if "host" in groups:
        return f"{groups['scheme']}://{groups['user']}:{ELLIPSIS}@{groups['host']}"
    return redact(m.group("secret"), groups.get("prefix") or groups.get("hook") or "")


def _private_keys(doc: _Text):
    """PEM private key blocks with a real body: (start, end, body, label, last line)."""
    text = doc.text
    for m in PRIVATE_KEY_RULE.pattern.finditer(text):
        end_marker = f"-----END {m.group('label')}-----"
        limit = text.find("-----BEGIN", m.end(), m.end() + 20000)
        end = text.find(end_marker, m.end(), limit if limit != -1 else m.end() + 20000)
        if end != -1:
            body = _PEM_BODY_NOISE.sub("", text[m.end() : end])
        else:  # no END: only base64 lines right below the header count as a body
            body, end = _body_below(doc, doc.line_of(m.start()))
        if not _BASE64ISH.search(body) or shannon(body) < 4.0:
            continue  # a header in code or docs, not a key
        yield m.start(), m.end(), body, m.group("label"), doc.line_of(end)


def _body_below(doc: _Text, header_line: int) -> tuple[str, int]:
    """Consecutive base64 lines after a header (PGP armor headers and one blank allowed)."""
    body: list[str] = []
    lineno, last = header_line + 1, len(doc.starts)
    end = doc.starts[header_line - 1]
    while lineno <= last:
        line = doc.line_text(lineno).strip()
        if _PEM_LINE.fullmatch(line):
            body.append(line)
            end = doc.starts[lineno - 1]
        elif body or not (line == "" or _ARMOR_HEADER.fullmatch(line)) or lineno > header_line + 3:
            break
        lineno += 1
    return "".join(body), end


__all__ = ["ALLOW_LINE", "ALLOW_NEXT_LINE", "ELLIPSIS", "Finding", "scan_text"]
