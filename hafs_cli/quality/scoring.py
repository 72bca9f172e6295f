"""The score run: per-sample components in one streaming pass, diversity at the end.

Pass one keeps only what diversity needs (shingle hashes, LSH keys) and the finished
per-sample results; the end sorts by sample_id, so output never depends on input order.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from typing import Any

from hafs_cli.quality import coherence, halluc, minhash, rom
from hafs_cli.quality.kg import KnowledgeGraph
from hafs_cli.quality.policy import COMPONENTS, RULES, Policy, composite, failed_rules, policy_for
from hafs_cli.quality.samples import Sample, SampleError, derived_id, human_label, normalise
from hafs_cli.quality.text import CodeFacts, code_facts, prose_facts

_BANK_FILE = re.compile(r"(?i)\bbank_?([0-9a-f]{2})\b")


@dataclass(slots=True)
class Partial:
    """A sample after pass one: everything but diversity."""

    sample_id: str
    content_id: str
    domain: str
    source: str | None
    routine: str | None
    bank: str | None
    kg: float | None
    risk: float
    coherence: float
    words: int
    repetition: float
    evidence: list[dict]
    entities: dict
    complexity: dict
    label: float | None
    missing: list[str]
    code_checked: bool
    shingles: array = field(repr=False)
    keys: array = field(repr=False)


def _routine_name(sample: Sample) -> str | None:
    rec = sample.record
    for key in ("routine", "label", "function", "symbol"):
        value = rec.get(key)
        if isinstance(value, str) and value:
            return value
    if sample.source and ":" in sample.source:
        tail = sample.source.rsplit(":", 1)[1].strip()
        if tail and (tail[0].isalpha() or tail[0] == "_"):
            return tail
    return None


def _routine_address(sample: Sample, mapper: str) -> int | None:
    rec = sample.record
    for key in ("address", "routine_address", "snes_address"):
        addr = rom.parse_address(rec.get(key))
        if addr is not None:
            return addr
    for key in ("rom_offset", "pc_offset", "file_offset"):
        value = rec.get(key)
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                value = None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return rom.offset_to_address(value, mapper)
    return None


class ScoreRun:
    """Feed samples (and reference samples), then take the score records."""

    def __init__(
        self,
        section: dict,
        graph: KnowledgeGraph | None = None,
        validator: halluc.CodeValidator | None = None,
    ):
        self.section = section
        self.graph = graph
        self.validator = validator
        mapper = section.get("mapper", "auto")
        if mapper == "auto":
            mapper = graph.mapper if graph is not None else "lorom"
        self.mapper = mapper
        self.default_domain = section.get("default_domain", "default")
        self.shingle_size = int(section.get("shingle_size", 3))
        self.bins = int(section.get("sketch_bins", 128))
        self.index = minhash.LSHIndex(self.bins, int(section.get("lsh_bands", 32)))
        self.hasher = minhash.WordHasher()
        self.max_candidates = int(section.get("max_candidates", 16))
        self.crowded = int(section.get("lsh_crowded", 64))
        self._policies: dict[str, Policy] = {}
        self.partials: list[Partial] = []
        self.references: list[tuple[str, array, array]] = []
        self._facts_memo: dict[str, CodeFacts] = {}
        self._valid_memo: dict[str, list[dict] | None] = {}
        self.embedder = None  # set to an embed.Embedder for semantic diversity
        self.texts: dict[str, str] = {}

    def policy(self, domain: str) -> Policy:
        found = self._policies.get(domain)
        if found is None:
            found = self._policies[domain] = policy_for(self.section, domain)
        return found

    def _code_facts(self, text: str) -> CodeFacts:
        """Facts of a routine, memoised: a campaign explains each routine many times."""
        found = self._facts_memo.get(text)
        if found is None:
            found = code_facts(text)
            if len(self._facts_memo) < 100_000:
                self._facts_memo[text] = found
        return found

    def _validate(self, text: str) -> list[dict] | None:
        if text in self._valid_memo:
            return self._valid_memo[text]
        found = self.validator(text) if self.validator else []
        if len(self._valid_memo) < 100_000:
            self._valid_memo[text] = found
        return found

    def _diversity_keys(self, text: str) -> tuple[array, array]:
        sh = minhash.shingles(minhash.normalise_text(text), self.shingle_size, self.hasher)
        return sh, self.index.keys(minhash.sketch(sh, self.bins))

    def add_reference(self, rec: dict) -> None:
        """A sample from an earlier accepted dataset (raises SampleError)."""
        sample = normalise(rec, self.default_domain)
        sh, keys = self._diversity_keys(sample.response)
        self.references.append((sample.sample_id, sh, keys))
        if self.embedder is not None:
            self.texts["ref:" + sample.sample_id] = sample.response

    def _routine(self, sample: Sample, graph: KnowledgeGraph | None):
        """(name, code facts, address) of the routine a sample explains, as far as known.

        Code comes from the prompt, else the graph's body of the named routine, else the
        answer's own code; the address from the sample, else the graph, else a comment.
        """
        routine = _routine_name(sample)
        code = self._code_facts(sample.prompt_code) if sample.prompt_code else None
        if code is not None and routine is None:
            routine = next((lbl for lbl in code.labels if not lbl.startswith(".")), None)
        address = _routine_address(sample, self.mapper)
        if graph is not None and routine is not None:
            sym = graph.lookup(routine)
            if sym is not None and address is None:
                address = sym.address
            if code is None and routine in graph.routines:
                code = self._code_facts(graph.routines[routine])
        if address is None and code is not None:
            address = code.annotated_address
        if code is None and sample.response_code:
            code = self._code_facts(sample.response_code)
        return routine, code, address

    def add(self, rec: dict) -> None:
        """Score one sample record's own components (raises SampleError)."""
        sample = normalise(rec, self.default_domain)
        policy = self.policy(sample.domain)
        graph = self.graph if policy.use_graph else None
        routine, code, address = self._routine(sample, graph)
        bank = rom.bank_of(address, self.mapper)
        if bank is None and sample.source:
            # Last resort: disassemblies name their files by bank (bank_02.asm, bank0D.asm).
            m = _BANK_FILE.search(sample.source)
            if m:
                bank = rom.bank_of(int(m.group(1), 16) << 16 | 0x8000, self.mapper)
        prose = prose_facts(sample.prose)
        assessment = halluc.assess(
            prose,
            code,
            [sample.prompt_code, sample.response_code],
            graph,
            int(bank[1:], 16) if bank else None,
            self.mapper,
            self._validate if self.validator is not None else None,
            routine,
        )
        coh = coherence.assess(
            sample.prose, prose.words, code, routine, policy.min_words, policy.max_words
        )
        sh, keys = self._diversity_keys(sample.response)
        content_id = derived_id(sample.domain, sample.prompt, sample.response)
        if self.embedder is not None:
            self.texts[content_id] = sample.response
        self.partials.append(
            Partial(
                sample_id=sample.sample_id,
                content_id=content_id,
                domain=sample.domain,
                source=sample.source,
                routine=routine,
                bank=bank,
                kg=assessment.kg,
                risk=assessment.risk,
                coherence=coh.score,
                words=coh.words,
                repetition=coh.repetition,
                evidence=assessment.evidence,
                entities={"checked": assessment.mentioned, "grounded": assessment.grounded},
                complexity=coherence.complexity(code),
                label=human_label(sample.record),
                missing=coh.missing,
                code_checked=assessment.code_checked,
                shingles=sh,
                keys=keys,
            )
        )

    # -- the end -----------------------------------------------------------------
    def _unique_ids(self) -> None:
        by_id: dict[str, list[Partial]] = {}
        for p in self.partials:
            by_id.setdefault(p.sample_id, []).append(p)
        for sid, group in by_id.items():
            if len({p.content_id for p in group}) > 1:
                for p in group:
                    p.sample_id = f"{sid}~{p.content_id[2:10]}"
        self.partials.sort(key=lambda p: (p.sample_id, p.content_id))

    def results(self) -> list[dict]:
        """Score records, sorted by sample_id."""
        self._unique_ids()
        items: list[tuple[str, bool, array, array]] = [
            (rid, True, sh, keys) for rid, sh, keys in sorted(self.references, key=lambda r: r[0])
        ]
        items.extend((p.sample_id, False, p.shingles, p.keys) for p in self.partials)
        for i, (_, _, _, keys) in enumerate(items):
            self.index.add(i, keys)
        first_sample = len(self.references)
        semantic = self._semantic(items) if self.embedder is not None else {}
        out = []
        for pos, p in enumerate(self.partials, first_sample):
            nearest, penalty, dup_of = None, 0.0, None
            best: tuple[float, str] | None = None
            own = set(p.shingles)
            for j in self.index.best_candidates(p.keys, self.max_candidates, self.crowded):
                if j == pos:
                    continue
                oid, is_ref, osh, _ = items[j]
                sim = minhash.jaccard_with(own, p.shingles, osh)
                if best is None or (-sim, oid) < best:
                    best = (-sim, oid)
                    nearest = {"sample_id": oid, "similarity": round(sim, 4), "reference": is_ref}
                # Only the copy that sorts later pays: one of a pair of duplicates survives.
                if (is_ref or j < pos) and sim > penalty:
                    penalty, dup_of = sim, {"sample_id": oid, "reference": is_ref}
            rec_extra = {}
            if pos in semantic:
                j, cos, sem_penalty = semantic[pos]
                oid, is_ref = items[j][0], items[j][1]
                rec_extra["semantic_nearest"] = {
                    "sample_id": oid,
                    "cosine": round(cos, 4),
                    "reference": is_ref,
                }
                if (is_ref or j < pos) and sem_penalty > penalty:
                    penalty = sem_penalty
            rec = self._record(p, nearest, penalty, dup_of)
            rec.update(rec_extra)
            out.append(rec)
        return out

    def _semantic(self, items: list) -> dict[int, tuple[int, float, float]]:
        """Position -> (nearest position, cosine, diversity penalty) from embeddings."""
        from hafs_cli.quality import embed

        texts = [self.texts["ref:" + rid] for rid, *_ in items[: len(self.references)]]
        texts += [self.texts[p.content_id] for p in self.partials]
        floor = float(self.section.get("embed_floor", 0.8))
        vectors = embed.embed_all(texts, self.embedder)
        out = {}
        for pos, best in enumerate(embed.neighbours(vectors)):
            if best is not None:
                j, cos = best
                penalty = max(0.0, (cos - floor) / (1 - floor)) if floor < 1 else 0.0
                out[pos] = (j, cos, min(1.0, penalty))
        return out

    def _record(
        self, p: Partial, nearest: dict | None, penalty: float, dup_of: dict | None
    ) -> dict:
        policy = self.policy(p.domain)
        components: dict[str, float | None] = {
            "diversity": 1.0 - penalty,
            "kg": p.kg,
            "halluc": 1.0 - p.risk,
            "coherence": p.coherence,
        }
        composite_value = composite(components, policy.weights)
        reasons = failed_rules(p, policy, components, composite_value, penalty, dup_of)
        rec: dict[str, Any] = {
            "kind": "score",
            "sample_id": p.sample_id,
            "domain": p.domain,
            "source": p.source,
            "routine": p.routine,
            "bank": p.bank,
            "components": {k: (None if v is None else round(v, 4)) for k, v in components.items()},
            "halluc_risk": round(p.risk, 4),
            "composite": round(composite_value, 4),
            "threshold": policy.threshold,
            "pass": not reasons,
            "reasons": reasons,
            "evidence": p.evidence,
            "nearest": nearest,
            "entities": p.entities,
            "words": p.words,
            "complexity": p.complexity,
            "code_checked": p.code_checked,
        }
        if p.missing:
            rec["missing_key_tokens"] = p.missing
        if p.label is not None:
            rec["human_label"] = p.label
        return rec


__all__ = ["COMPONENTS", "RULES", "Policy", "ScoreRun", "SampleError", "policy_for"]
