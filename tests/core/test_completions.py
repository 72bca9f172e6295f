"""Shell completions: shipped files are current and actually complete."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hafs_cli.cli import cli
from hafs_cli.completion import SHELLS, script
from tests.conftest import REPO

FILES = {
    "bash": "completions/hafs.bash",
    "zsh": "completions/_hafs",
    "fish": "completions/hafs.fish",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_shipped_completion_files_are_current(shell):
    assert (REPO / FILES[shell]).read_text() == script(shell, cli), "run scripts/regen.py"


@pytest.mark.parametrize("shell", SHELLS)
def test_completions_command_prints_the_script(hafs, shell):
    result = hafs("completions", shell)
    assert result.exit_code == 0 and result.text == script(shell, cli)


def _complete(*words: str) -> list[str]:
    cur = len(words) - 1
    line = " ".join(f"'{w}'" for w in words)
    cmd = (
        f"source {REPO / FILES['bash']}; COMP_WORDS=({line}); COMP_CWORD={cur}; "
        '_hafs_complete; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True)
    return sorted(filter(None, out.stdout.splitlines()))


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completes_subcommands_and_options():
    assert "schema" in _complete("hafs", "sch")
    assert _complete("hafs", "schema", "va") == ["validate"]
    assert "--strict" in _complete("hafs", "schema", "validate", "--st")
    assert "--format" in _complete("hafs", "config", "show", "--f")
