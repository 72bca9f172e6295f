"""The hafs entry point: help, errors, broken pipes, Ctrl-C, terminals, start-up imports."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from hafs_cli.registry import COMMANDS, GROUPS, available

HEAVY = ("ollama", "paramiko", "jsonschema", "apscheduler", "rich", "httpx")


def test_help_lists_present_commands_in_groups(hafs):
    result = hafs("--help")
    assert result.exit_code == 0
    text = result.text
    present = available()
    assert {"config", "schema", "completions"} <= set(present)
    for name in present:
        assert f"  {name} " in text
        assert COMMANDS[name].summary in text
    for group in {COMMANDS[n].group for n in present}:
        assert f"{group}:" in text
    assert "Exit status" in text
    assert set(GROUPS) >= {COMMANDS[n].group for n in COMMANDS}


@pytest.mark.parametrize("name", available())
def test_every_subcommand_help_has_an_example_and_exit_statuses(hafs, name):
    result = hafs(name, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Examples:" in result.text and "hafs " in result.text.split("Examples:")[1]
    assert "Exit status" in result.text


def test_version(hafs):
    from hafs_cli import __version__

    result = hafs("--version")
    assert result.exit_code == 0 and __version__ in result.text


def test_unknown_command_suggests_the_nearest_and_exits_2(hafs):
    result = hafs("shema")
    assert result.exit_code == 2
    assert b"Did you mean 'schema'" in result.stderr


def test_bad_option_exits_2_without_traceback(hafs):
    result = hafs("schema", "list", "--no-such-option")
    assert result.exit_code == 2
    assert b"Traceback" not in result.stderr and b"No such option" in result.stderr


def _startup_modules(args: list[str]) -> set[str]:
    code = (
        "import sys\nfrom hafs_cli.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "import json\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, check=False, cwd=os.getcwd()
    )
    import json

    return set(json.loads(proc.stderr.splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_startup_does_not_import_heavy_libraries(args):
    loaded = _startup_modules(args)
    assert not [m for m in HEAVY if m in loaded]


def test_subcommand_help_does_not_import_heavy_libraries():
    for name in available():
        loaded = _startup_modules([name, "--help"])
        heavy = [m for m in HEAVY if m in loaded and m != "rich"]
        assert not heavy, f"'hafs {name} --help' imports {heavy}"


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_head_closing_the_pipe_exits_quietly(hafs_cmd, tmp_path, unbuffered):
    data = b"".join(
        b'{"kind":"file","path":"p%d","size":1,"mtime_ns":1}\n' % i for i in range(200000)
    )
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    proc = subprocess.run(
        " ".join(hafs_cmd) + f" schema validate {src} | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": unbuffered},
        executable="/bin/bash",
    )
    assert proc.stdout.count(b"\n") == 1
    assert proc.returncode == 141  # quiet, and not 1 ("the check found problems")
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr
    assert proc.stderr == b""


def test_ctrl_c_exits_130_without_traceback(hafs_cmd):
    proc = subprocess.Popen(
        [*hafs_cmd, "schema", "validate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(b'{"kind":"file","path":"a","size":1,"mtime_ns":1}\n')
    proc.stdin.flush()
    time.sleep(1.0)  # let it start and block on stdin
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert b"Traceback" not in err and b"interrupted" in err


def _run_in_pty(argv: list[str], env: dict | None = None, stdin: bytes | None = None) -> bytes:
    """Run with stdout and stderr on a terminal; return everything it drew."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else slave,
        stdout=slave,
        stderr=slave,
        env=full_env,
        close_fds=True,
    )
    os.close(slave)
    if stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 20)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=20)
    os.close(master)
    return b"".join(chunks)


SGR = re.compile(rb"\x1b\[([0-9;]*)m")


def _has_colour(data: bytes) -> bool:
    """True when any SGR sequence sets a foreground or background colour."""
    for match in SGR.finditer(data):
        for param in match.group(1).split(b";"):
            if param and (30 <= int(param) <= 49 or 90 <= int(param) <= 107):
                return True
    return False


def test_terminal_gets_a_table_not_json(hafs_cmd):
    out = _run_in_pty([*hafs_cmd, "schema", "list"])
    assert b"schema_kind (" in out and b'{"kind"' not in out


def test_pipe_gets_json_lines(hafs_cmd):
    proc = subprocess.run([*hafs_cmd, "schema", "list"], capture_output=True, check=True)
    assert proc.stdout.startswith(b'{"kind":"schema_kind"')


def test_no_color_is_honoured_on_a_terminal(hafs_cmd):
    coloured = _run_in_pty([*hafs_cmd, "schema", "list"], env={"FORCE_COLOR": "1"})
    assert _has_colour(coloured)
    plain = _run_in_pty([*hafs_cmd, "schema", "list"], env={"NO_COLOR": "1"})
    assert b"schema_kind (" in plain
    assert not _has_colour(plain)


def test_format_flag_overrides_the_terminal(hafs_cmd):
    out = _run_in_pty([*hafs_cmd, "schema", "list", "--format", "jsonl"])
    assert out.lstrip().startswith(b'{"kind":"schema_kind"')


def test_records_stream_to_the_next_stage_before_input_ends(hafs_cmd):
    proc = subprocess.Popen(
        [*hafs_cmd, "schema", "validate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(0.5)
        proc.stdin.write(b'{"kind":"error","reason":"first"}\n')
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "the record did not arrive while the input was still open"
        assert proc.stdout.readline() == b'{"kind":"error","reason":"first"}\n'
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)


def test_closed_stdout_is_a_clear_usage_error(hafs_cmd):
    proc = subprocess.run(
        " ".join(hafs_cmd) + " schema list >&-", shell=True, capture_output=True, check=False
    )
    assert proc.returncode == 2
    assert b"standard output is closed" in proc.stderr and b"Traceback" not in proc.stderr


def test_head_closing_the_pipe_of_a_table_exits_quietly(hafs_cmd, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(b'{"kind":"error","reason":"r%d"}\n' % i for i in range(20000)))
    proc = subprocess.run(
        " ".join(hafs_cmd)
        + f" schema validate {src} --format table | head -2; exit ${{PIPESTATUS[0]}}",
        shell=True,
        capture_output=True,
        check=False,
        executable="/bin/bash",
        # far more table than a pipe buffer holds, so the writer must meet the closed pipe
        env={**os.environ, "COLUMNS": "120", "HAFS_OUTPUT__TABLE_ROWS": "20000"},
    )
    assert proc.stdout.count(b"\n") == 2
    assert proc.returncode == 141 and proc.stderr == b""
