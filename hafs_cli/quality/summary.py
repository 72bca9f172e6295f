"""Summaries of score records: pass rate, distributions, slices, correlations."""

from __future__ import annotations

from collections.abc import Iterable

from hafs_cli.quality import stats

FIELDS = ("composite", "diversity", "kg", "halluc", "coherence", "halluc_risk")
BINS = 10


def score_values(rec: dict) -> dict[str, float | None]:
    """composite, each component and halluc_risk of one score record."""
    comps = rec.get("components") or {}
    out: dict[str, float | None] = {"composite": rec.get("composite")}
    for name in ("diversity", "kg", "halluc", "coherence"):
        out[name] = comps.get(name)
    out["halluc_risk"] = rec.get("halluc_risk")
    return {
        k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None)
        for k, v in out.items()
    }


def describe(values: list[float]) -> dict:
    xs = sorted(values)
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "mean": round(stats.mean(xs), 4),
        "sd": round(stats.stdev(xs), 4),
        "min": round(xs[0], 4),
        "p10": round(stats.quantile(xs, 0.10), 4),
        "p25": round(stats.quantile(xs, 0.25), 4),
        "median": round(stats.quantile(xs, 0.5), 4),
        "p75": round(stats.quantile(xs, 0.75), 4),
        "p90": round(stats.quantile(xs, 0.90), 4),
        "max": round(xs[-1], 4),
        "histogram": stats.histogram(xs, BINS),
    }


def _slice(recs: list[dict]) -> dict:
    """n, pass rate, mean composite and mean of each component of one slice."""
    cols: dict[str, list[float]] = {f: [] for f in FIELDS}
    for r in recs:
        for f, v in score_values(r).items():
            if v is not None:
                cols[f].append(v)
    means = {f: (round(stats.mean(v), 4) if v else None) for f, v in cols.items()}
    return {
        "n": len(recs),
        "pass_rate": round(sum(bool(r.get("pass")) for r in recs) / len(recs), 4),
        "mean_composite": means.pop("composite"),
        "means": means,
    }


def summarise(scores: Iterable[dict], labels: dict[str, float] | None = None) -> dict:
    """A `score_summary` record (labels: sample_id -> human label, joined when given)."""
    recs = sorted(scores, key=lambda r: (str(r.get("sample_id")), str(r.get("domain"))))
    labels = labels or {}
    n = len(recs)
    values = {f: [] for f in FIELDS}
    by_domain: dict[str, list[dict]] = {}
    by_bank: dict[str, list[dict]] = {}
    by_phase: dict[str, list[dict]] = {}
    reasons: dict[str, int] = {}
    paired: dict[str, list[tuple[float, float]]] = {f: [] for f in FIELDS if f != "composite"}
    human: dict[str, list[tuple[float, float]]] = {f: [] for f in FIELDS}
    for r in recs:
        v = score_values(r)
        for f, x in v.items():
            if x is not None:
                values[f].append(x)
                if f != "composite" and v["composite"] is not None:
                    paired[f].append((x, v["composite"]))
        label = r.get("human_label", labels.get(str(r.get("sample_id"))))
        if isinstance(label, int | float) and not isinstance(label, bool):
            for f, x in v.items():
                if x is not None:
                    human[f].append((x, float(label)))
        by_domain.setdefault(str(r.get("domain")), []).append(r)
        by_bank.setdefault(r.get("bank") or "unknown", []).append(r)
        phase = (r.get("complexity") or {}).get("phase") or "unknown"
        by_phase.setdefault(phase, []).append(r)
        for rule in sorted({x.get("rule") for x in r.get("reasons") or [] if isinstance(x, dict)}):
            reasons[str(rule)] = reasons.get(str(rule), 0) + 1
    passed = sum(bool(r.get("pass")) for r in recs)
    correlations = {}
    for f in FIELDS:
        entry = {}
        if f != "composite":
            pts = paired[f]
            rho = stats.spearman([a for a, _ in pts], [b for _, b in pts]) if pts else None
            entry["composite"] = None if rho is None else round(rho, 4)
        pts = human[f]
        rho = stats.spearman([a for a, _ in pts], [b for _, b in pts]) if pts else None
        entry["human_label"] = None if rho is None else round(rho, 4)
        correlations[f] = entry
    return {
        "kind": "score_summary",
        "n": n,
        "passed": passed,
        "pass_rate": round(passed / n, 4) if n else None,
        "distributions": {f: describe(values[f]) for f in FIELDS},
        "by_domain": {k: _slice(v) for k, v in sorted(by_domain.items())},
        "by_bank": {k: _slice(v) for k, v in sorted(by_bank.items())},
        "by_phase": {k: _slice(v) for k, v in sorted(by_phase.items())},
        "rejections": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "spearman": correlations,
        "human_labels": len(human["composite"]),
    }
