"""Every subcommand: its module, its help group and its one-line summary.

Kept import-free so that `hafs --help` lists commands without importing them.
A subcommand is shown and callable only once its module exists.
"""

from __future__ import annotations

import importlib.util
from typing import NamedTuple


class CommandSpec(NamedTuple):
    module: str
    group: str
    summary: str


GROUPS = ("Files", "Assembly and data quality", "Local AI", "Machines", "Automation", "Toolbox")

COMMANDS: dict[str, CommandSpec] = {
    "scan": CommandSpec(
        "hafs_cli.commands.scan", "Files", "Walk directories and emit file records."
    ),
    "dedup": CommandSpec(
        "hafs_cli.commands.dedup", "Files", "Find duplicate files by content hash."
    ),
    "recommend": CommandSpec(
        "hafs_cli.commands.recommend", "Files", "Turn a scan into grounded cleanup findings."
    ),
    "apply": CommandSpec(
        "hafs_cli.commands.apply", "Files", "Carry out action records safely, with a journal."
    ),
    "validate-asm": CommandSpec(
        "hafs_cli.commands.validate_asm",
        "Assembly and data quality",
        "Validate 65816 assembly in asar syntax.",
    ),
    "score": CommandSpec(
        "hafs_cli.commands.score", "Assembly and data quality", "Score training samples offline."
    ),
    "ab": CommandSpec(
        "hafs_cli.commands.ab", "Assembly and data quality", "Compare two variants honestly (A/B)."
    ),
    "orchestrate": CommandSpec(
        "hafs_cli.commands.orchestrate",
        "Local AI",
        "Schedule local AI requests across Ollama hosts.",
    ),
    "sync": CommandSpec(
        "hafs_cli.commands.sync", "Machines", "Mirror a folder between machines over SSH."
    ),
    "backup": CommandSpec(
        "hafs_cli.commands.backup", "Machines", "Verified, restorable backups through restic."
    ),
    "hooks": CommandSpec(
        "hafs_cli.commands.hooks", "Automation", "Install and run git hooks built on hafs."
    ),
    "secrets": CommandSpec(
        "hafs_cli.commands.secrets", "Automation", "Scan files or staged changes for secrets."
    ),
    "schedule": CommandSpec(
        "hafs_cli.commands.schedule", "Automation", "Run hafs pipelines on a schedule."
    ),
    "config": CommandSpec(
        "hafs_cli.commands.config", "Toolbox", "Show or check the layered configuration."
    ),
    "schema": CommandSpec(
        "hafs_cli.commands.schema", "Toolbox", "List, show and validate record schemas."
    ),
    "completions": CommandSpec(
        "hafs_cli.commands.completions", "Toolbox", "Print shell completion scripts."
    ),
}


def available() -> list[str]:
    """Subcommands whose module is present, in registry order."""
    return [name for name, spec in COMMANDS.items() if importlib.util.find_spec(spec.module)]
