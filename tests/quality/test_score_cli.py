"""hafs score end to end: records, schemas, determinism, config, errors, accuracy."""

from __future__ import annotations

import os
import random
import subprocess

import orjson
import pytest

from hafs_cli.schemas import validate_record

from .conftest import jsonl
from .corpus import evaluate


def test_every_record_passes_through_and_scores_follow_sorted(
    hafs, corpus, corpus_tree, samples_file
):
    r = hafs("score", samples_file, "--source-root", corpus_tree)
    assert r.exit_code == 0, r.stderr
    recs = r.records
    n = len(corpus.samples)
    assert recs[:n] == corpus.samples  # forwarded unchanged, in order
    scores = recs[n:]
    assert [s["sample_id"] for s in scores] == sorted(s["sample_id"] for s in corpus.samples)
    for rec in recs:
        assert validate_record(rec) == [], rec


def test_output_is_byte_identical_across_input_order_and_hash_seed(
    hafs_cmd, corpus, corpus_tree, tmp_path
):
    shuffled = list(corpus.samples)
    random.Random(5).shuffle(shuffled)
    outputs = []
    for i, (order, seed) in enumerate(
        ((corpus.samples, "0"), (shuffled, "1"), (corpus.samples[::-1], "random"))
    ):
        path = tmp_path / f"in{i}.jsonl"
        path.write_bytes(jsonl(order))
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [*hafs_cmd, "score", str(path), "--source-root", str(corpus_tree), "--only"],
            capture_output=True,
            env=env,
            check=True,
        ).stdout
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0].count(b"\n") == len(corpus.samples)


def test_plain_dataset_lines_without_kind_are_samples_and_bad_lines_are_errors(hafs, tmp_path):
    lines = (
        b'{"instruction": "Explain.", "input": "Foo:\\n  RTS", "output": "Foo returns to its caller with RTS right away, doing nothing else at all in between."}\n'
        b"not json\n"
        b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! This answer has enough words to count as a real reply here, twenty or more words in all."}]}\n'
    )
    path = tmp_path / "data.jsonl"
    path.write_bytes(lines)
    r = hafs("score", path, "--only")
    assert r.exit_code == 2  # the bad line is an input error ...
    assert [e["line"] for e in r.errors] == [2]
    assert [s["kind"] for s in r.records] == ["score", "score"]  # ... and the rest is scored
    assert all(s["sample_id"].startswith("h-") for s in r.records)


def test_sample_without_answer_is_reported_not_dropped(hafs):
    r = hafs(
        "score",
        "--only",
        input=b'{"kind": "sample", "sample_id": "q1", "instruction": "Explain."}\n',
    )
    assert r.exit_code == 2
    assert r.errors[0]["sample_id"] == "q1"
    assert "no answer text" in r.errors[0]["reason"]
    assert r.records == []


def test_a_sample_that_cannot_be_read_is_reported_with_file_and_line(hafs, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(
        b'{"kind": "sample", "sample_id": "ok", "output": "fine answer"}\n'
        b'{"kind": "sample", "instruction": "Explain."}\n'
    )
    r = hafs("score", path, "--only")
    assert r.exit_code == 2
    (err,) = r.errors
    assert (err["source"], err["line"]) == (str(path), 2)
    assert err["reason"].startswith(f"{path}:2: sample has no answer text")
    assert [s["sample_id"] for s in r.records] == ["ok"]


def test_fields_of_the_wrong_type_are_errors_not_text(hafs):
    r = hafs(
        "score",
        "--only",
        input=jsonl(
            [
                {"kind": "sample", "sample_id": "n", "instruction": "Explain.", "output": 5},
                {"kind": "sample", "sample_id": "o", "output": {"text": "x"}},
                {"kind": "sample", "sample_id": "m", "messages": "hello"},
                {"kind": "sample", "sample_id": "d", "domain": 3, "output": "an answer"},
                {"kind": "sample", "sample_id": {"n": 1}, "output": "an answer"},
                {
                    "kind": "sample",
                    "sample_id": "c",
                    "messages": [
                        {"role": "user", "content": "Q"},
                        {"role": "assistant", "content": 7},
                    ],
                },
            ]
        ),
    )
    assert r.exit_code == 2
    assert [(e["sample_id"], e["line"]) for e in r.errors] == [
        ("n", 1),
        ("o", 2),
        ("m", 3),
        ("d", 4),
        ({"n": 1}, 5),
        ("c", 6),
    ]
    reasons = [e["reason"] for e in r.errors]
    assert "`output` is a number, not text" in reasons[0]
    assert "`output` is an object, not text" in reasons[1]
    assert "`messages` is not a list" in reasons[2]
    assert "`domain` is a number, not text" in reasons[3]
    assert "`sample_id` must be a string or an integer" in reasons[4]
    assert "`messages[1].content` is a number, not text" in reasons[5]
    assert r.records == []  # "5" is not an answer to score


def test_missing_source_root_is_a_usage_error(hafs, tmp_path):
    r = hafs("score", "--source-root", tmp_path / "nope", "--only", input=b"")
    assert r.exit_code == 2
    assert b"source root" in r.stderr and b"--source-root" in r.stderr
    assert b"Traceback" not in r.stderr


def test_domain_table_in_hafs_toml_sets_threshold_and_rules(hafs, tmp_path):
    (tmp_path / "hafs.toml").write_text(
        '[score.domains.chat]\nthreshold = 0.95\nrules = ["composite"]\n'
    )
    sample = {"kind": "sample", "sample_id": "c", "domain": "chat", "output": "Too short, maybe."}
    r = hafs("score", "--only", input=jsonl([sample]), cwd=tmp_path)
    (rec,) = r.records
    assert rec["threshold"] == 0.95
    assert [x["rule"] for x in rec["reasons"]] == ["composite"]  # too_short is not enabled here


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            "{ diversity = 0, kg = 0, halluc = 0, coherence = 0 }",
            "the weights of [score] or [score.domains.chat] are all 0",
        ),
        (
            "{ kg = 0.5, grounding = 0.5 }",
            "invalid configuration:\n  hafs.toml:2:1: unknown key 'score.domains.chat.weights.grounding'",
        ),
    ],
)
def test_domain_weights_that_cannot_work_are_a_configuration_error(
    hafs, tmp_path, weights, message
):
    (tmp_path / "hafs.toml").write_text(f"[score.domains.chat]\nweights = {weights}\n")
    sample = {"kind": "sample", "sample_id": "c", "domain": "chat", "output": "x " * 30}
    r = hafs("score", "--only", input=jsonl([sample]), cwd=tmp_path)
    assert r.exit_code == 2
    assert r.stderr.decode().startswith("hafs: error: " + message)
    assert r.records == []  # not a run of silent failures


