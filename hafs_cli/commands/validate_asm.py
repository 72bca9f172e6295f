"""hafs validate-asm: check 65816 assembly (asar syntax) in files or in sample records."""

from __future__ import annotations

import click

from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command


@click.command(
    "validate-asm",
    epilog=epilog(
        "hafs validate-asm src/ > diags.jsonl",
        "hafs validate-asm main.asm --only --format table",
        "hafs scan alttp/ | hafs validate-asm --only | jq -r 'select(.severity==\"error\") | .path'",
        "hafs validate-asm < samples.jsonl | hafs score --source-root alttp/",
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--field",
    "fields",
    multiple=True,
    help="Sample field holding assembly (repeatable; default [validate-asm].fields).",
)
@click.option(
    "--text-field",
    "text_fields",
    multiple=True,
    help="Sample field whose ```asm blocks are checked (repeatable).",
)
@click.option(
    "-I",
    "--include-path",
    "include_paths",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra directory for incsrc/incbin (repeatable).",
)
@click.option(
    "-D",
    "--define",
    "defines",
    multiple=True,
    metavar="NAME=VALUE",
    help="Predefine !NAME (repeatable), like asar -D.",
)
@click.option(
    "--unknown-width",
    type=click.Choice(["ignore", "warning"]),
    default=None,
    help="Warn about immediates where the register width is unknown.",
)
@click.option(
    "--min-severity",
    type=click.Choice(["error", "warning", "info"]),
    default=None,
    help="Write only diagnostics at least this severe.",
)
@pipe_command(produces={"asm_diag", "asm_summary", "summary"})
def command(pipe, paths, fields, text_fields, include_paths, defines, unknown_width, min_severity):  # noqa: ANN001
    """Validate 65816 assembly in asar syntax: files, directories, or sample records.

    PATHs are .asm files or directories (searched recursively); a file that another
    given file includes is checked as part of its includer. Without PATHs, records are
    read from stdin: `sample` records have their assembly fields checked (one
    asm_summary per sample), `file` records naming .asm files are validated, and every
    record is passed on. Emits one asm_diag per problem (path or sample, line, column,
    severity, code, message, suggestion) and a summary at the end. Exit 1 when any
    error is found.
    """
    from hafs_cli.asm.run import ValidateRun

    section = pipe.config.section("validate-asm")
    overrides = {
        "fields": list(fields) or None,
        "text_fields": list(text_fields) or None,
        "include_paths": list(include_paths) or None,
        "defines": _parse_defines(defines),
        "unknown_width": unknown_width,
        "min_severity": min_severity,
    }
    run = ValidateRun({**section, **{k: v for k, v in overrides.items() if v}}, pipe)
    where = ["path"] if paths else ["path", "sample", "field"]
    pipe.table_columns["asm_diag"] = [
        *where,
        "line",
        "column",
        "severity",
        "code",
        "message",
        "suggestion",
    ]
    pipe.table_columns["asm_summary"] = ["sample", "valid", "blocks", "lines", "errors", "warnings"]
    if paths:
        run.validate_paths(paths)
    else:
        import sys

        from hafs_cli.exits import HafsError

        if sys.stdin is None or sys.stdin.isatty():  # a terminal, or closed
            raise HafsError(
                "nothing to check: give .asm files or directories, or pipe sample/file records on stdin"
            )
        run.validate_stream(pipe.records())
    return run.finish()


def _parse_defines(items: tuple[str, ...]) -> dict[str, str]:
    from hafs_cli.exits import HafsError

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("!")
        if not name or not name.replace("_", "").isalnum():
            raise HafsError(f"-D {item}: expected NAME=VALUE (for example -D sa1=1)")
        out[name] = value if sep else "1"
    return out
