"""Fixtures for score/ab: a labelled corpus over a real asar source tree on disk."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.quality import corpus as corpus_mod


@pytest.fixture(scope="session")
def corpus():
    """>= 200 labelled samples over 100 routines (seed 1)."""
    return corpus_mod.build(seed=1, n_routines=100)


@pytest.fixture(scope="session")
def corpus_tree(corpus, tmp_path_factory) -> Path:
    return corpus.write_tree(tmp_path_factory.mktemp("alttp"))


@pytest.fixture(scope="session")
def samples_file(corpus, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("samples") / "samples.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in corpus.samples))
    return path


def jsonl(recs) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in recs)
