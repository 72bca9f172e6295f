"""hafs recommend: grounded cleanup and consolidation advice from scan/dedup records."""

from __future__ import annotations

import click

from hafs_cli.advice import RULE_SECTIONS
from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command


@click.command(
    "recommend",
    epilog=epilog(
        "hafs scan ~/Code ~/Downloads | hafs dedup | hafs recommend",
        "hafs scan ~ | hafs dedup | hafs recommend --format markdown > review.md",
        "hafs scan ~ | hafs dedup | hafs recommend --only | hafs apply --dry-run",
        "hafs recommend --rule regenerable --rule temporary scan.jsonl",
        "hafs scan ~ | hafs dedup | hafs recommend --ai --only > ranked.jsonl",
    ),
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--rule",
    "rules",
    multiple=True,
    type=click.Choice(RULE_SECTIONS),
    help="Run only this rule family (repeatable); default: those enabled in [recommend].",
)
@click.option(
    "--now",
    metavar="TIME",
    help="Reference time for the age thresholds (ISO 8601 or epoch seconds; default: now).",
)
@click.option(
    "--ai",
    "use_ai",
    is_flag=True,
    help="Rank the findings with a local Ollama model ([recommend.ai]); skipped if unreachable.",
)
@pipe_command(produces={"finding", "action", "summary"}, formats=("markdown",))
def command(pipe, files: tuple[str, ...], rules: tuple[str, ...], now: str | None, use_ai: bool):
    """Turn file, dir and dupgroup records into findings and actions for `hafs apply`.

    Rules: duplicate groups; caches and build output (never what git tracks);
    temporary files; old downloads and installers; archives already extracted; one
    project scattered over several places or hosts; abandoned repositories, training
    runs and checkpoints; the largest files and directories. Each finding names only
    paths from the input, the bytes its actions free, a confidence and whether the
    action can be undone. Every input record is passed on; findings, actions and a
    summary follow at the end. --format markdown writes a report to review.
    """
    from hafs_cli.advice.report import render_table, write_markdown
    from hafs_cli.advice.run import run

    pipe.table_renderer = render_table
    pipe.renderers["markdown"] = write_markdown
    return run(pipe, files, rules, now, use_ai)
