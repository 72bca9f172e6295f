"""Offline quality scoring of training samples: the library behind `hafs score` and `hafs ab`.

    from hafs_cli.quality import score_samples
    scores = score_samples(samples, source_root="alttp/")

Modules: samples (shapes), text (entities, claims, code facts), kg (knowledge graph),
halluc, coherence, minhash (near-duplicates), policy (domains, composite, rules),
scoring (the run), summary, gate, select, ab and stats (analysis), plot, embed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def score_samples(
    samples: Iterable[dict],
    section: dict | None = None,
    source_root: str | Path | None = None,
    references: Iterable[dict] = (),
) -> list[dict]:
    """Score sample records as `hafs score --only` would (section: the [score] table)."""
    from hafs_cli.config import load_config
    from hafs_cli.quality.kg import build_graph
    from hafs_cli.quality.runner import asm_validator
    from hafs_cli.quality.scoring import ScoreRun

    section = section if section is not None else load_config().section("score")
    graph = build_graph(Path(source_root), section.get("mapper", "auto")) if source_root else None
    run = ScoreRun(section, graph, asm_validator() if section.get("validate_code", True) else None)
    for ref in references:
        run.add_reference(ref)
    for rec in samples:
        run.add(rec)
    return run.results()
