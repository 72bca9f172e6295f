"""hafs config: show the effective configuration, check hafs.toml files."""

from __future__ import annotations

from pathlib import Path

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import pipe_command


@click.group(
    "config",
    epilog=epilog(
        "hafs config show",
        "hafs config show --format jsonl | grep dedup",
        "hafs config check ./hafs.toml",
    ),
)
def command() -> None:
    """Show the effective configuration or check hafs.toml files.

    Layers, later wins: built-in defaults < ~/.config/hafs/hafs.toml < ./hafs.toml (or
    $HAFS_CONFIG) < HAFS_SECTION__KEY environment variables < command-line flags.
    """


@command.command("show", epilog=epilog("hafs config show", "hafs config show dedup --format jsonl"))
@click.argument("section", required=False)
@pipe_command(produces={"config_value"})
def show(pipe, section: str | None) -> int:
    """Print every effective value with the layer it came from (SECTION narrows it)."""
    from hafs_cli.config import load_config

    config = load_config()
    if section is not None and section not in config.values:
        import difflib

        close = difflib.get_close_matches(section, list(config.values), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise HafsError(f"no configuration section '{section}'{hint}")
    pipe.table_columns["config_value"] = ["key", "value", "origin"]
    for key, value, origin in config.leaves():
        if section is None or key.split(".")[0] == section:
            pipe.emit({"kind": "config_value", "key": key, "value": value, "origin": origin})
    return exits.OK


@command.command(
    "check",
    epilog=epilog("hafs config check", "hafs config check hafs.toml ~/.config/hafs/hafs.toml"),
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@pipe_command(produces={"config_problem"})
def check(pipe, files: tuple[str, ...]) -> int:
    """Validate hafs.toml files against the schema (default: every layer in use).

    Each problem is reported as FILE:LINE:COLUMN with a reason; unknown keys come
    with a did-you-mean. Exit 1 when any problem is found.
    """
    from hafs_cli.config import check_config_text, project_config_path, user_config_path

    paths = [Path(f) for f in files]
    if not paths:
        user = user_config_path()
        paths = [p for p in (user if user.is_file() else None, project_config_path()) if p]
    pipe.table_columns["config_problem"] = ["file", "line", "column", "message"]
    found = 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HafsError(f"cannot read {path}: {exc}") from None
        for problem in check_config_text(text, str(path)):
            found += 1
            pipe.emit(problem.to_record())
    if pipe.fmt == "table" and not found:
        pipe.table_renderer = lambda rows: f"{len(paths)} file(s) checked: no problems"
    return exits.FOUND if found else exits.OK
