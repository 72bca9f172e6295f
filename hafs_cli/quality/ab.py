"""A/B analysis of scored samples: paired where possible, a bootstrap interval, a test, a verdict.

A difference is called significant only when the paired test (Wilcoxon signed-rank, or a
sign-flip permutation test) gives p < alpha *and* the seeded bootstrap interval of the
mean difference excludes zero: two views of the same question that must agree. With more
than two groups every variant is compared with the baseline and p-values are Holm-adjusted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from hafs_cli.quality import stats

METRICS = ("composite", "diversity", "kg", "halluc", "coherence")


@dataclass
class Observation:
    group: str
    pair_key: str | None
    metrics: dict[str, float | None]
    passed: bool


@dataclass
class Settings:
    seed: int = 0
    resamples: int = 2000
    alpha: float = 0.05
    test: str = "wilcoxon"  # or "permutation"
    permutations: int = 5000
    min_pairs: int = 5


@dataclass
class Comparison:
    metric: str
    design: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    difference: float
    ci: tuple[float, float]
    p_value: float
    sd_difference: float
    p_adjusted: float | None = None
    significant: bool = False
    extra: dict = field(default_factory=dict)


def _pairs(a: list[Observation], b: list[Observation], metric: str) -> list[tuple[float, float]]:
    """Per-item means of each arm, for items present in both arms (sorted by key)."""

    def by_key(obs: list[Observation]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for o in obs:
            v = o.metrics.get(metric)
            if o.pair_key is not None and v is not None:
                out.setdefault(o.pair_key, []).append(v)
        return out

    ka, kb = by_key(a), by_key(b)
    return [(stats.mean(ka[k]), stats.mean(kb[k])) for k in sorted(ka.keys() & kb.keys())]


def paired_comparison(
    diffs: list[float], settings: Settings, seed: int
) -> tuple[tuple[float, float], float]:
    """(bootstrap CI of the mean difference, two-sided p) for paired differences."""
    ci = stats.bootstrap_mean_ci(diffs, seed, settings.resamples)
    if settings.test == "permutation":
        p = stats.permutation_paired(diffs, seed + 1, settings.permutations)
    else:
        p = stats.wilcoxon(diffs)[1]
    return ci, p


def compare(
    a: list[Observation], b: list[Observation], metric: str, settings: Settings, seed: int
) -> Comparison | None:
    """Compare one metric between arms; paired when enough items appear in both."""
    pairs = _pairs(a, b, metric)
    # Sorted, so the resampling draws do not depend on the order the records came in.
    va = sorted(o.metrics[metric] for o in a if o.metrics.get(metric) is not None)
    vb = sorted(o.metrics[metric] for o in b if o.metrics.get(metric) is not None)
    if not va or not vb:
        return None
    if len(pairs) >= settings.min_pairs and len(pairs) * 2 >= min(len(va), len(vb)):
        diffs = [y - x for x, y in pairs]
        ci, p = paired_comparison(diffs, settings, seed)
        return Comparison(
            metric=metric,
            design="paired",
            n_a=len(pairs),
            n_b=len(pairs),
            mean_a=stats.mean([x for x, _ in pairs]),
            mean_b=stats.mean([y for _, y in pairs]),
            difference=stats.mean(diffs),
            ci=ci,
            p_value=p,
            sd_difference=stats.stdev(diffs),
            extra={"n_pairs": len(pairs), "unpaired_dropped": len(va) + len(vb) - 2 * len(pairs)},
        )
    ci = stats.bootstrap_diff_ci(va, vb, seed, settings.resamples)
    if settings.test == "permutation":
        p = stats.permutation_unpaired(va, vb, seed + 1, settings.permutations)
    else:
        p = stats.mann_whitney(va, vb)[1]
    sd = math.sqrt(stats.stdev(va) ** 2 / len(va) + stats.stdev(vb) ** 2 / len(vb))
    return Comparison(
        metric=metric,
        design="unpaired",
        n_a=len(va),
        n_b=len(vb),
        mean_a=stats.mean(va),
        mean_b=stats.mean(vb),
        difference=stats.mean(vb) - stats.mean(va),
        ci=ci,
        p_value=p,
        sd_difference=sd * math.sqrt(min(len(va), len(vb))),
        extra={"n_pairs": len(pairs)},
    )


def is_significant(ci: tuple[float, float], p: float, alpha: float) -> bool:
    return p < alpha and (ci[0] > 0 or ci[1] < 0)


def verdict(c: Comparison, a: str, b: str, alpha: float) -> str:
    n = f"n = {c.n_a} pairs" if c.design == "paired" else f"n = {c.n_a} vs {c.n_b}"
    p = c.p_adjusted if c.p_adjusted is not None else c.p_value
    detail = (
        f"mean {c.metric} {c.mean_a:.4f} vs {c.mean_b:.4f}, difference {c.difference:+.4f}, "
        f"95% CI {c.ci[0]:+.4f} to {c.ci[1]:+.4f}, p = {p:.3g}"
    )
    if c.significant:
        better = b if c.difference > 0 else a
        return f"{better} is better on {c.metric} at {n} ({detail})"
    if min(c.n_a, c.n_b) < 2:
        return (
            f"cannot tell at {n}: too few samples to estimate the spread ({detail}); "
            "score at least 20 per group"
        )
    # sd_difference is scaled to the smaller group (unpaired) or the pairs (paired)
    mde = 2.8 * c.sd_difference / math.sqrt(min(c.n_a, c.n_b))
    if mde == 0:
        return f"no difference at {n} ({detail}); every value is the same"
    return (
        f"no significant difference at {n} ({detail}); a difference of about {mde:.3f} "
        f"would be needed to see one reliably at this size"
    )


def analyse(
    observations: Iterable[Observation],
    settings: Settings,
    baseline: str | None = None,
    metrics: tuple[str, ...] = METRICS,
) -> list[dict]:
    """One result per variant against the baseline group (the first group in sort order)."""
    groups: dict[str, list[Observation]] = {}
    for o in observations:
        groups.setdefault(o.group, []).append(o)
    names = sorted(groups)
    if len(names) < 2:
        return []
    base = baseline if baseline is not None else names[0]
    variants = [g for g in names if g != base]
    results = []
    for idx, variant in enumerate(variants):
        comps = {}
        for m_idx, metric in enumerate(metrics):
            c = compare(
                groups[base],
                groups[variant],
                metric,
                settings,
                settings.seed + 7919 * idx + 104729 * m_idx,
            )
            if c is not None:
                comps[metric] = c
        results.append((variant, comps))
    if len(variants) > 1:
        for metric in metrics:
            present = [
                (i, comps[metric]) for i, (_, comps) in enumerate(results) if metric in comps
            ]
            adjusted = stats.holm([c.p_value for _, c in present])
            for (_, c), adj in zip(present, adjusted, strict=True):
                c.p_adjusted = adj
    out = []
    for variant, comps in results:
        for c in comps.values():
            p = c.p_adjusted if c.p_adjusted is not None else c.p_value
            c.significant = is_significant(c.ci, p, settings.alpha)
        head = comps.get("composite") or next(iter(comps.values()), None)
        if head is None:
            continue
        pa = _pass_rate(groups[base])
        pb = _pass_rate(groups[variant])
        out.append(
            {
                "baseline": base,
                "variant": variant,
                "metric": head.metric,
                "design": head.design,
                "n_baseline": len(groups[base]),
                "n_variant": len(groups[variant]),
                **head.extra,
                "mean_baseline": round(head.mean_a, 4),
                "mean_variant": round(head.mean_b, 4),
                "difference": round(head.difference, 4),
                "ci": [round(head.ci[0], 4), round(head.ci[1], 4)],
                "ci_level": 0.95,
                "test": settings.test if head.design == "paired" else _unpaired_name(settings),
                "p_value": round(head.p_value, 6),
                "p_adjusted": None if head.p_adjusted is None else round(head.p_adjusted, 6),
                "alpha": settings.alpha,
                "significant": head.significant,
                "verdict": verdict(head, base, variant, settings.alpha),
                "pass_rate_baseline": round(pa, 4),
                "pass_rate_variant": round(pb, 4),
                "components": {
                    m: {
                        "difference": round(c.difference, 4),
                        "ci": [round(c.ci[0], 4), round(c.ci[1], 4)],
                        "p_value": round(
                            c.p_adjusted if c.p_adjusted is not None else c.p_value, 6
                        ),
                        "significant": c.significant,
                    }
                    for m, c in comps.items()
                    if m != head.metric
                },
                "seed": settings.seed,
                "resamples": settings.resamples,
            }
        )
    return out


def _unpaired_name(settings: Settings) -> str:
    return "permutation" if settings.test == "permutation" else "mann-whitney"


def _pass_rate(obs: list[Observation]) -> float:
    return sum(o.passed for o in obs) / len(obs) if obs else 0.0
