"""Install and uninstall hafs's git hooks the way the pre-commit framework does.

Hooks go to `$(git rev-parse --git-common-dir)/hooks` (shared by all worktrees). A
foreign hook is kept as TYPE.legacy and still runs first; installing twice changes
nothing; uninstalling restores the legacy hook byte for byte (it is only renamed).
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hafs_cli.exits import HafsError
from hafs_cli.hooks import git
from hafs_cli.resources import data_path

HOOK_TYPES = ("pre-commit", "pre-push", "post-merge", "post-checkout")
MARKER = b"hafs-hook-marker:"
TEMPLATE = "hooks/hafs-hook.sh"


@dataclass(frozen=True)
class HookChange:
    hook: str
    path: Path
    action: str  # installed, updated, unchanged, removed, restored, not-ours, absent
    legacy: Path | None = None

    def to_record(self) -> dict:
        rec = {
            "kind": "hook_install",
            "hook": self.hook,
            "path": str(self.path),
            "action": self.action,
        }
        if self.legacy is not None:
            rec["legacy"] = str(self.legacy)
        return rec


def hooks_dir(repo: str | os.PathLike | None, use_hooks_path: bool) -> Path:
    """Where git runs hooks from; refuses a core.hooksPath it was not asked to use."""
    configured = git.config_value("core.hooksPath", repo)
    if configured and not use_hooks_path:
        raise HafsError(
            f"core.hooksPath is set to '{configured}', so git ignores .git/hooks; "
            "install there with 'hafs hooks install --hooks-path', "
            "or unset it with 'git config --unset core.hooksPath'"
        )
    if use_hooks_path:
        if not configured:
            raise HafsError("--hooks-path: core.hooksPath is not set in this repository")
        path = Path(os.path.expanduser(configured))
        return path if path.is_absolute() else git.toplevel(repo) / path
    return git.common_dir(repo) / "hooks"


def render(hook: str, python: str | None = None) -> bytes:
    """The hook script for `hook`, calling this interpreter (the one running hafs now)."""
    template = data_path(TEMPLATE).read_text(encoding="utf-8")
    python = python or sys.executable
    text = template.replace("@HOOK_TYPE@", hook).replace("@PYTHON@", shlex.quote(python))
    return text.encode("utf-8")


def is_hafs_hook(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return MARKER in fh.read(4096)
    except OSError:
        return False


def _write_executable(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def install(
    repo: str | os.PathLike | None, hooks: tuple[str, ...], use_hooks_path: bool = False
) -> list[HookChange]:
    target = hooks_dir(repo, use_hooks_path)
    if os.path.lexists(target) and not target.is_dir():
        raise HafsError(f"{target} is not a folder, so no hooks can go there: move it away")
    try:
        target.mkdir(parents=True, exist_ok=True)
        return [_install_one(target, hook) for hook in hooks]
    except OSError as exc:
        raise _cannot_write(target, exc) from None


def _cannot_write(target: Path, exc: OSError) -> HafsError:
    where = exc.filename or target
    return HafsError(
        f"cannot write hooks in {target}: {where}: {exc.strerror}; "
        "check that it is a folder you may write to"
    )


def _install_one(target: Path, hook: str) -> HookChange:
    path, legacy = target / hook, target / f"{hook}.legacy"
    script = render(hook)
    kept = legacy if os.path.lexists(legacy) else None
    if os.path.lexists(path):
        if is_hafs_hook(path):
            if path.read_bytes() == script:
                return HookChange(hook, path, "unchanged", kept)
            _write_executable(path, script)
            return HookChange(hook, path, "updated", kept)
        if kept is not None:
            raise HafsError(
                f"{path} is not a hafs hook and {legacy} already exists; "
                "move one of them away, then install again"
            )
        os.rename(path, legacy)  # a rename keeps the bytes and the mode exactly
        kept = legacy
    _write_executable(path, script)
    return HookChange(hook, path, "installed", kept)


def uninstall(
    repo: str | os.PathLike | None, hooks: tuple[str, ...], use_hooks_path: bool = False
) -> list[HookChange]:
    target = hooks_dir(repo, use_hooks_path)
    try:
        return _uninstall(target, hooks)
    except OSError as exc:
        raise _cannot_write(target, exc) from None


def _uninstall(target: Path, hooks: tuple[str, ...]) -> list[HookChange]:
    changes = []
    for hook in hooks:
        path, legacy = target / hook, target / f"{hook}.legacy"
        if not os.path.lexists(path):
            changes.append(HookChange(hook, path, "absent"))
        elif not is_hafs_hook(path):
            changes.append(HookChange(hook, path, "not-ours"))
        else:
            os.unlink(path)
            if os.path.lexists(legacy):
                os.rename(legacy, path)
                changes.append(HookChange(hook, path, "restored", legacy))
            else:
                changes.append(HookChange(hook, path, "removed"))
    return changes
