"""Each hallucination/grounding/coherence check on one routine, through the score run."""

from __future__ import annotations

import pytest

from hafs_cli.config import defaults_of, load_config
from hafs_cli.quality.kg import build_graph
from hafs_cli.quality.runner import asm_validator
from hafs_cli.quality.scoring import ScoreRun

SOURCE = """\
org $028000
; $02:8000
Link_HandleSword:
{
    REP #$20
    LDA.w LinkPosX
    STA.w $2116
    LDX.b #$07
.loop
    DEX
    BPL .loop
    JSL Sprite_SpawnSparkle
    JSR Link_Helper
    RTL
}

; $02:8040
Link_Helper:
    RTS

org $0D8000
; $0D:8000
Sprite_SpawnSparkle:
    RTL

; $0D:8010
Sprite_Unused:
    RTL
"""
RAM = "LinkPosX = $7E0022\nLinkPosY = $7E0020\n"
CODE = SOURCE.split("Link_HandleSword:")[1].split("; $02:8040")[0]
GOOD = (
    "Link_HandleSword ($02:8000) lives in bank $02. It switches to a 16-bit accumulator, "
    "loads LinkPosX ($7E:0022) and writes it to VMADDL ($2116). A loop counts X down from "
    "seven. Then it calls Sprite_SpawnSparkle with JSL and Link_Helper with JSR, and "
    "returns with RTL to its caller."
)


@pytest.fixture
def graph(tmp_path):
    (tmp_path / "bank_02.asm").write_text(SOURCE)
    (tmp_path / "ram.asm").write_text(RAM)
    return build_graph(tmp_path, "lorom", None)


def score_one(graph, output: str, **extra) -> dict:
    section = load_config().section("score")
    run = ScoreRun(section, graph, asm_validator())
    run.add(
        {
            "kind": "sample",
            "sample_id": "x",
            "source": "bank_02.asm:Link_HandleSword",
            "instruction": "Explain this routine.",
            "input": "Link_HandleSword:" + CODE,
            "output": output,
            **extra,
        }
    )
    return run.results()[0]


def rules(rec: dict) -> list[str]:
    return [r["rule"] for r in rec["reasons"]]


def evidence(rec: dict) -> list[tuple[str, str]]:
    return [(e["rule"], e["message"]) for e in rec["evidence"]]


def test_a_correct_explanation_passes_with_full_grounding(graph):
    rec = score_one(graph, GOOD)
    assert rec["evidence"] == []
    assert rec["pass"] is True
    assert rec["components"]["kg"] == 1.0
    assert rec["components"]["halluc"] == 1.0
    assert rec["bank"] == "$02"
    assert rec["routine"] == "Link_HandleSword"
    assert rec["entities"] == {"checked": 8, "grounded": 8}


def test_jsr_jsl_swap_is_a_contradiction_per_call_target(graph):
    rec = score_one(
        graph, GOOD.replace("Sprite_SpawnSparkle with JSL", "Sprite_SpawnSparkle with JSR")
    )
    assert (
        "contradiction",
        "text says JSR Sprite_SpawnSparkle; the routine uses JSL Sprite_SpawnSparkle",
    ) in evidence(rec)
    assert rules(rec) == ["contradiction", "halluc_risk"]


def test_wrong_register_width_is_a_contradiction(graph):
    rec = score_one(graph, GOOD.replace("16-bit accumulator", "8-bit accumulator"))
    assert ("contradiction", "text says 8-bit accumulator; the routine sets 16-bit") in evidence(
        rec
    )


def test_wrong_bank_is_a_contradiction(graph):
    rec = score_one(graph, GOOD.replace("lives in bank $02", "lives in bank $05"))
    assert ("contradiction", "text places the routine in bank $05; it is in bank $02") in evidence(
        rec
    )


def test_wrong_address_for_a_known_name_is_a_mismatch(graph):
    rec = score_one(graph, GOOD.replace("LinkPosX ($7E:0022)", "LinkPosX ($7E:0024)"))
    assert "name_address_mismatch" in rules(rec)
    assert (
        "ungrounded_entity",
        "$7E:0024 is not defined in the source tree or the routine",
    ) in evidence(rec)


def test_invented_name_is_ungrounded_and_lowers_kg(graph):
    rec = score_one(graph, GOOD.replace("Link_Helper", "Link_HelperEx"))
    assert (
        "ungrounded_entity",
        "Link_HelperEx is not defined in the source tree or the routine",
    ) in evidence(rec)
    assert rec["components"]["kg"] < 1.0
    assert rec["pass"] is False


