"""Checkpoint gate: has quality fallen against a baseline run?"""

from __future__ import annotations

from hafs_cli.quality import stats
from hafs_cli.quality.summary import score_values

METRICS = ("composite", "diversity", "kg", "halluc", "coherence")


def run_figures(scores: list[dict]) -> dict:
    """Mean composite, pass rate and component means of a list of score records."""
    out: dict = {"n": len(scores)}
    out["pass_rate"] = (
        round(sum(bool(r.get("pass")) for r in scores) / len(scores), 4) if scores else None
    )
    cols: dict[str, list[float]] = {m: [] for m in METRICS}
    for r in scores:
        for m, v in score_values(r).items():
            if m in cols and v is not None:
                cols[m].append(v)
    out["means"] = {m: (round(stats.mean(v), 4) if v else None) for m, v in cols.items()}
    return out


def figures_from_summary(summary: dict) -> dict:
    dists = summary.get("distributions") or {}
    return {
        "n": summary.get("n"),
        "pass_rate": summary.get("pass_rate"),
        "means": {m: (dists.get(m) or {}).get("mean") for m in METRICS},
    }


def _fall(base: float | None, cur: float | None) -> float | None:
    """Relative fall (positive = worse); None when it cannot be computed."""
    if base is None or cur is None:
        return None
    if base == 0:
        return 0.0 if cur >= 0 else 1.0
    return (base - cur) / abs(base)


def compare(baseline: dict, current: dict, max_drop: float) -> dict:
    """A `gate_result` record: pass/fail and what fell."""
    checks = {
        "mean_composite": (baseline["means"]["composite"], current["means"]["composite"]),
        "pass_rate": (baseline["pass_rate"], current["pass_rate"]),
    }
    changes = {}
    failed = []
    for name, (b, c) in checks.items():
        fall = _fall(b, c)
        changes[name] = {
            "baseline": b,
            "current": c,
            "relative_fall": None if fall is None else round(fall, 4),
        }
        if fall is not None and fall > max_drop:
            failed.append(name)
    fell = []
    for m in METRICS:
        if m == "composite":
            continue
        b, c = baseline["means"].get(m), current["means"].get(m)
        fall = _fall(b, c)
        changes[m] = {
            "baseline": b,
            "current": c,
            "relative_fall": None if fall is None else round(fall, 4),
        }
        if fall is not None and fall > 0:
            fell.append(
                {"component": m, "relative_fall": round(fall, 4), "beyond_limit": fall > max_drop}
            )
    fell.sort(key=lambda f: (-f["relative_fall"], f["component"]))
    if failed:
        names = ", ".join(f["component"] for f in fell) or "no single component"
        message = (
            f"{' and '.join(x.replace('_', ' ') for x in failed)} fell by more than {max_drop:.0%} "
            f"against the baseline; components that fell: {names}"
        )
    else:
        message = f"no fall beyond {max_drop:.0%} against the baseline"
    return {
        "kind": "gate_result",
        "passed": not failed,
        "max_drop": max_drop,
        "failed": failed,
        "fell": fell,
        "changes": changes,
        "baseline": {"n": baseline["n"]},
        "current": {"n": current["n"]},
        "message": message,
    }
