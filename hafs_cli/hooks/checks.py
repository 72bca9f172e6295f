"""The built-in pre-commit checks, each over the staged files: toml, secrets, asm, jsonl.

Each check returns problems (path, line, column, message); none reads the working tree.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from hafs_cli.hooks.staged import StagedFile


@dataclass(frozen=True)
class Problem:
    check: str
    path: bytes
    line: int
    column: int
    message: str
    rule: str
    extra: dict = field(default_factory=dict)  # e.g. a secret's kind, redacted match, fingerprint

    def to_record(self) -> dict:
        from hafs_cli.paths import path_fields

        return {
            "kind": "finding",
            "rule": self.rule,
            "step": self.check,
            **path_fields(self.path),
            "line": self.line,
            "column": self.column,
            "severity": "error",
            "message": self.message,
            **self.extra,
        }

    def format(self) -> str:
        return f"{os.fsdecode(self.path)}:{self.line}:{self.column}: {self.check}: {self.message}"


ASM_SUFFIXES = (".asm", ".s")
Check = Callable[[list[StagedFile], dict], list[Problem]]
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def _named(files: list[StagedFile], *suffixes: str) -> list[StagedFile]:
    return [f for f in files if f.name.lower().endswith(suffixes) and not f.is_binary()]


def check_toml(files: list[StagedFile], config: dict) -> list[Problem]:
    """Every staged .toml parses; a staged hafs.toml also passes `hafs config check`."""
    import tomllib

    problems = []
    for f in _named(files, ".toml"):
        text = f.text()
        try:
            if os.path.basename(f.name) == "hafs.toml":
                from hafs_cli.config import check_config_text

                for p in check_config_text(text, f.name):
                    problems.append(
                        Problem("toml", f.path, p.line, p.column, p.message, "hooks/hafs-config")
                    )
                continue
            tomllib.loads(text)
        except RecursionError:  # tomllib recurses once per nested array or inline table
            message = "TOML nested too deeply to parse (thousands of levels of [ or {)"
            problems.append(Problem("toml", f.path, 1, 1, message, "hooks/toml"))
        except tomllib.TOMLDecodeError as exc:
            m = _TOML_POSITION.search(str(exc))
            line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
            msg = _TOML_POSITION.sub("", str(exc))
            problems.append(
                Problem("toml", f.path, line, col, f"TOML syntax error: {msg}", "hooks/toml")
            )
    return problems


def check_secrets(files: list[StagedFile], config: dict) -> list[Problem]:
    """The secret scanner over the added lines of staged files (baseline and excludes apply)."""
    from hafs_cli.secrets import session

    settings = session.Settings.from_config(config["secrets"], config["baseline"])
    problems = []
    for result in session.scan_staged_files(files, settings):
        if result.skipped and result.skipped != "binary":
            # not a problem that blocks, but never a silent pass: say what went unchecked
            sys.stderr.write(
                f"hafs hooks: secrets: {os.fsdecode(result.path)} was not scanned: "
                f"{result.skipped} (raise [secrets].max_file_bytes to scan it)\n"
            )
            sys.stderr.flush()
        for f in result.findings:
            rec = f.to_record({})
            extra = {k: rec[k] for k in ("secret_kind", "redacted", "fingerprint")}
            message = f"{f.rule.description}: {f.redacted}"
            problems.append(
                Problem("secrets", result.path, f.line, f.column, message, rec["rule"], extra)
            )
    return problems


def check_asm(files: list[StagedFile], config: dict) -> list[Problem]:
    """validate-asm's errors in staged .asm files (warnings do not block).

    The staged text is checked; files it includes are read from the working tree.
    """
    if not _named(files, *ASM_SUFFIXES):
        return []  # do not pay for importing the assembler library
    validate_text = asm_validator()
    root = config.get("root", ".")
    problems = []
    for f in _named(files, *ASM_SUFFIXES):
        base = os.path.join(root, os.path.dirname(f.name))
        diags = validate_text(f.text(), f.name, base_dir=base, config=config.get("validate-asm"))
        for d in diags:
            if d.severity != "error":
                continue
            path = os.fsencode(d.path) if d.path else f.path
            message = f"{d.message} [{d.code}]"
            problems.append(Problem("asm", path, d.line, d.column, message, f"asm/{d.code}"))
    return problems


def asm_validator():
    """validate-asm's `validate_text`, or None in a build without the asm library."""
    try:
        from hafs_cli.asm import validate_text
    except ImportError:
        return None
    return validate_text


def check_jsonl(files: list[StagedFile], config: dict) -> list[Problem]:
    """Staged .jsonl lines parse, and records of a kind hafs knows match its schema."""
    from hafs_cli import records
    from hafs_cli.schemas import record_kinds, validate_record

    known = set(record_kinds())
    problems = []
    for f in _named(files, ".jsonl"):
        for lineno, raw in enumerate(f.content.splitlines(), 1):
            if not raw.strip():
                continue
            item = records.parse_line(raw.rstrip(b"\r"), f.name, lineno, last=False)
            if isinstance(item, records.BadLine):
                if "no string `kind`" not in item.reason:  # not a record stream line: fine
                    message = _without_secrets(item.reason)
                    problems.append(Problem("jsonl", f.path, lineno, 1, message, "hooks/jsonl"))
                continue
            if item["kind"] not in known:
                continue
            for reason in validate_record(item):
                message = _without_secrets(f"{item['kind']} record: {reason}")
                problems.append(Problem("jsonl", f.path, lineno, 1, message, "hooks/jsonl-schema"))
    return problems


def _without_secrets(message: str) -> str:
    """A message that quotes the offending line or value, with any secret in it redacted."""
    from hafs_cli.secrets.scanner import scan_text

    for finding in scan_text(message, "<message>"):
        message = message.replace(finding.secret, finding.redacted)
    return message


CHECKS: dict[str, Check] = {
    "toml": check_toml,
    "secrets": check_secrets,
    "asm": check_asm,
    "jsonl": check_jsonl,
}