def test_threshold_flag_overrides_every_domain(hafs, tmp_path):
    (tmp_path / "hafs.toml").write_text("[score.domains.chat]\nthreshold = 0.95\n")
    sample = {"kind": "sample", "sample_id": "c", "domain": "chat", "output": "x " * 30}
    r = hafs("score", "--only", "--threshold", "0.1", input=jsonl([sample]), cwd=tmp_path)
    assert r.records[0]["threshold"] == 0.1


def test_reference_corpus_marks_copies_of_accepted_samples(hafs, corpus, tmp_path):
    accepted = corpus.samples[:5]
    ref = tmp_path / "accepted.jsonl"
    ref.write_bytes(jsonl(accepted))
    copy = {**accepted[2], "sample_id": "new-1"}
    r = hafs("score", "--only", "--reference", ref, input=jsonl([copy]))
    (rec,) = r.records
    assert rec["nearest"] == {
        "sample_id": accepted[2]["sample_id"],
        "similarity": 1.0,
        "reference": True,
    }
    dup = [x for x in rec["reasons"] if x["rule"] == "near_duplicate"]
    assert dup and dup[0]["reference"] is True
    assert rec["components"]["diversity"] == 0.0


def test_an_earlier_runs_output_serves_as_reference_without_errors(hafs, corpus, tmp_path):
    accepted = corpus.samples[:5]
    earlier = hafs("score", input=jsonl(accepted))  # samples followed by their score records
    assert [r["kind"] for r in earlier.records].count("score") == 5
    ref = tmp_path / "accepted-scored.jsonl"
    ref.write_bytes(earlier.stdout)
    copy = {**accepted[2], "sample_id": "new-1"}
    r = hafs("score", "--only", "--reference", ref, input=jsonl([copy]))
    assert r.exit_code == 0, r.stderr
    assert r.errors == []
    (rec,) = r.records
    assert rec["nearest"] == {
        "sample_id": accepted[2]["sample_id"],
        "similarity": 1.0,
        "reference": True,
    }


def test_of_two_copies_only_the_later_id_pays(hafs, corpus):
    a = corpus.samples[0]
    b = {**a, "sample_id": a["sample_id"] + "-copy"}
    r = hafs("score", "--only", input=jsonl([b, a]))
    first, second = r.records
    assert first["sample_id"] == a["sample_id"] and first["components"]["diversity"] == 1.0
    assert second["components"]["diversity"] == 0.0
    assert first["nearest"]["sample_id"] == second["sample_id"]


def test_knowledge_graph_is_cached_under_xdg_cache(hafs, corpus_tree, isolated_env):
    sample = {"kind": "sample", "sample_id": "a", "output": "Nothing to see here at all."}
    hafs("score", "--only", "--source-root", corpus_tree, input=jsonl([sample]))
    cache = isolated_env / ".cache" / "hafs" / "score-kg.sqlite"
    assert cache.exists()


