"""A baseline: fingerprints of secrets someone looked at and accepted (test fixtures, revoked keys).

Also reads detect-secrets baselines (`.secrets.baseline`), whose entries hold the SHA-1
of each accepted value, so a project can switch scanners without re-auditing.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from hafs_cli.exits import HafsError
from hafs_cli.secrets.redact import detect_secrets_hash
from hafs_cli.secrets.scanner import Finding

FORMAT = "hafs-secrets-baseline"
VERSION = 1


@dataclass(frozen=True)
class Baseline:
    fingerprints: frozenset[str] = frozenset()
    sha1s: frozenset[str] = frozenset()  # from a detect-secrets baseline
    source: str = ""  # "hafs" or "detect-secrets": the format of the file it came from

    def accepts(self, finding: Finding) -> bool:
        if finding.fingerprint in self.fingerprints:
            return True
        return bool(self.sha1s) and detect_secrets_hash(finding.secret) in self.sha1s

    def __len__(self) -> int:
        return len(self.fingerprints) + len(self.sha1s)


def load_baseline(path: Path, required: bool = False) -> Baseline:
    """Read a baseline file; a missing file is an empty baseline unless `required`."""
    redo = f"fix it, or delete it and run 'hafs secrets baseline -o {path}' again"
    try:
        data = orjson.loads(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        if required:
            raise HafsError(
                f"baseline {path} does not exist; create it with 'hafs secrets baseline -o {path}'"
            ) from None
        return Baseline()
    except (OSError, orjson.JSONDecodeError) as exc:
        raise HafsError(f"cannot read baseline {path}: {exc}; {redo}") from None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        entries = data.get("secrets", [])
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
        ):
            raise HafsError(
                f"baseline {path}: 'secrets' must be a list of entries with a fingerprint; {redo}"
            )
        return Baseline(fingerprints=frozenset(e["fingerprint"] for e in entries), source="hafs")
    if isinstance(data, dict) and isinstance(data.get("results"), dict):  # detect-secrets
        if not all(isinstance(entries, list) for entries in data["results"].values()):
            raise HafsError(
                f"detect-secrets baseline {path}: each 'results' value must be a list; "
                "fix it, or regenerate it with 'detect-secrets scan'"
            )
        sha1s = {
            e["hashed_secret"]
            for entries in data["results"].values()
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("hashed_secret"), str)
        }
        return Baseline(sha1s=frozenset(sha1s), source="detect-secrets")
    raise HafsError(f"{path} is not a hafs or detect-secrets baseline; {redo}")


def write_baseline(path: Path, entries: list[dict]) -> None:
    """Write accepted findings (fingerprint, rule, path, line, redacted) atomically, sorted."""
    unique = {(e["fingerprint"], e.get("path", "")): e for e in entries}
    rows = [
        {
            k: e[k]
            for k in ("fingerprint", "rule", "secret_kind", "path", "line", "redacted")
            if k in e
        }
        for _, e in sorted(unique.items())
    ]
    data = {"format": FORMAT, "version": VERSION, "secrets": rows}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise HafsError(
            f"cannot write baseline {path} ({exc.filename}: {exc.strerror}); "
            "choose a writable place with -o FILE"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
