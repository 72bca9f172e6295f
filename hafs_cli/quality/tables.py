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
