"""hafs hooks: install git hooks built on hafs, and run a hook's configured steps."""

from __future__ import annotations

import functools
import os
import sys

import click

from hafs_cli import exits
from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command

INSTALLABLE = ("pre-commit", "pre-push", "post-merge", "post-checkout")
RUNNABLE = (*INSTALLABLE, "post-training")


@click.group(
    "hooks",
    epilog=epilog(
        "hafs hooks install",
        "hafs hooks install --type pre-commit --type post-merge",
        "hafs hooks run pre-commit --format jsonl | jq -r 'select(.kind==\"finding\") | .path'",
        "python train.py && hafs hooks run post-training",
        "HAFS_SKIP=secrets git commit -m wip     # skip one step once",
        "git commit --no-verify                 # skip the whole hook once",
    ),
)
def command() -> None:
    """Git hooks whose steps are hafs commands, configured in hafs.toml [hooks].

    'install' writes small scripts into the repository's hooks folder; each calls
    'hafs hooks run TYPE'. pre-commit checks the staged content (not the working tree):
    TOML syntax (and hafs.toml against its schema), secrets in added lines, assembly via
    validate-asm, and record schemas in .jsonl files. Exit 1 blocks the commit.
    """


def _hook_options(f, default_types: str = "pre-commit"):
    f = click.option(
        "--hooks-path",
        "use_hooks_path",
        is_flag=True,
        help="Use the folder core.hooksPath names (otherwise hafs refuses when it is set).",
    )(f)
    f = click.option(
        "--repo", type=click.Path(file_okay=False), help="Repository (default: the current one)."
    )(f)
    f = click.option(
        "--type",
        "types",
        multiple=True,
        type=click.Choice(INSTALLABLE),
        help=f"Hook type (repeatable; default: {default_types}).",
    )(f)
    return f


@command.command(
    "install",
    epilog=epilog("hafs hooks install", "hafs hooks install --type pre-push --repo ~/Code/app"),
)
@_hook_options
@pipe_command(produces={"hook_install"})
def install(pipe, types, repo, use_hooks_path) -> int:
    """Install hook scripts into $(git rev-parse --git-common-dir)/hooks.

    Worktrees share these hooks. A hook that is already there and not hafs's is kept
    as TYPE.legacy; it runs first and its failure still blocks. Installing again
    changes nothing. The script records this Python interpreter and falls back to
    'hafs' on PATH.
    """
    from hafs_cli.hooks.install import install as do_install

    pipe.table_columns["hook_install"] = ["hook", "action", "path", "legacy"]
    for change in do_install(repo, types or ("pre-commit",), use_hooks_path):
        pipe.emit(change.to_record())
    return exits.OK


@command.command(
    "uninstall", epilog=epilog("hafs hooks uninstall", "hafs hooks uninstall --type pre-push")
)
@functools.partial(_hook_options, default_types="all four")
@pipe_command(produces={"hook_install"})
def uninstall(pipe, types, repo, use_hooks_path) -> int:
    """Remove hafs's hook scripts (only those) and restore TYPE.legacy byte for byte."""
    from hafs_cli.hooks.install import uninstall as do_uninstall

    pipe.table_columns["hook_install"] = ["hook", "action", "path", "legacy"]
    for change in do_uninstall(repo, types or INSTALLABLE, use_hooks_path):
        pipe.emit(change.to_record())
    return exits.OK


@command.command(
    "run",
    epilog=epilog(
        "hafs hooks run pre-commit",
        "hafs hooks run pre-commit --format jsonl > problems.jsonl",
        "hafs hooks run post-training || echo 'post-training steps failed'",
    ),
)
@click.argument("hook", type=click.Choice(RUNNABLE))
@click.argument("hook_args", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    help="text: one line per problem (for people); jsonl: finding and hook_step records.",
)
@click.option("--repo", type=click.Path(file_okay=False), help="Repository (default: here).")
def run(hook, hook_args, fmt, repo) -> None:
    """Run the steps of [hooks.HOOK] in hafs.toml; exit 1 when a step fails.

    \b
    Built-in steps (pre-commit, on staged content only):
      toml     every staged .toml parses; a staged hafs.toml passes 'hafs config check'
      secrets  'hafs secrets scan' on the added lines (baseline and pragmas apply)
      asm      validate-asm errors in staged .asm files
      jsonl    staged .jsonl records of a known kind match their schema
    Any other step is [hooks.steps.NAME] run = "command line" (a hafs pipeline or
    anything else), run by /bin/sh in the repository root.
    Skip steps with HAFS_SKIP=secrets,asm (HAFS_SKIP=all skips every step).
    """
    from hafs_cli import records
    from hafs_cli.config import load_config
    from hafs_cli.hooks.runner import HookContext, run_hook, skipped_steps
    from hafs_cli.secrets.session import project_root

    config = load_config()
    ctx = HookContext(
        hook=hook,
        root=project_root(repo),
        hooks=config.section("hooks"),
        secrets=config.section("secrets"),
        asm=config.section("validate-asm") or None,
        skip=skipped_steps(dict(os.environ)),
        args=tuple(hook_args),
        capture_stdout=fmt == "jsonl",
    )
    out = sys.stdout

    def report(result) -> None:
        if fmt == "jsonl":
            for problem in result.problems:
                out.write(records.dumps(problem.to_record()).decode())
            out.write(records.dumps(result.to_record()).decode())
        else:
            for problem in result.problems:
                out.write(problem.format() + "\n")
            if result.status == "failed" and not result.problems:
                code = f" (exit {result.exit_code})" if result.exit_code is not None else ""
                click.echo(
                    f"hafs hooks: step '{result.step}' failed{code}: {result.reason}", err=True
                )
            elif result.status == "skipped" and result.reason != "no staged file matches":
                click.echo(f"hafs hooks: step '{result.step}' skipped: {result.reason}", err=True)
        out.flush()

    results = run_hook(ctx, report)
    failed = [r.step for r in results if r.status == "failed"]
    problems = sum(len(r.problems) for r in results)
    if fmt == "jsonl":
        summary = {"kind": "summary", "command": f"hooks run {hook}", "steps": len(results),
                   "failed": len(failed), "problems": problems}  # fmt: skip
        out.write(records.dumps(summary).decode())
        out.flush()
    elif failed:
        what = "commit blocked" if hook == "pre-commit" else f"{hook} failed"
        click.echo(
            f"hafs hooks: {what}: {problems} problem(s); failed step(s): {', '.join(failed)}. "
            "Skip a step once with HAFS_SKIP=NAME"
            + (", or the whole hook with git commit --no-verify." if hook == "pre-commit" else "."),
            err=True,
        )
    sys.exit(exits.FOUND if failed else exits.OK)
