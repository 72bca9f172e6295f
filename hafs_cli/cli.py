"""The `hafs` entry point: a click group whose subcommands load only when used."""

from __future__ import annotations

import importlib
import os
import sys

import click

from hafs_cli import __version__, exits
from hafs_cli.registry import COMMANDS, GROUPS, available

ROOT_EPILOG = (
    """\b
Pipelines:
  hafs scan ~/Code /mnt/d | hafs dedup | hafs recommend
  hafs validate-asm src/ > diags.jsonl
  hafs score samples.jsonl --source-root alttp/ | hafs ab --by variant

"""
    + exits.EXIT_STATUS_HELP
)


class ClosedPipe(Exception):
    """The reader of stdout went away (`hafs … | head`): end quietly with status 141.

    Raised in place of BrokenPipeError because click turns an EPIPE OSError into
    exit status 1, which means "the check found problems" here.
    """


class LazyGroup(click.Group):
    """Lists subcommands from the registry; imports a module only when it runs."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise ClosedPipe() from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return available()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None or cmd_name not in available():
            return None
        module = importlib.import_module(spec.module)
        return module.command

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint} See 'hafs --help'.")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        present = set(available())
        for group in GROUPS:
            rows = [
                (name, spec.summary)
                for name, spec in COMMANDS.items()
                if spec.group == group and name in present
            ]
            if rows:
                with formatter.section(group):
                    formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, epilog=ROOT_EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "-V", "--version", prog_name="hafs")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="HAFS_CONFIG",
    help="Project configuration file (default: ./hafs.toml; env HAFS_CONFIG).",
)
def cli(config_file: str | None) -> None:
    """hafs: composable JSON Lines tools for local AI and training-data pipelines.

    Every subcommand reads records from stdin or files and writes records to stdout,
    so they pipe together. On a terminal, output is a table; into a pipe, JSON Lines.
    """
    if config_file:
        os.environ["HAFS_CONFIG"] = config_file


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> None:
    """Run hafs; turn every failure into a one-line message and an exit status."""
    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    if sys.stdout is None:  # started with stdout closed (>&-)
        click.echo("hafs: error: standard output is closed; redirect it (> FILE)", err=True)
        sys.exit(exits.USAGE)
    try:
        code = cli.main(args=argv, prog_name="hafs", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("hafs: interrupted", err=True)
        code = exits.INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        code = exits.USAGE
    except exits.HafsError as exc:
        click.echo(f"hafs: error: {exc.message}", err=True)
        code = exc.code
    except (BrokenPipeError, ClosedPipe):
        _quiet_stdout()
        code = 141
    except KeyboardInterrupt:
        _quiet_stdout_if_broken()
        click.echo("hafs: interrupted", err=True)
        code = exits.INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("HAFS_DEBUG"):
            raise
        click.echo(
            f"hafs: internal error: {type(exc).__name__}: {exc} "
            "(rerun with HAFS_DEBUG=1 for a traceback, and please report it)",
            err=True,
        )
        code = exits.RUNTIME
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _quiet_stdout()
        code = code or 141
    sys.exit(code if isinstance(code, int) else 0)


def _quiet_stdout_if_broken() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _quiet_stdout()
