"""Terminal tables for people: the score summary as several small tables."""

from __future__ import annotations

from typing import Any


def _num(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def render_summary(rows: list[dict]):
    """A rich renderable for score_summary records (other records as a plain table)."""
    from rich.console import Group
    from rich.table import Table

    parts = []
    for s in rows:
        if s.get("kind") != "score_summary":
            continue
        head = Table(title="score summary", title_justify="left")
        for col in ("samples", "passed", "pass rate", "human labels"):
            head.add_column(col, justify="right")
        head.add_row(
            str(s["n"]), str(s["passed"]), _num(s["pass_rate"]), str(s.get("human_labels", 0))
        )
        parts.append(head)
        dist = Table(title="components", title_justify="left")
        for col in ("", "mean", "sd", "p10", "median", "p90", "ρ composite", "ρ human"):
            dist.add_column(col, justify="right")
        for name, d in s["distributions"].items():
            rho = s["spearman"].get(name, {})
            dist.add_row(
                name,
                *(_num(d.get(k)) for k in ("mean", "sd", "p10", "median", "p90")),
                _num(rho.get("composite")),
                _num(rho.get("human_label")),
            )
        parts.append(dist)
        for title, key in (
            ("by domain", "by_domain"),
            ("by bank", "by_bank"),
            ("by phase", "by_phase"),
        ):
            t = Table(title=title, title_justify="left")
            for col in (
                "",
                "n",
                "pass rate",
                "composite",
                "diversity",
                "kg",
                "halluc",
                "coherence",
            ):
                t.add_column(col, justify="right")
            for name, sl in s.get(key, {}).items():
                means = sl.get("means") or {}
                t.add_row(
                    name,
                    str(sl["n"]),
                    _num(sl["pass_rate"]),
                    _num(sl.get("mean_composite")),
                    *(_num(means.get(c)) for c in ("diversity", "kg", "halluc", "coherence")),
                )
            parts.append(t)
        rej = Table(title="rejections (samples failing each rule)", title_justify="left")
        rej.add_column("rule")
        rej.add_column("samples", justify="right")
        for rule, n in s["rejections"].items():
            rej.add_row(rule, str(n))
        parts.append(rej)
    return Group(*parts)


def render_ab(rows: list[dict]):
    """ab_result records: one line per comparison, component deltas, the verdicts in full."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    results = [r for r in rows if r.get("kind") == "ab_result"]
    main = Table(title="A/B", title_justify="left")
    for col in (
        "baseline",
        "variant",
        "design",
        "n",
        "baseline mean",
        "variant mean",
        "difference",
        "95% CI",
        "p",
        "significant",
    ):
        main.add_column(
            col, justify="right" if col not in ("baseline", "variant", "design") else "left"
        )
    comps = Table(title="per component (variant − baseline)", title_justify="left")
    for col in ("variant", "component", "difference", "95% CI", "p", "significant"):
        comps.add_column(col)
    for r in results:
        n = (
            str(r.get("n_pairs")) + " pairs"
            if r["design"] == "paired"
            else f"{r['n_baseline']}/{r['n_variant']}"
        )
        p = r["p_adjusted"] if r.get("p_adjusted") is not None else r["p_value"]
        main.add_row(
            r["baseline"],
            r["variant"],
            r["design"],
            n,
            _num(r["mean_baseline"]),
            _num(r["mean_variant"]),
            f"{r['difference']:+.4f}",
            f"{r['ci'][0]:+.4f} … {r['ci'][1]:+.4f}",
            f"{p:.3g}",
            "yes" if r["significant"] else "no",
        )
        for name, c in r["components"].items():
            comps.add_row(
                r["variant"],
                name,
                f"{c['difference']:+.4f}",
                f"{c['ci'][0]:+.4f} … {c['ci'][1]:+.4f}",
                f"{c['p_value']:.3g}",
                "yes" if c["significant"] else "no",
            )
    verdicts = [Text(f"{r['variant']} vs {r['baseline']}: {r['verdict']}") for r in results]
    return Group(main, comps, *verdicts)
