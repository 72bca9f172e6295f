"""A finding: one piece of advice, its evidence, and the actions `hafs apply` can carry out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

import blake3

from hafs_cli.advice.inventory import Entry
from hafs_cli.paths import display, path_fields

# Rules in the order their findings are written (and grouped in reports).
RULES = (
    "duplicates",
    "regenerable",
    "temporary",
    "old-downloads",
    "extracted-archives",
    "scattered-projects",
    "abandoned-experiments",
    "largest",
)

# Confidence that the suggested action is safe and wanted (the finding schema: 0..1).
HIGH, MEDIUM, LOW, FACT = 0.9, 0.7, 0.4, 1.0


@dataclass
class Finding:
    """What a rule found. `targets` are the files the suggested action applies to."""

    rule: str
    reason: str
    host: str
    paths: list[str]
    confidence: float
    action: str | None  # trash | archive | move | hardlink | keep, or None (information only)
    reversible: bool
    targets: list[Entry] = field(default_factory=list)
    keeper: Entry | None = None
    # files that must stay for the advice to hold (an archive's extracted copies)
    relies_on: list[Entry] = field(default_factory=list)
    size: int = 0  # bytes concerned (information)
    hosts: list[str] | None = None  # per path, when the paths are on several hosts
    details: dict = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        """Bytes the suggested actions would free (0 for information)."""
        if self.action in ("trash", "hardlink", "archive", "move"):
            return sum(e.size for e in self.targets)
        return 0

    @property
    def id(self) -> str:
        h = blake3.blake3()
        h.update(self.rule.encode())
        for host, path in zip(self.hosts or [self.host] * len(self.paths), self.paths, strict=True):
            h.update(b"\0" + host.encode() + b"\0" + os.fsencode(path))
        return f"{self.rule}:{h.hexdigest()[:16]}"

    def sort_key(self) -> tuple:
        return (RULES.index(self.rule), -self.bytes, -self.size, self.host, self.paths)

    def to_records(self) -> list[dict]:
        """The finding record followed by its action records."""
        fid = self.id
        reason = display(self.reason)
        rec: dict = {"kind": "finding", "rule": self.rule, "id": fid, "reason": reason}
        rec.update(_paths_fields(self.paths))
        if self.hosts is not None:
            rec["hosts"] = self.hosts
        elif self.host:
            rec["host"] = self.host
        rec["bytes"] = self.bytes
        rec["size"] = self.size or self.bytes
        rec["confidence"] = self.confidence
        rec["reversible"] = self.reversible
        rec["action"] = self.action
        rec["action_count"] = len(self.targets) if self.action else 0
        rec.update({k: display(v) if isinstance(v, str) else v for k, v in self.details.items()})
        out = [rec]
        if self.action:
            for target in self.targets:
                out.append(action_record(self, target, fid))
        return out


def acting_on(
    rule: str,
    targets: list[Entry],
    reason: str,
    confidence: float,
    action: str,
    paths: list[str] | None = None,
    **details: object,
) -> Finding:
    """A finding whose action applies to `targets` (one host); its paths default to theirs."""
    files = sorted(targets, key=lambda e: e.path)
    return Finding(
        rule=rule,
        reason=reason,
        host=files[0].host,
        paths=paths if paths is not None else [e.path for e in files],
        confidence=confidence,
        action=action,
        reversible=True,
        targets=files,
        size=sum(e.size for e in files),
        details=dict(details),
    )


def _paths_fields(paths: list[str]) -> dict:
    texts, raws, any_raw = [], [], False
    for p in paths:
        f = path_fields(os.fsencode(p))
        texts.append(f["path"])
        raws.append(f.get("path_b64"))
        any_raw = any_raw or "path_b64" in f
    out: dict = {"paths": texts}
    if any_raw:
        out["paths_b64"] = raws
    return out


def action_record(finding: Finding, target: Entry, finding_id: str) -> dict:
    """An `action` record for `hafs apply`, carrying what it needs to re-verify the file."""
    rec: dict = {"kind": "action", "action": finding.action}
    rec.update(path_fields(os.fsencode(target.path)))
    if target.host:
        rec["host"] = target.host
    rec["size"] = target.size
    rec.update(target.identity())
    if target.digest:
        rec["blake3"] = target.digest
    keeper = finding.keeper
    if keeper is not None:
        k = path_fields(os.fsencode(keeper.path))
        if keeper.host:
            k["host"] = keeper.host
        k.update(keeper.identity())
        k.pop("ctime_ns", None)
        rec["keeper"] = k
    rec["rule"] = finding.rule
    rec["reason"] = display(finding.reason)
    rec["finding_id"] = finding_id
    return rec


def day(ns: int) -> str:
    """A date people can check against `ls -l` (UTC)."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"
