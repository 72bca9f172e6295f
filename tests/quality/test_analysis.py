"""score summary, gate and select, and the histogram files."""

from __future__ import annotations

import struct
import zlib

import pytest

from hafs_cli.quality.select import _dominates, pareto_fronts
from hafs_cli.schemas import validate_record

from .conftest import jsonl


def score(
    sid,
    composite,
    *,
    comps=None,
    bank="$02",
    passed=True,
    reasons=(),
    phase="easy",
    nearest=0.0,
    label=None,
):
    c = comps or {
        "diversity": composite,
        "kg": composite,
        "halluc": composite,
        "coherence": composite,
    }
    rec = {
        "kind": "score",
        "sample_id": sid,
        "domain": "asm",
        "source": None,
        "bank": bank,
        "components": c,
        "halluc_risk": round(1 - c["halluc"], 4),
        "composite": composite,
        "threshold": 0.6,
        "pass": passed,
        "reasons": [{"rule": r, "message": r} for r in reasons],
        "nearest": {"sample_id": "z", "similarity": nearest, "reference": False}
        if nearest
        else None,
        "complexity": {
            "instructions": 1,
            "branches": 0,
            "hw_registers": 0,
            "indirect": 0,
            "phase": phase,
        },
    }
    if label is not None:
        rec["human_label"] = label
    return rec


def test_summary_counts_slices_reasons_and_correlations(hafs):
    recs = [
        score("a", 0.9, label=5),
        score("b", 0.7, bank="$03", label=4),
        score("c", 0.5, passed=False, reasons=["composite", "too_short"], label=2),
        score("d", 0.3, passed=False, reasons=["composite"], bank=None, label=1),
    ]
    r = hafs("score", "summary", "--only", input=jsonl(recs))
    assert r.exit_code == 0, r.stderr
    (s,) = r.records
    assert validate_record(s) == []
    assert (s["n"], s["passed"], s["pass_rate"]) == (4, 2, 0.5)
    assert {k: (v["n"], v["pass_rate"], v["mean_composite"]) for k, v in s["by_bank"].items()} == {
        "$02": (2, 0.5, 0.7),
        "$03": (1, 1.0, 0.7),
        "unknown": (1, 0.0, 0.3),
    }
    assert s["by_bank"]["$02"]["means"] == {
        "diversity": 0.7,
        "kg": 0.7,
        "halluc": 0.7,
        "coherence": 0.7,
        "halluc_risk": 0.3,
    }
    assert s["rejections"] == {"composite": 2, "too_short": 1}
    assert s["distributions"]["composite"]["median"] == 0.6
    assert s["distributions"]["composite"]["histogram"] == [0, 0, 0, 1, 0, 1, 0, 1, 0, 1]
    assert s["spearman"]["kg"] == {"composite": 1.0, "human_label": 1.0}
    assert s["human_labels"] == 4


def test_summary_joins_human_labels_from_sample_records(hafs):
    samples = [
        {"kind": "sample", "sample_id": sid, "output": "x", "rating": v}
        for sid, v in (("a", 1), ("b", 2), ("c", 3))
    ]
    scores = [score("a", 0.9), score("b", 0.5), score("c", 0.1)]
    (s,) = hafs("score", "summary", "--only", input=jsonl(samples + scores)).records
    assert s["spearman"]["composite"]["human_label"] == -1.0


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_plot_writes_a_histogram(hafs, tmp_path, suffix):
    out = tmp_path / f"hist.{suffix}"
    r = hafs(
        "score", "summary", "--only", "--plot", out, input=jsonl([score("a", 0.9), score("b", 0.2)])
    )
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    if suffix == "svg":
        assert data.startswith(b"<svg") and data.count(b"<rect") == 11  # background + 10 bins
        assert b"threshold 0.6" in data
    else:
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (640, 360)
        idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
        assert len(zlib.decompress(idat)) == height * (1 + width * 3)


def test_plot_with_unknown_extension_is_a_usage_error(hafs, tmp_path):
    r = hafs("score", "summary", "--plot", tmp_path / "h.gif", input=jsonl([score("a", 0.9)]))
    assert r.exit_code == 2 and b".svg or .png" in r.stderr