def test_invented_instruction_in_prose_and_in_code(graph):
    rec = score_one(graph, GOOD + " It also uses `MVX #$10` for the copy.\n```asm\nLDZ #$00\n```")
    assert ("unknown_instruction", "MVX is not a 65816 instruction") in evidence(rec)
    assert "invalid_code" in rules(rec)  # validate-asm on the answer's own code


def test_every_failed_rule_is_listed_not_only_the_first(graph):
    bad = (
        GOOD.replace("16-bit", "8-bit")
        .replace("with JSL", "with JSR")
        .replace("bank $02", "bank $05")
    )
    rec = score_one(graph, bad + " I think it probably might be a timer.")
    assert rules(rec) == ["contradiction", "contradiction", "contradiction", "halluc_risk"]
    assert [e["phrase"] for e in rec["evidence"] if e["rule"] == "hedging"] == [
        "i think",
        "probably",
        "might",
    ]


def test_unrelated_real_routine_raises_risk(graph):
    rec = score_one(
        graph, GOOD.replace("calls Sprite_SpawnSparkle with JSL", "calls Sprite_Unused with JSL")
    )
    assert any(e["rule"] == "unrelated_routine" for e in rec["evidence"])
    assert rec["halluc_risk"] > 0.3


def test_without_a_graph_kg_is_checked_against_the_routine_only(graph):
    rec = score_one(None, GOOD)
    assert rec["bank"] == "$02"  # from the bank_02.asm source name
    # names in the routine's own code still count: 6 of the 8 entities the text names
    # can be checked without the tree, and all 6 are grounded
    assert rec["entities"] == {"checked": 6, "grounded": 6}
    assert rec["components"]["kg"] == 1.0 and rec["evidence"] == []


def test_short_and_repetitive_answers_fail_coherence_rules(graph):
    assert rules(score_one(graph, "It loads LinkPosX.")) == ["too_short"]
    looping = " ".join(["the routine loads the value and stores the value"] * 12)
    assert "repetition" in rules(score_one(graph, looping))


def test_bank_comes_from_rom_offset_with_hirom(graph):
    section = {
        **defaults_of({"type": "object", "properties": {}}),
        **load_config().section("score"),
        "mapper": "hirom",
    }
    run = ScoreRun(section, None, None)
    run.add({"kind": "sample", "sample_id": "h", "rom_offset": "0x12345", "output": GOOD})
    assert run.results()[0]["bank"] == "$C1"


def test_domain_policy_overrides_threshold_and_weights():
    section = load_config().section("score")
    section = {**section, "domains": {"strict": {"threshold": 0.99, "weights": {"diversity": 0.0}}}}
    run = ScoreRun(section, None, None)
    hedged = GOOD + " It probably also clears a flag."
    run.add({"kind": "sample", "sample_id": "a", "domain": "strict", "output": hedged})
    other = (
        "Sprite_SpawnSparkle is a tiny routine in bank $0D that returns at once with RTL; "
        "callers use it as a stub where a sparkle effect would be spawned later in development."
    )
    run.add({"kind": "sample", "sample_id": "b", "domain": "other", "output": other})
    a, b = run.results()
    assert a["threshold"] == 0.99 and b["threshold"] == section["threshold"]
    assert rules(a) == ["composite"]
    assert b["pass"] is True


def test_library_function_scores_like_the_command(hafs, corpus, corpus_tree):
    from hafs_cli.quality import score_samples

    from .conftest import jsonl

    lib = score_samples(corpus.samples[:20], source_root=corpus_tree)
    cli = hafs(
        "score", "--only", "--source-root", corpus_tree, input=jsonl(corpus.samples[:20])
    ).records
    assert lib == cli


def test_a_domain_can_opt_out_of_the_graph(graph):
    section = load_config().section("score")
    section = {**section, "domains": {"python": {"use_graph": False}}}
    text = "The helper parse_args reads sys.argv and returns a namespace; load_config merges the layers."
    run = ScoreRun(section, graph, None)
    run.add({"kind": "sample", "sample_id": "py", "domain": "python", "output": text})
    run.add({"kind": "sample", "sample_id": "asm", "domain": "asm", "output": text})
    py, asm = sorted(run.results(), key=lambda r: r["sample_id"] != "py")
    assert py["evidence"] == [] and py["components"]["kg"] is None
    assert [e["entity"] for e in asm["evidence"]] == ["parse_args", "load_config"]


def test_bank_falls_back_to_the_bank_file_name():
    run = ScoreRun(load_config().section("score"), None, None)
    run.add({"kind": "sample", "sample_id": "f", "source": "disasm/bank_0C.asm", "output": GOOD})
    run.add({"kind": "sample", "sample_id": "g", "source": "notes.txt", "output": GOOD + " More."})
    f, g = run.results()
    assert (f["bank"], g["bank"]) == ("$0C", None)
