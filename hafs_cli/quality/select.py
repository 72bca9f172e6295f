"""Pareto selection over quality objectives, with a stable tie-break and curriculum phases."""

from __future__ import annotations

from collections import Counter
from operator import ge

OBJECTIVES = ("quality", "diversity", "novelty", "coverage")
PHASES = ("easy", "moderate", "advanced")


def objectives(rec: dict, bank_share: dict[str, float]) -> dict[str, float]:
    comps = rec.get("components") or {}
    nearest = rec.get("nearest") or {}
    return {
        "quality": float(rec.get("composite") or 0.0),
        "diversity": float(comps.get("diversity") or 0.0),
        "novelty": 1.0 - float(nearest.get("similarity") or 0.0),
        "coverage": 1.0 - bank_share[rec.get("bank") or "unknown"],
    }


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """a is at least as good everywhere and better somewhere."""
    return a != b and all(map(ge, a, b))


def pareto_fronts(points: list[tuple[tuple[float, ...], str]], limit: int | None = None):
    """Yield fronts (lists of ids) best first; stop once `limit` ids were yielded.

    Points sorted lexicographically descending can only be dominated by earlier ones,
    and (dominance is transitive) only checking the current front is enough.
    """
    remaining = sorted(points, key=lambda p: (tuple(-x for x in p[0]), p[1]))
    yielded = 0
    while remaining and (limit is None or yielded < limit):
        front: list[tuple[tuple[float, ...], str]] = []
        values: list[tuple[float, ...]] = []
        rest = []
        for p in remaining:
            v = p[0]
            if any(q != v and all(map(ge, q, v)) for q in values):
                rest.append(p)
            else:
                front.append(p)
                values.append(v)
        yield [pid for _, pid in front]
        yielded += len(front)
        remaining = rest


def select(
    scores: list[dict],
    chosen: tuple[str, ...] = OBJECTIVES,
    count: int | None = None,
    include_failed: bool = False,
) -> list[dict]:
    """`selection` records for the chosen samples, in curriculum order (easy first).

    count None: the first front only (every sample no other sample beats on all objectives).
    """
    pool = [r for r in scores if include_failed or r.get("pass")]
    banks = Counter(r.get("bank") or "unknown" for r in pool)
    share = {b: c / len(pool) for b, c in banks.items()} if pool else {}
    by_id = {}
    points = []
    for r in sorted(pool, key=lambda r: str(r.get("sample_id"))):
        sid = str(r.get("sample_id"))
        obj = objectives(r, share)
        by_id[sid] = (r, obj)
        points.append((tuple(round(obj[o], 6) for o in chosen), sid))
    picked: list[tuple[int, str]] = []
    for front_no, front in enumerate(pareto_fronts(points, count or 1), 1):
        # Inside a front: higher quality first, then sample_id (stable across runs).
        front.sort(key=lambda sid: (-by_id[sid][1]["quality"], sid))
        for sid in front:
            if count is not None and len(picked) >= count:
                break
            picked.append((front_no, sid))
    out = []
    for rank, (front_no, sid) in enumerate(picked, 1):
        rec, obj = by_id[sid]
        phase = (rec.get("complexity") or {}).get("phase")
        out.append(
            {
                "kind": "selection",
                "sample_id": sid,
                "rank": rank,
                "front": front_no,
                "phase": phase,
                "bank": rec.get("bank"),
                "objectives": {o: round(obj[o], 4) for o in chosen},
            }
        )
    order = {p: i for i, p in enumerate(PHASES)}
    out.sort(key=lambda s: (order.get(s["phase"], len(PHASES)), s["rank"]))
    for i, s in enumerate(out, 1):
        s["curriculum_position"] = i
    return out
