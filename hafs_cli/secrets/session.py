"""One scanning run over files, staged changes or `file` records, with settings and a baseline."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hafs_cli.exits import HafsError
from hafs_cli.secrets.baseline import Baseline, load_baseline
from hafs_cli.secrets.files import DEFAULT_MAX_BYTES, excluded, read_text, walk

__all__ = ["FileResult", "Settings", "excluded", "scan_file", "scan_paths", "scan_staged"]
from hafs_cli.secrets.scanner import Finding, scan_text


@dataclass(frozen=True)
class Settings:
    exclude: tuple[str, ...] = ()
    skip_rules: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_BYTES
    baseline: Baseline = field(default_factory=Baseline)

    @classmethod
    def from_config(cls, section: dict, baseline: Baseline) -> Settings:
        return cls(
            exclude=tuple(section.get("exclude", ())),
            skip_rules=tuple(section.get("skip_rules", ())),
            max_file_bytes=int(section.get("max_file_bytes", DEFAULT_MAX_BYTES)),
            baseline=baseline,
        )


@dataclass
class FileResult:
    path: bytes
    findings: list[Finding] = field(default_factory=list)  # not in the baseline
    accepted: int = 0  # findings the baseline accepts
    skipped: str | None = None
    error: str | None = None


def project_root(cwd: str | os.PathLike | None = None) -> Path:
    """The git work tree containing `cwd`, else `cwd` itself (where a relative baseline lives)."""
    here = Path(cwd or os.getcwd())
    if not here.is_dir():
        raise HafsError(f"folder {here} does not exist: check --repo")
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, check=False
        )
    except FileNotFoundError:  # no git: not a repository, as far as a baseline is concerned
        return here
    out = proc.stdout.decode().strip()
    return Path(out) if proc.returncode == 0 and out else here


def resolve_baseline(option: str | None, configured: str, use: bool, root: Path) -> Baseline:
    """--baseline FILE (must exist) > [secrets].baseline under the root (if it exists) > none."""
    if not use:
        return Baseline()
    if option:
        return load_baseline(Path(option), required=True)
    return load_baseline(root / configured) if configured else Baseline()


def scan_content(path: bytes, text: str, settings: Settings, lines=None) -> FileResult:
    result = FileResult(path)
    name = os.fsdecode(path)
    for finding in scan_text(text, name, lines=lines, skip_rules=settings.skip_rules):
        if settings.baseline.accepts(finding):
            result.accepted += 1
        else:
            result.findings.append(finding)
    return result


def scan_file(path: bytes, settings: Settings) -> FileResult:
    try:
        text, skipped = read_text(path, settings.max_file_bytes)
    except OSError as exc:
        return FileResult(path, error=f"cannot read: {exc.strerror or exc}")
    if text is None:
        return FileResult(path, skipped=skipped)
    return scan_content(path, text, settings)


def scan_paths(paths: Iterable[str | bytes], settings: Settings) -> Iterator[FileResult]:
    for path in walk(paths, settings.exclude):
        yield scan_file(path, settings)


def scan_staged(repo: str | os.PathLike | None, settings: Settings) -> Iterator[FileResult]:
    """Only the lines a commit would add, as staged in the index."""
    from hafs_cli.hooks.staged import staged_files

    return scan_staged_files(staged_files(repo), settings)


def scan_staged_files(files: Iterable, settings: Settings) -> Iterator[FileResult]:
    """Scan hafs_cli.hooks.staged.StagedFile objects (added lines only)."""
    for staged in files:
        if excluded(staged.path, settings.exclude):
            continue
        if staged.is_binary():
            yield FileResult(staged.path, skipped="binary")
        elif len(staged.content) > settings.max_file_bytes:
            yield FileResult(staged.path, skipped=f"larger than {settings.max_file_bytes} bytes")
        else:
            yield scan_content(staged.path, staged.text(), settings, staged.added)
