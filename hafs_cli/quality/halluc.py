"""Grounding (kg) and hallucination risk of one sample.

Grounding asks whether the entities an explanation names exist (in the knowledge graph
or the routine's own code) and whether name<->address pairs agree. Risk combines the
independent pieces of evidence as 1 - prod(1 - weight): invalid code, invented
instructions, contradictions with the routine (JSR/JSL, RTS/RTL, register width, bank),
instructions the routine does not contain, ungrounded entities, wrong addresses, hedges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hafs_cli.quality import rom
from hafs_cli.quality.hwregs import REGISTERS
from hafs_cli.quality.kg import KnowledgeGraph, address_grounded
from hafs_cli.quality.text import CodeFacts, ProseFacts

# Weight of one piece of evidence (probability-like; combined as 1 - prod(1 - w)).
WEIGHTS = {
    "invalid_code": 0.5,
    "unknown_instruction": 0.5,
    "contradiction": 0.5,
    "name_address_mismatch": 0.5,
    "ungrounded_entity": 0.35,
    "unrelated_routine": 0.35,
    "absent_instruction": 0.3,
    "hedging": 0.1,
}
MAX_PER_KIND = {"hedging": 3, "invalid_code": 3, "ungrounded_entity": 4}
_PAIRS = (("JSR", "JSL"), ("RTS", "RTL"), ("JMP", "JML"))

CodeValidator = Callable[[str], list[dict] | None]  # None: could not check


@dataclass
class Assessment:
    kg: float | None
    risk: float
    evidence: list[dict] = field(default_factory=list)
    mentioned: int = 0
    grounded: int = 0
    code_checked: bool = False


def _ground(
    prose: ProseFacts, code: CodeFacts | None, graph: KnowledgeGraph | None, mapper: str
) -> tuple[int, int, list[dict]]:
    """(checked, grounded, evidence) for every entity the prose names."""
    in_code = set()
    code_addrs: set[int] = set()
    if code is not None:
        in_code = {lbl.lstrip(".") for lbl in code.labels} | {s.lstrip("!") for s in code.symbols}
        code_addrs = set(code.addresses)
        if code.annotated_address is not None:
            code_addrs.add(code.annotated_address)
    constants = code.constants if code is not None else set()
    checked = grounded = 0
    evidence: list[dict] = []
    seen: set[str] = set()
    for men in prose.mentions:
        if men.text in seen:
            continue
        seen.add(men.text)
        if men.kind == "register":
            ok, known = True, True
        elif men.kind == "address":
            addr = men.address or 0
            in_routine = any(
                rom.same_location(addr, a, mapper) or (men.width == 2 and a & 0xFFFF == addr)
                for a in code_addrs
            ) or (men.width == 2 and addr in constants)  # a value the code loads (#$01FF)
            known = graph is not None or in_routine
            ok = in_routine or (graph is not None and address_grounded(graph, addr, men.width))
        else:
            name = men.name or men.text
            in_routine = name in in_code
            known = graph is not None or in_routine
            ok = in_routine or (graph is not None and graph.lookup(name) is not None)
        if not known:
            continue
        checked += 1
        if ok:
            grounded += 1
        else:
            evidence.append(
                {
                    "rule": "ungrounded_entity",
                    "message": f"{men.text} is not defined in the source tree or the routine",
                    "entity": men.text,
                    "entity_kind": men.kind,
                }
            )
    if graph is not None:
        evidence.extend(_pair_mismatches(prose, graph, mapper))
    return checked, grounded, evidence


def _pair_mismatches(prose: ProseFacts, graph: KnowledgeGraph, mapper: str) -> list[dict]:
    out = []
    for name_men, addr_men in prose.pairs:
        name = name_men.name or name_men.text
        if name in REGISTERS:
            expected = REGISTERS[name]
        else:
            sym = graph.lookup(name)
            if sym is None or sym.address is None:
                continue
            expected = sym.address
        said = addr_men.address or 0
        if addr_men.width == 2:
            agree = said == expected & 0xFFFF
        else:
            agree = rom.same_location(said, expected, mapper)
        if not agree:
            out.append(
                {
                    "rule": "name_address_mismatch",
                    "message": f"text puts {name} at {addr_men.text}; the source has {rom.fmt(expected)}",
                    "entity": name,
                    "said": addr_men.text,
                    "expected": rom.fmt(expected),
                }
            )
    return out


def _call_claims(prose: ProseFacts, code: CodeFacts, routine: str | None) -> list[dict]:
    """'calls X with JSL' against the code: wrong mnemonic for X, or X never called.

    Only explicit call claims count: naming a caller, a table entry or the routine
    itself is fine.
    """
    out = []
    actual: dict[str, set[str]] = {}
    for mn, target in code.call_pairs:
        actual.setdefault(target, set()).add(mn)
    referenced = set(code.symbols) | {lbl.lstrip(".") for lbl in code.labels} | {routine}
    for said, target in prose.calls:
        used = actual.get(target)
        if used:
            if said not in used:
                out.append(
                    {
                        "rule": "contradiction",
                        "message": f"text says {said} {target}; the routine uses {'/'.join(sorted(used))} {target}",
                        "claim": f"{said} {target}",
                        "actual": f"{'/'.join(sorted(used))} {target}",
                    }
                )
        elif target not in referenced and code.call_pairs:
            out.append(
                {
                    "rule": "unrelated_routine",
                    "message": f"text says the routine calls {target}; it calls "
                    + (", ".join(t for _, t in code.call_pairs) or "nothing"),
                    "entity": target,
                }
            )
    return out


def _contradictions(
    prose: ProseFacts, code: CodeFacts, bank: int | None, routine: str | None
) -> list[dict]:
    out = []
    used = code.mnemonics
    claimed_calls = {mn for mn, _ in prose.calls}
    for a, b in _PAIRS:
        for said, actual in ((a, b), (b, a)):
            if said in claimed_calls:
                continue  # judged per call target by _call_claims
            if said in prose.mnemonics and not used[said] and used[actual]:
                out.append(
                    {
                        "rule": "contradiction",
                        "message": f"text says {said} where the routine uses {actual}",
                        "claim": said,
                        "actual": actual,
                    }
                )
    paired = {m for pair in _PAIRS for m in pair}
    for mn in sorted(prose.mnemonics - paired):
        if not used[mn] and code.instructions >= 3:
            out.append(
                {
                    "rule": "absent_instruction",
                    "message": f"text mentions {mn}, which the routine does not contain",
                    "claim": mn,
                }
            )
    for reg, name in (("a", "accumulator"), ("x", "index registers")):
        said, actual = prose.widths[reg], code.widths[reg]
        if said and actual and not (said & actual):
            out.append(
                {
                    "rule": "contradiction",
                    "message": f"text says {'/'.join(map(str, sorted(said)))}-bit {name}; "
                    f"the routine sets {'/'.join(map(str, sorted(actual)))}-bit",
                    "claim": f"{reg}{min(said)}",
                    "actual": f"{reg}{min(actual)}",
                }
            )
    if bank is not None:
        code_banks = {a >> 16 for a in code.addresses if a > 0xFFFF}
        for claimed, subject in sorted(prose.banks, key=lambda b: (b[0], b[1] or "")):
            if subject is not None and subject != routine:
                continue  # "calls Foo in bank $0D" is about Foo
            if claimed in (0x7E, 0x7F) or claimed == bank or claimed in code_banks:
                continue
            if (claimed ^ bank) == 0x80:  # LoROM mirror: same bank
                continue
            out.append(
                {
                    "rule": "contradiction",
                    "message": f"text places the routine in bank ${claimed:02X}; it is in bank ${bank:02X}",
                    "claim": f"${claimed:02X}",
                    "actual": f"${bank:02X}",
                }
            )
    return out


def assess(
    prose: ProseFacts,
    code: CodeFacts | None,
    code_texts: list[str],
    graph: KnowledgeGraph | None,
    bank: int | None,
    mapper: str = "lorom",
    validator: CodeValidator | None = None,
    routine: str | None = None,
) -> Assessment:
    """Grounding share and hallucination risk, with every piece of evidence."""
    checked, grounded, evidence = _ground(prose, code, graph, mapper)
    for word in prose.invented:
        evidence.append(
            {
                "rule": "unknown_instruction",
                "message": f"{word} is not a 65816 instruction",
                "claim": word,
            }
        )
    if code is not None:
        evidence.extend(_contradictions(prose, code, bank, routine))
        evidence.extend(_call_claims(prose, code, routine))
    code_checked = False
    if validator is not None:
        for text in code_texts:
            if not text.strip():
                continue
            diags = validator(text)
            if diags is None:  # the validator could not check this code
                continue
            code_checked = True
            for diag in diags:
                evidence.append(
                    {
                        "rule": "invalid_code",
                        "message": diag.get("message", "invalid code"),
                        "code": diag.get("code"),
                        "line": diag.get("line"),
                    }
                )
    for hedge in prose.hedges:
        evidence.append(
            {"rule": "hedging", "message": f"hedging phrase '{hedge}'", "phrase": hedge}
        )
    return Assessment(
        kg=(grounded / checked) if checked else None,
        risk=combine_risk(evidence),
        evidence=evidence,
        mentioned=checked,
        grounded=grounded,
        code_checked=code_checked,
    )


def combine_risk(evidence: list[dict]) -> float:
    keep = 1.0
    counts: dict[str, int] = {}
    for item in evidence:
        rule = item["rule"]
        counts[rule] = counts.get(rule, 0) + 1
        if counts[rule] > MAX_PER_KIND.get(rule, 99):
            continue
        keep *= 1.0 - WEIGHTS.get(rule, 0.0)
    return 1.0 - keep