def test_labelled_corpus_precision_and_recall(hafs, corpus, corpus_tree, samples_file):
    """The closing-note figures: hallucination and near-duplicate flags against the truth."""
    assert len(corpus.samples) >= 200
    r = hafs("score", samples_file, "--source-root", corpus_tree, "--only")
    for name, c in evaluate(r.records, corpus.samples).items():
        print(
            f"{name}: precision {c['precision']:.3f} recall {c['recall']:.3f} (tp {c['tp']} fp {c['fp']} fn {c['fn']})"
        )
        assert c["precision"] >= 0.9 and c["recall"] >= 0.9, (name, c)


def test_help_has_examples_and_exit_statuses(hafs):
    for args in (
        ("score", "--help"),
        ("score", "run", "--help"),
        ("score", "gate", "--help"),
        ("ab", "--help"),
    ):
        r = hafs(*args)
        assert r.exit_code == 0
        assert b"Examples:" in r.stdout and b"Exit status:" in r.stdout


def test_score_records_in_json_and_table_formats(hafs, corpus):
    r = hafs("score", "--only", "--format", "json", input=jsonl(corpus.samples[:3]))
    assert [x["kind"] for x in orjson.loads(r.stdout)] == ["score"] * 3
    t = hafs("score", "--only", "--format", "table", input=jsonl(corpus.samples[:3]))
    assert t.exit_code == 0 and b"score" in t.stdout


def test_clashing_sample_ids_with_different_content_are_told_apart(hafs):
    a = {
        "kind": "sample",
        "sample_id": "dup",
        "output": "The first answer talks about the joypad handler in detail here.",
    }
    b = {
        "kind": "sample",
        "sample_id": "dup",
        "output": "A second, unrelated answer covers palette fading over sixteen frames.",
    }
    ids = [r["sample_id"] for r in hafs("score", "--only", input=jsonl([a, b])).records]
    assert len(set(ids)) == 2 and all(i.startswith("dup~") for i in ids)
    assert ids == [r["sample_id"] for r in hafs("score", "--only", input=jsonl([b, a])).records]


def test_score_then_ab_joins_variants_from_samples_without_ids(hafs, corpus):
    samples = []
    for i, s in enumerate(corpus.samples[:60]):
        rec = {k: v for k, v in s.items() if k != "sample_id"}
        rec["variant"] = "v1" if i % 2 else "v2"
        samples.append(rec)
    scored = hafs("score", input=jsonl(samples))
    assert scored.exit_code == 0
    r = hafs("ab", "--by", "variant", "--only", input=scored.stdout)
    assert r.exit_code == 0, r.stderr
    (res,) = r.records
    assert (res["baseline"], res["variant"], res["n_baseline"], res["n_variant"]) == (
        "v1",
        "v2",
        30,
        30,
    )
    assert res["design"] == "paired"  # both explanations of a routine share its `source`


def test_a_crashing_code_validator_does_not_sink_the_run(hafs, corpus, monkeypatch):
    import hafs_cli.asm

    def broken(text, name="<text>", **kw):
        raise AttributeError("simulated validator bug")

    monkeypatch.setattr(hafs_cli.asm, "validate_text", broken)
    r = hafs("score", "--only", input=jsonl(corpus.samples[:3]))
    assert r.exit_code == 3
    assert len(r.records) == 3 and all(rec["code_checked"] is False for rec in r.records)
    assert "simulated validator bug" in r.errors[0]["reason"]


def test_reference_may_be_a_plain_dataset_without_kind(hafs, corpus, tmp_path):
    plain = [{k: v for k, v in s.items() if k != "kind"} for s in corpus.samples[:3]]
    ref = tmp_path / "accepted.jsonl"
    ref.write_bytes(jsonl(plain))
    copy = {**corpus.samples[1], "sample_id": "new"}
    r = hafs("score", "--only", "--reference", ref, input=jsonl([copy]))
    assert r.exit_code == 0, r.stderr
    assert r.records[0]["nearest"]["reference"] is True


def test_analyses_are_byte_identical_across_order_and_hash_seed(
    hafs_cmd, corpus, corpus_tree, tmp_path
):
    samples = [{**s, "variant": "v1" if i % 2 else "v2"} for i, s in enumerate(corpus.samples)]
    path = tmp_path / "s.jsonl"
    path.write_bytes(jsonl(samples))
    scored = subprocess.run(
        [*hafs_cmd, "score", str(path), "--source-root", str(corpus_tree)],
        capture_output=True,
        check=True,
    ).stdout
    lines = scored.splitlines(keepends=True)
    shuffled = list(lines)
    random.Random(9).shuffle(shuffled)
    for args in (
        ["score", "summary", "--only"],
        ["score", "select", "--only", "--count", "50"],
        ["ab", "--by", "variant", "--only"],
    ):
        outs = []
        for data, seed in ((b"".join(lines), "0"), (b"".join(shuffled), "12345")):
            outs.append(
                subprocess.run(
                    [*hafs_cmd, *args],
                    input=data,
                    capture_output=True,
                    check=True,
                    env={**os.environ, "PYTHONHASHSEED": seed},
                ).stdout
            )
        assert outs[0] == outs[1] and outs[0], args
