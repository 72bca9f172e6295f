"""hafs completions: print a shell completion script."""

from __future__ import annotations

import click

from hafs_cli.exits import epilog


@click.command(
    "completions",
    epilog=epilog(
        "hafs completions bash > ~/.local/share/bash-completion/completions/hafs",
        "hafs completions zsh > ~/.zfunc/_hafs",
        "hafs completions fish > ~/.config/fish/completions/hafs.fish",
    ),
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def command(shell: str) -> None:
    """Print the completion script for SHELL (the same files ship in completions/)."""
    from hafs_cli.cli import cli
    from hafs_cli.completion import script

    click.echo(script(shell, cli), nl=False)
