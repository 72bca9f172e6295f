"""Domain policies (thresholds, weights, enabled rules), the composite and failed rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hafs_cli.quality.scoring import Partial

COMPONENTS = ("diversity", "kg", "halluc", "coherence")
RULES = (
    "composite",
    "near_duplicate",
    "invalid_code",
    "unknown_instruction",
    "contradiction",
    "name_address_mismatch",
    "halluc_risk",
    "kg",
    "too_short",
    "too_long",
    "repetition",
)
EVIDENCE_RULES = ("invalid_code", "unknown_instruction", "contradiction", "name_address_mismatch")
POLICY_KEYS = (
    "threshold",
    "weights",
    "dup_threshold",
    "min_words",
    "max_words",
    "max_halluc_risk",
    "max_repetition",
    "min_kg",
    "rules",
    "use_graph",
)


@dataclass(frozen=True)
class Policy:
    """The thresholds and weights one domain is judged by."""

    threshold: float
    weights: dict[str, float]
    dup_threshold: float
    min_words: int
    max_words: int
    max_halluc_risk: float
    max_repetition: float
    min_kg: float
    rules: frozenset[str]
    use_graph: bool = True


def policy_for(section: dict, domain: str) -> Policy:
    """[score] values overridden by [score.domains.DOMAIN] (keys left unset inherit)."""
    merged = {k: section.get(k) for k in POLICY_KEYS}
    override = (section.get("domains") or {}).get(domain) or {}
    for key, value in override.items():
        if value is None:
            continue
        if key == "weights":
            merged["weights"] = {**(merged["weights"] or {}), **value}
        else:
            merged[key] = value
    from hafs_cli.exits import HafsError

    where = f"[score] or [score.domains.{domain}]"
    odd = set(merged["weights"] or {}) - set(COMPONENTS)
    if odd:
        raise HafsError(
            f"unknown component(s) {', '.join(sorted(odd))} in the weights of {where}; "
            f"components: {', '.join(COMPONENTS)}"
        )
    weights = {c: float((merged["weights"] or {}).get(c, 0.0)) for c in COMPONENTS}
    if sum(weights.values()) <= 0:
        raise HafsError(
            f"the weights of {where} are all 0, so every composite would be 0 and every "
            "sample would fail; give at least one component a positive weight"
        )
    unknown = set(merged["rules"] or ()) - set(RULES)
    if unknown:
        raise HafsError(
            f"unknown score rule(s) {', '.join(sorted(unknown))} in {where}; "
            f"known rules: {', '.join(RULES)}"
        )
    return Policy(
        threshold=float(merged["threshold"]),
        weights=weights,
        dup_threshold=float(merged["dup_threshold"]),
        min_words=int(merged["min_words"]),
        max_words=int(merged["max_words"]),
        max_halluc_risk=float(merged["max_halluc_risk"]),
        max_repetition=float(merged["max_repetition"]),
        min_kg=float(merged["min_kg"]),
        rules=frozenset(merged["rules"] or ()) | {"composite"},
        use_graph=merged["use_graph"] is not False,
    )


def composite(components: dict[str, float | None], weights: dict[str, float]) -> float:
    """Weighted mean over the components that could be measured (weights renormalised)."""
    total = sum(weights[c] for c, v in components.items() if v is not None)
    if total <= 0:
        return 0.0
    return sum(weights[c] * v for c, v in components.items() if v is not None) / total


def failed_rules(
    p: Partial,
    policy: Policy,
    components: dict[str, float | None],
    composite: float,
    penalty: float,
    dup_of: dict | None,
) -> list[dict]:
    on = policy.rules
    reasons: list[dict] = []
    if round(composite, 4) < policy.threshold:
        reasons.append(
            {
                "rule": "composite",
                "message": f"composite {composite:.4f} is below the {p.domain} threshold {policy.threshold}",
                "value": round(composite, 4),
                "limit": policy.threshold,
            }
        )
    if "near_duplicate" in on and dup_of is not None and penalty >= policy.dup_threshold:
        what = "reference sample" if dup_of["reference"] else "sample"
        reasons.append(
            {
                "rule": "near_duplicate",
                "message": f"{penalty:.0%} word-shingle overlap with {what} {dup_of['sample_id']}",
                "value": round(penalty, 4),
                "limit": policy.dup_threshold,
                "duplicate_of": dup_of["sample_id"],
                "reference": dup_of["reference"],
            }
        )
    for item in p.evidence:
        if item["rule"] in EVIDENCE_RULES and item["rule"] in on:
            reasons.append(item)
    if "halluc_risk" in on and p.risk > policy.max_halluc_risk:
        reasons.append(
            {
                "rule": "halluc_risk",
                "message": f"hallucination risk {p.risk:.2f} is above {policy.max_halluc_risk}",
                "value": round(p.risk, 4),
                "limit": policy.max_halluc_risk,
            }
        )
    kg = components["kg"]
    if "kg" in on and kg is not None and kg < policy.min_kg:
        reasons.append(
            {
                "rule": "kg",
                "message": f"only {kg:.0%} of the named entities exist in the source tree",
                "value": round(kg, 4),
                "limit": policy.min_kg,
            }
        )
    if "too_short" in on and p.words < policy.min_words:
        reasons.append(
            {
                "rule": "too_short",
                "message": f"{p.words} words; at least {policy.min_words} expected",
                "value": p.words,
                "limit": policy.min_words,
            }
        )
    if "too_long" in on and policy.max_words and p.words > policy.max_words:
        reasons.append(
            {
                "rule": "too_long",
                "message": f"{p.words} words; at most {policy.max_words} expected",
                "value": p.words,
                "limit": policy.max_words,
            }
        )
    if "repetition" in on and p.repetition > policy.max_repetition:
        reasons.append(
            {
                "rule": "repetition",
                "message": f"{p.repetition:.0%} of word trigrams repeat (degenerate text)",
                "value": round(p.repetition, 4),
                "limit": policy.max_repetition,
            }
        )
    return reasons