def test_plot_of_a_component_that_is_null_everywhere_says_so(hafs, tmp_path):
    comps = {"diversity": 0.9, "kg": None, "halluc": 0.9, "coherence": 0.9}
    out = tmp_path / "kg.svg"
    r = hafs(
        "score", "summary", "--plot", out, "--plot-field", "kg",
        input=jsonl([score("a", 0.9, comps=comps), score("b", 0.8, comps=comps)]),
    )  # fmt: skip
    assert r.exit_code == 2
    assert r.stderr.decode().startswith(
        "hafs: error: --plot-field kg: no score record has a kg value to plot"
    )
    assert not out.exists()


def test_gate_passes_when_nothing_fell(hafs, tmp_path):
    base = tmp_path / "base.jsonl"
    base.write_bytes(jsonl([score("a", 0.8), score("b", 0.6)]))
    r = hafs(
        "score",
        "gate",
        "--baseline",
        base,
        "--only",
        input=jsonl([score("a", 0.79), score("b", 0.6)]),
    )
    assert r.exit_code == 0
    assert r.records[0]["passed"] is True


def test_gate_fails_and_names_the_components_that_fell(hafs, tmp_path):
    base = tmp_path / "base.jsonl"
    base.write_bytes(jsonl([score("a", 0.8), score("b", 0.8)]))
    low = {"diversity": 0.8, "kg": 0.4, "halluc": 0.8, "coherence": 0.75}
    now = [score("a", 0.65, comps=low), score("b", 0.65, comps=low)]
    r = hafs("score", "gate", "--baseline", base, "--only", input=jsonl(now))
    assert r.exit_code == 1
    (g,) = r.records
    assert validate_record(g) == []
    assert g["failed"] == ["mean_composite"]
    assert [(f["component"], f["beyond_limit"]) for f in g["fell"]] == [
        ("kg", True),
        ("coherence", False),
    ]
    assert "kg" in g["message"] and "coherence" in g["message"]


def test_gate_reads_a_summary_as_baseline_and_honours_max_drop(hafs, tmp_path):
    summary = hafs(
        "score", "summary", "--only", input=jsonl([score("a", 0.8), score("b", 0.8)])
    ).records[0]
    base = tmp_path / "summary.jsonl"
    base.write_bytes(jsonl([summary]))
    now = jsonl([score("a", 0.75), score("b", 0.75)])
    assert hafs("score", "gate", "--baseline", base, input=now).exit_code == 0  # 6% < 10%
    assert hafs("score", "gate", "--baseline", base, "--max-drop", "0.05", input=now).exit_code == 1


def test_pareto_fronts_match_brute_force():
    import random

    rng = random.Random(2)
    pts = [
        ((round(rng.random(), 2), round(rng.random(), 2), round(rng.random(), 2)), f"p{i:03d}")
        for i in range(150)
    ]
    fronts = list(pareto_fronts(pts))
    remaining = {pid: v for v, pid in pts}
    for front in fronts:
        expected = sorted(
            p
            for p, v in remaining.items()
            if not any(_dominates(w, v) for q, w in remaining.items() if q != p)
        )
        assert sorted(front) == expected
        for p in front:
            del remaining[p]
    assert not remaining


def test_select_takes_fronts_with_stable_ties_and_orders_by_curriculum(hafs):
    recs = [
        score("s1", 0.9, phase="advanced"),
        score("s2", 0.9, phase="easy"),  # identical objectives to s1: tie broken by sample_id
        score("s3", 0.7, phase="moderate"),
        score("s4", 0.95, passed=False, reasons=["near_duplicate"]),  # failed: not eligible
    ]
    r = hafs(
        "score",
        "select",
        "--only",
        "--count",
        "2",
        "--objective",
        "quality",
        "--objective",
        "diversity",
        input=jsonl(recs),
    )
    assert r.exit_code == 0
    sel = r.records
    assert [(x["sample_id"], x["rank"], x["front"], x["phase"]) for x in sel] == [
        ("s2", 2, 1, "easy"),
        ("s1", 1, 1, "advanced"),
    ]
    assert [x["curriculum_position"] for x in sel] == [1, 2]
    for x in sel:
        assert validate_record(x) == []


