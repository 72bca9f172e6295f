"""Run one hook: its configured steps, in order, each a built-in check or a user command.

pre-commit's built-in checks read the index; user steps are command lines (a hafs
pipeline or anything else) run by /bin/sh in the repository root, with this hafs first
on PATH. HAFS_SKIP=step,step skips steps; [hooks.TYPE].on_failure says whether a failed
step stops the rest.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hafs_cli.exits import HafsError
from hafs_cli.hooks.checks import ASM_SUFFIXES, CHECKS, Problem, asm_validator

HOOKS = ("pre-commit", "pre-push", "post-merge", "post-checkout", "post-training")


@dataclass
class StepResult:
    hook: str
    step: str
    status: str  # passed, failed, skipped
    problems: list[Problem] = field(default_factory=list)
    exit_code: int | None = None
    reason: str = ""
    elapsed_s: float = 0.0

    def to_record(self) -> dict:
        rec = {"kind": "hook_step", "hook": self.hook, "step": self.step, "status": self.status,
               "problems": len(self.problems), "elapsed_s": round(self.elapsed_s, 4)}  # fmt: skip
        if self.exit_code is not None:
            rec["exit_code"] = self.exit_code
        if self.reason:
            rec["reason"] = self.reason
        return rec


@dataclass(frozen=True)
class HookContext:
    hook: str
    root: Path  # repository root (or the current folder for post-training outside git)
    hooks: dict  # the [hooks] configuration section
    secrets: dict  # the [secrets] configuration section
    skip: frozenset[str]
    asm: dict | None = None  # the [validate-asm] section, when this build has one
    args: tuple[str, ...] = ()
    capture_stdout: bool = False  # user steps' stdout goes to stderr (keeps jsonl clean)


def skipped_steps(environ: dict[str, str]) -> frozenset[str]:
    return frozenset(s.strip() for s in environ.get("HAFS_SKIP", "").split(",") if s.strip())


def plan(ctx: HookContext) -> list[str]:
    """The step names for this hook, checked against the configuration."""
    table = ctx.hooks.get(ctx.hook, {})
    steps = list(table.get("steps", []))
    user = ctx.hooks.get("steps", {})
    for name in steps:
        if name in CHECKS:
            if ctx.hook != "pre-commit":
                raise HafsError(
                    f"[hooks.{ctx.hook}] step '{name}' is a pre-commit check of staged files; "
                    f"use it in [hooks.pre-commit].steps, or define [hooks.steps.{name}] with a run command"
                )
        elif name not in user:
            known = ", ".join(sorted(set(CHECKS) | set(user)))
            raise HafsError(
                f"[hooks.{ctx.hook}] names step '{name}', which is neither built in nor defined "
                f"as [hooks.steps.{name}] (known: {known})"
            )
    return steps


def run_hook(ctx: HookContext, report: Callable[[StepResult], None]) -> list[StepResult]:
    """Run every step (reporting each as it finishes); the results say what happened."""
    steps = plan(ctx)
    stop_on_failure = ctx.hooks.get(ctx.hook, {}).get("on_failure", "continue") == "stop"
    staged = None
    results: list[StepResult] = []
    stopped = ""
    for name in steps:
        if name in ctx.skip or "all" in ctx.skip:
            result = StepResult(ctx.hook, name, "skipped", reason="HAFS_SKIP")
        elif stopped:
            result = StepResult(
                ctx.hook, name, "skipped", reason=f"'{stopped}' failed (on_failure = \"stop\")"
            )
        else:
            if ctx.hook == "pre-commit" and staged is None:
                from hafs_cli.hooks.staged import staged_files

                staged = staged_files(ctx.root)
            start = time.perf_counter()
            if name in CHECKS:
                result = _run_check(ctx, name, staged or [])
            else:
                result = _run_user_step(ctx, name, ctx.hooks["steps"][name], staged)
            result.elapsed_s = time.perf_counter() - start
            if result.status == "failed" and stop_on_failure:
                stopped = name
        results.append(result)
        report(result)
    return results


def _run_check(ctx: HookContext, name: str, staged) -> StepResult:
    if (
        name == "asm"
        and any(f.name.endswith(ASM_SUFFIXES) for f in staged)
        and asm_validator() is None
    ):
        return StepResult(
            ctx.hook, name, "skipped", reason="validate-asm is not part of this build"
        )
    config: dict = {"root": str(ctx.root), "validate-asm": ctx.asm}
    if name == "secrets":
        config.update(secrets=ctx.secrets, baseline=_baseline(ctx))
    problems = CHECKS[name](staged, config)
    return StepResult(ctx.hook, name, "failed" if problems else "passed", problems)


def _baseline(ctx: HookContext):
    from hafs_cli.secrets.baseline import Baseline, load_baseline

    configured = ctx.secrets.get("baseline", "")
    return load_baseline(ctx.root / configured) if configured else Baseline()


def _run_user_step(ctx: HookContext, name: str, spec: dict, staged) -> StepResult:
    command = spec.get("run", "")
    if not command.strip():
        raise HafsError(f"[hooks.steps.{name}] has an empty run command")
    pattern = spec.get("files", "")
    if pattern and ctx.hook == "pre-commit":
        try:
            matcher = re.compile(pattern)
        except re.error as exc:
            raise HafsError(
                f"[hooks.steps.{name}].files is not a valid regular expression: {exc}"
            ) from None
        matching = [f.name for f in staged or [] if matcher.search(f.name)]
        if not matching:
            return StepResult(ctx.hook, name, "skipped", reason="no staged file matches")
        if spec.get("pass_files"):
            # "./-x": a staged file named like an option must not become one
            command += " " + " ".join(
                shlex.quote("./" + p if p.startswith("-") else p) for p in matching
            )
    timeout = spec.get("timeout_s") or None
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=ctx.root,
            env=_step_env(ctx),
            stdout=subprocess.PIPE if ctx.capture_stdout else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return StepResult(ctx.hook, name, "failed", reason=f"timed out after {timeout} s")
    if ctx.capture_stdout and proc.stdout:  # keep machine-readable stdout clean
        sys.stderr.write(proc.stdout.decode("utf-8", "replace"))
        sys.stderr.flush()
    if proc.returncode == 0:
        return StepResult(ctx.hook, name, "passed", exit_code=0)
    reason = spec.get("description") or command
    return StepResult(ctx.hook, name, "failed", exit_code=proc.returncode, reason=reason)


def _step_env(ctx: HookContext) -> dict[str, str]:
    """This hafs first on PATH (the hook may run outside the virtualenv), and the hook's facts."""
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    if (bindir / "hafs").exists():
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["HAFS_HOOK"] = ctx.hook
    env["HAFS_HOOK_ARGS"] = shlex.join(ctx.args)
    return env
