"""hafs schema: the record kinds, their JSON Schemas, and validation of streams."""

from __future__ import annotations

import click

from hafs_cli import exits
from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command


@click.group(
    "schema",
    epilog=epilog(
        "hafs schema list",
        "hafs schema show dupgroup",
        "hafs scan ~/Code | hafs dedup | hafs schema validate",
    ),
)
def command() -> None:
    """List, show and validate record schemas (JSON Schema draft 2020-12)."""


@command.command("list", epilog=epilog("hafs schema list"))
@pipe_command(produces={"schema_kind"})
def list_(pipe) -> int:
    """List every record kind that has a schema, with its description."""
    from hafs_cli.schemas import load_schema, record_kinds

    pipe.table_columns["schema_kind"] = ["name", "description"]
    for kind in record_kinds():
        desc = load_schema(kind).get("description", "")
        pipe.emit({"kind": "schema_kind", "name": kind, "description": desc})
    return exits.OK


@command.command(
    "show", epilog=epilog("hafs schema show file", "hafs schema show finding > f.json")
)
@click.argument("kind")
def show(kind: str) -> None:
    """Print the JSON Schema of one record KIND."""
    import sys

    import orjson

    from hafs_cli.schemas import load_schema

    data = orjson.dumps(load_schema(kind), option=orjson.OPT_INDENT_2) + b"\n"
    sys.stdout.buffer.write(data)


@command.command(
    "validate",
    epilog=epilog(
        "hafs schema validate results.jsonl",
        "hafs scan . | hafs schema validate --only",
    ),
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@pipe_command(produces={"schema_violation"})
def validate(pipe, files: tuple[str, ...]) -> int:
    """Check every record against its kind's schema; passes records on.

    Each bad record is reported as a `schema_violation` record with its source, line
    number and reasons. Exit 1 if any record is invalid, 2 if a line is not a record.
    """
    from hafs_cli.schemas import validate_record

    bad = 0
    pipe.table_columns["schema_violation"] = ["source", "line", "record_kind", "reasons"]
    for source, lineno, item, line in pipe.record_lines(files):
        reasons = validate_record(item)
        if reasons:
            bad += 1
            pipe.emit(
                {
                    "kind": "schema_violation",
                    "source": source,
                    "line": lineno,
                    "record_kind": item.get("kind"),
                    "reasons": reasons,
                }
            )
        else:
            pipe.forward_line(item, line)
    return exits.FOUND if bad else exits.OK