def test_select_coverage_prefers_rare_banks(hafs):
    recs = [score(f"c{i}", 0.8, bank="$00") for i in range(4)] + [score("rare", 0.8, bank="$0C")]
    r = hafs(
        "score", "select", "--only", "--objective", "coverage", "--count", "1", input=jsonl(recs)
    )
    assert [x["sample_id"] for x in r.records] == ["rare"]


def test_summary_at_a_terminal_is_a_set_of_readable_tables(hafs):
    r = hafs(
        "score",
        "summary",
        "--only",
        "--format",
        "table",
        input=jsonl([score("a", 0.9), score("b", 0.2, passed=False, reasons=["composite"])]),
    )
    assert r.exit_code == 0
    text = r.stdout.decode()
    for heading in ("score summary", "components", "by bank", "rejections"):
        assert heading in text
    assert "composite" in text and "0.5000" in text  # pass rate 1 of 2


def test_select_without_count_takes_exactly_the_first_front(hafs):
    recs = [
        score("best-q", 0.9, comps={"diversity": 0.2, "kg": 1, "halluc": 1, "coherence": 1}),
        score("best-d", 0.6, comps={"diversity": 0.9, "kg": 1, "halluc": 1, "coherence": 1}),
        score("dominated", 0.5, comps={"diversity": 0.1, "kg": 1, "halluc": 1, "coherence": 1}),
    ]
    r = hafs(
        "score",
        "select",
        "--only",
        "--objective",
        "quality",
        "--objective",
        "diversity",
        input=jsonl(recs),
    )
    assert sorted(x["sample_id"] for x in r.records) == ["best-d", "best-q"]
    assert {x["front"] for x in r.records} == {1}


BAD_SCORES = [
    {**score("s1", 0.9), "composite": "high"},
    {**score("s2", 0.9), "components": [1, 2]},
    {**score("s3", 0.9), "pass": "yes"},
    {**score("s4", 0.9), "nearest": {"sample_id": "z", "similarity": "0.5", "reference": False}},
    {**score("s5", 0.9), "complexity": {"phase": ["easy"]}},
]


@pytest.mark.parametrize(
    "args",
    [("score", "summary"), ("score", "select"), ("ab", "--by", "domain"), ("score", "gate")],
)
def test_score_records_of_the_wrong_shape_are_reported_not_a_crash(hafs, tmp_path, args):
    good = [score("g1", 0.8), {**score("g2", 0.7), "domain": "other"}]
    path = tmp_path / "scores.jsonl"
    path.write_bytes(jsonl(good + BAD_SCORES))
    extra = ("--baseline", str(path)) if args[-1] == "gate" else ()
    r = hafs(*args, *extra, path, "--only")
    assert b"internal error" not in r.stderr and b"Traceback" not in r.stderr
    assert r.exit_code == 2, r.stderr
    where = [(e["line"], e["sample_id"]) for e in r.errors]
    expected = [(3, "s1"), (4, "s2"), (5, "s3"), (6, "s4"), (7, "s5")]
    assert where == (expected * 2 if extra else expected)  # gate: input and baseline
    assert all("does not match its schema" in e["reason"] for e in r.errors)
    assert len(r.records) >= 1  # the good ones were analysed


def test_select_without_score_records_says_what_to_pipe_in(hafs):
    r = hafs("score", "select", "--only", input=b'{"kind": "file", "path": "x"}\n')
    assert r.exit_code == 2
    assert b"no score records in the input to select" in r.stderr


def test_gate_with_a_malformed_summary_baseline_says_how_to_make_one(hafs, tmp_path):
    base = tmp_path / "prev.jsonl"
    base.write_bytes(b'{"kind": "score_summary", "n": 3, "pass_rate": "high"}\n')
    r = hafs("score", "gate", "--baseline", base, "--only", input=jsonl([score("a", 0.9)]))
    assert r.exit_code == 2
    (err,) = r.errors
    assert (err["source"], err["line"]) == (str(base), 1)
    assert err["reason"].endswith("left out (write it with `hafs score summary`)")
    assert b"has no score or score_summary records" in r.stderr
