"""hafs ab: compare groups of scored samples (prompt variants, models) honestly."""

from __future__ import annotations

import click

from hafs_cli.commands.score import FILES
from hafs_cli.exits import epilog
from hafs_cli.pipe import pipe_command


@click.command(
    "ab",
    epilog=epilog(
        "hafs score samples.jsonl --source-root alttp/ | hafs ab --by variant",
        "hafs ab --by meta.prompt --pair-by source --baseline v1 scored.jsonl",
        "hafs ab --by model --test permutation --seed 7 scored.jsonl --format table",
    ),
)
@FILES
@click.option(
    "--by", "by", required=True, help="Field that names the group (dotted: meta.variant)."
)
@click.option(
    "--pair-by",
    default="source",
    show_default=True,
    help="Field naming the source item; items in both groups are compared pairwise.",
)
@click.option("--baseline", help="Group to compare the others with (default: first by name).")
@click.option("--test", type=click.Choice(["wilcoxon", "permutation"]), help="Paired test.")
@click.option("--seed", type=int, help="Seed of the bootstrap and permutation draws.")
@click.option("--resamples", type=click.IntRange(100), help="Bootstrap resamples.")
@click.option("--alpha", type=click.FloatRange(0.0001, 0.5), help="Significance level.")
@pipe_command(produces={"ab_result"})
def command(pipe, files, by, pair_by, baseline, test, seed, resamples, alpha):
    """Mean difference, seeded bootstrap 95% interval, paired test and a plain verdict.

    Reads `score` records (and the `sample` records beside them, for fields only the
    samples carry). Samples are paired by --pair-by where enough items appear in both
    groups; otherwise the groups are compared as independent samples (Mann-Whitney).
    A difference is called significant only when p < alpha and the interval excludes
    zero. One ab_result per variant against the baseline, with per-component deltas;
    with more than two groups the p-values are Holm-adjusted.
    """
    from hafs_cli.quality import runner
    from hafs_cli.quality.ab import Settings

    cfg = pipe.config.section("ab")
    settings = Settings(
        seed=seed if seed is not None else cfg.get("seed", 0),
        resamples=resamples or cfg.get("resamples", 2000),
        alpha=alpha or cfg.get("alpha", 0.05),
        test=test or cfg.get("test", "wilcoxon"),
        permutations=cfg.get("permutations", 5000),
        min_pairs=cfg.get("min_pairs", 5),
    )
    return runner.ab(pipe, files, by, pair_by, baseline, settings)
