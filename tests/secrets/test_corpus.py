"""Accuracy on the generated corpus (the same generator the benchmark uses, smaller)."""

from __future__ import annotations

import pytest

from hafs_cli.secrets.scanner import scan_text
from tests.secrets.corpus import ALL_KINDS, generate, score


@pytest.mark.parametrize("seed", [11, 12])
def test_recall_per_kind_and_false_positive_rate(tmp_path, seed):
    manifest = generate(tmp_path, seed=seed, per_kind=60, lookalikes=2000)
    hits = set()
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            rel = str(path.relative_to(tmp_path))
            hits |= {(rel, f.line) for f in scan_text(path.read_text(), rel)}
    result = score(manifest, hits)
    for kind in ALL_KINDS:
        found, planted = result.recall[kind]
        assert planted == 60
        assert found / planted >= 0.99, (kind, found, planted)
    assert result.lookalike_lines == 2000
    assert result.fp_per_1000() <= 1.0
    assert result.lookalike_fp_per_1000() <= 1.0


def test_corpus_is_deterministic(tmp_path):
    a = generate(tmp_path / "a", seed=3, per_kind=5, lookalikes=50)
    b = generate(tmp_path / "b", seed=3, per_kind=5, lookalikes=50)
    assert a.to_json() == b.to_json()
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a
               if (tmp_path / "a" / f).is_file())  # fmt: skip
