"""hafs score: offline quality scoring of training samples, and its analyses."""

from __future__ import annotations

import click

from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command

OBJECTIVES = ("quality", "diversity", "novelty", "coverage")
PLOT_FIELDS = ("composite", "diversity", "kg", "halluc", "coherence", "halluc_risk")
FILES = click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))


class _DefaultToRun(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to `run`.

    So `hafs score samples.jsonl` and `hafs score summary` both work (a file really
    named like a subcommand can be given as ./summary).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(
    "score",
    cls=_DefaultToRun,
    epilog=epilog(
        "hafs score samples.jsonl --source-root alttp/ > scored.jsonl",
        "hafs score samples.jsonl --source-root alttp/ --only | hafs score summary --plot hist.svg",
        "hafs score new.jsonl --reference accepted.jsonl --only | hafs score gate --baseline last.jsonl",
        "hafs score samples.jsonl --only | hafs score select --count 5000 --only",
        "hafs score samples.jsonl --source-root alttp/ | hafs ab --by variant",
    ),
)
def command() -> None:
    """Score training samples offline (`hafs score [run] FILE...`), then summarise, gate, select.

    Without a subcommand the arguments go to `run`: see `hafs score run --help`.
    """


@command.command(
    "run",
    epilog=epilog(
        "hafs score samples.jsonl --source-root alttp/ --only > scores.jsonl",
        "cat chat.jsonl | hafs score --reference accepted.jsonl | hafs score summary",
    ),
)
@FILES
@click.option(
    "--source-root",
    type=click.Path(),
    help="asar source tree (or one file) for the knowledge graph (default: [score].source_root).",
)
@click.option(
    "--reference",
    "references",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Earlier accepted samples (JSON Lines) to find near-duplicates against (repeatable).",
)
@click.option(
    "--mapper",
    type=click.Choice(["auto", "lorom", "hirom"]),
    help="ROM mapping for banks (auto: the source tree's lorom/hirom directive, else LoROM).",
)
@click.option("--threshold", type=click.FloatRange(0, 1), help="Pass threshold for every domain.")
@click.option(
    "--embed", is_flag=True, default=None, help="Add semantic diversity (Ollama /api/embed)."
)
@click.option("--no-validate", is_flag=True, help="Do not run validate-asm on code in the samples.")
@pipe_command(produces={"score"})
def run(pipe, files, source_root, references, mapper, threshold, embed, no_validate):
    """Score `sample` records: diversity, kg, halluc (1 - risk), coherence, composite.

    Reads sample records in any common shape ({instruction, input, output}, chat
    {messages}, ShareGPT); dataset lines without a `kind` are read as samples. Every
    input record is passed on; one `score` record per sample follows at the end, sorted
    by sample_id, with each failed rule as a structured reason. Output is byte-identical
    for the same input whatever its order.
    """
    from hafs_cli.quality import runner

    overrides = {
        "mapper": mapper,
        "threshold": threshold,
        "embed": embed,
        "validate_code": False if no_validate else None,
    }
    if threshold is not None:
        overrides["domains"] = {
            name: {**table, "threshold": None}
            for name, table in (pipe.config.section("score").get("domains") or {}).items()
        }
    return runner.score(pipe, files, source_root, references, overrides)


@command.command(
    "summary",
    epilog=epilog(
        "hafs score samples.jsonl --only | hafs score summary",
        "hafs score summary scores.jsonl --plot composite.svg",
        "hafs score summary scores.jsonl labelled-samples.jsonl --format json",
    ),
)
@FILES
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a histogram (.svg or .png).")
@click.option(
    "--plot-field",
    type=click.Choice(PLOT_FIELDS),
    default="composite",
    show_default=True,
    help="What the histogram shows.",
)
@pipe_command(produces={"score_summary"})
def summary(pipe, files, plot, plot_field):
    """Pass rate, distributions per component, domain, bank and rejection reason.

    Also Spearman correlations of each component with the composite and, where the
    samples carry one (human_label, human_score, label, rating), with the human label.
    """
    from hafs_cli.quality import runner

    return runner.summary(pipe, files, plot, plot_field)


@command.command(
    "gate",
    epilog=epilog(
        "hafs score ckpt-12.jsonl --only | hafs score gate --baseline ckpt-11-scores.jsonl",
        "hafs score gate --baseline summary-prev.jsonl --max-drop 0.05 scores.jsonl",
    ),
)
@FILES
@click.option(
    "--baseline",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Score records (or a score_summary) of the previous run.",
)
@click.option(
    "--max-drop",
    type=click.FloatRange(0, 1),
    help="Largest allowed relative fall (default: [score].gate_max_drop, 0.1).",
)
@pipe_command(produces={"gate_result"})
def gate(pipe, files, baseline, max_drop):
    """Exit 1 when mean composite or pass rate fell too far against the baseline.

    The gate_result record names every component whose mean fell.
    """
    from hafs_cli.quality import runner

    return runner.gate(pipe, files, baseline, max_drop)


@command.command(
    "select",
    epilog=epilog(
        "hafs score samples.jsonl --only | hafs score select --count 5000 --only",
        "hafs score select scores.jsonl --objective quality --objective coverage",
    ),
)
@FILES
@click.option(
    "--objective",
    "objectives",
    multiple=True,
    type=click.Choice(OBJECTIVES),
    help="Objective of the Pareto front (repeatable; default: [score].select_objectives).",
)
@click.option(
    "--count", type=click.IntRange(1), help="How many to select (default: the first front)."
)
@click.option("--include-failed", is_flag=True, help="Also consider samples that failed a rule.")
@pipe_command(produces={"selection"})
def select(pipe, files, objectives, count, include_failed):
    """Pareto-front selection with a stable tie-break, in curriculum order.

    Fronts are taken best first; inside the last front higher quality, then sample_id,
    wins. Selected samples are ordered easy, moderate, advanced (routine length,
    branches, hardware registers, indirect addressing).
    """
    from hafs_cli.quality import runner

    return runner.select(pipe, files, tuple(objectives), count, include_failed)
