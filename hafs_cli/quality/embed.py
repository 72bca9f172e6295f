"""Optional semantic diversity from a local embedding model (Ollama's /api/embed, or
sentence-transformers when that package is installed).

Vectors are bucketed by random-hyperplane LSH (seeded, so runs agree) and candidate
pairs are confirmed by exact cosine similarity. Cosine below `embed_floor` counts as
unrelated; above it the similarity is rescaled to 0..1 and can lower diversity.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from operator import mul

from hafs_cli import exits
from hafs_cli.exits import HafsError

Embedder = Callable[[list[str]], list[list[float]]]
BATCH = 64
PLANES, BANDS = 64, 8


def ollama_embedder(host: str, model: str, config=None) -> Embedder:
    """Embed texts through orchestrate's client (hafs_cli.ai.client.embed): the same
    connection handling and error codes as every other model call of hafs; the
    training guard applies when `host` names a configured [orchestrate.hosts] entry."""
    from hafs_cli.ai import errors as E
    from hafs_cli.ai.client import embed as client_embed
    from hafs_cli.ai.errors import AIError

    def embed(texts: list[str]) -> list[list[float]]:
        try:
            return client_embed(texts, model=model, host=host, config=config)
        except AIError as exc:
            if exc.code == E.MODEL_NOT_FOUND:
                advice = f"run 'ollama pull {model}' there, or drop --embed"
                what = f"embedding model '{model}' at {host} failed: {exc.message}"
            elif exc.code == E.HOST_UNREACHABLE:
                advice = "start 'ollama serve' (or set [score].embed_host), or drop --embed"
                what = f"no Ollama server answering at {host} ({exc.message})"
            else:
                advice = "check the server's log, or drop --embed"
                what = f"embedding with '{model}' at {host} failed: {exc.message}"
            raise HafsError(f"{what}; {advice}", exits.RUNTIME) from None

    return embed


def sentence_transformers_embedder(model: str) -> Embedder:
    """Embed texts with a local sentence-transformers model (the package is optional)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise HafsError(
            "embed_backend = 'sentence-transformers' but the package is not installed; "
            "pip install sentence-transformers, or use embed_backend = 'ollama'",
            exits.RUNTIME,
        ) from None
    try:
        encoder = SentenceTransformer(model)
    except Exception as exc:  # a missing or broken model: say which
        raise HafsError(
            f"cannot load sentence-transformers model '{model}': {exc}", exits.RUNTIME
        ) from None

    def embed(texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in encoder.encode(texts, show_progress_bar=False)]

    return embed


def embedder_from_config(section: dict, config=None) -> Embedder:
    """The embedder [score] asks for (embed_backend, embed_model, embed_host)."""
    if section.get("embed_backend", "ollama") == "sentence-transformers":
        return sentence_transformers_embedder(section["embed_model"])
    return ollama_embedder(section["embed_host"], section["embed_model"], config)


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def embed_all(texts: list[str], embedder: Embedder) -> list[list[float]]:
    out: list[list[float]] = []
    for i in range(0, len(texts), BATCH):
        out.extend(_unit(v) for v in embedder(texts[i : i + BATCH]))
    return out


def neighbours(vectors: list[list[float]]) -> list[tuple[int, float] | None]:
    """For each vector: the most similar vector among candidates (index, cosine)."""
    if not vectors:
        return []
    dim = len(vectors[0])
    rng = random.Random(20240611)
    planes = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(PLANES)]
    rows = PLANES // BANDS
    buckets: dict[tuple[int, int], list[int]] = {}
    sigs = []
    for i, v in enumerate(vectors):
        bits = 0
        for p in planes:
            bits = bits << 1 | (sum(map(mul, p, v)) >= 0)
        sigs.append(bits)
        for band in range(BANDS):
            buckets.setdefault((band, bits >> (band * rows) & ((1 << rows) - 1)), []).append(i)
    out: list[tuple[int, float] | None] = []
    for i, v in enumerate(vectors):
        cands: set[int] = set()
        for band in range(BANDS):
            cands.update(buckets[(band, sigs[i] >> (band * rows) & ((1 << rows) - 1))])
        cands.discard(i)
        best = None
        for j in sorted(cands):
            cos = sum(map(mul, v, vectors[j]))
            if best is None or cos > best[1]:
                best = (j, cos)
        out.append(best)
    return out
