"""Sample shapes, ids and the code/prose split."""

from __future__ import annotations

import pytest

from hafs_cli.quality.samples import SampleError, human_label, normalise, split_code

CODE = "Foo_Bar:\n    REP #$20\n    LDA.w $0022\n    RTL"


def test_instruction_input_output_shape_keeps_code_of_the_input_apart():
    s = normalise(
        {
            "kind": "sample",
            "sample_id": "a",
            "instruction": "Explain.",
            "input": CODE,
            "output": "It loads A.",
        }
    )
    assert (s.sample_id, s.domain, s.prompt_code, s.prose) == ("a", "default", CODE, "It loads A.")


def test_chat_messages_with_content_parts():
    rec = {
        "kind": "sample",
        "domain": "asm",
        "messages": [
            {"role": "system", "content": "You explain 65816."},
            {"role": "user", "content": [{"type": "text", "text": "What does this do?\n" + CODE}]},
            {"role": "assistant", "content": "It loads the X position."},
        ],
    }
    s = normalise(rec)
    assert s.domain == "asm"
    assert s.response == "It loads the X position."
    assert s.prompt_code == CODE


def test_sharegpt_and_prompt_completion_shapes():
    a = normalise(
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "answer"}]}
    )
    b = normalise({"prompt": "q", "completion": "answer"})
    assert a.response == b.response == "answer"


def test_sample_without_answer_is_an_error():
    with pytest.raises(SampleError, match="no answer text"):
        normalise({"kind": "sample", "instruction": "Explain."})


def test_derived_id_is_stable_and_content_based():
    rec = {"instruction": "Explain.", "output": "It returns."}
    assert normalise(rec).sample_id == normalise(dict(rec)).sample_id
    assert normalise(rec).sample_id.startswith("h-")
    assert normalise({**rec, "output": "It returns!"}).sample_id != normalise(rec).sample_id


def test_fenced_code_in_the_answer_is_not_prose():
    s = normalise({"prompt": "Write it.", "response": "Here:\n```asm\nLDA #$01\nRTS\n```\nDone."})
    assert s.response_code == "LDA #$01\nRTS"
    assert "LDA" not in s.prose


def test_prose_is_not_mistaken_for_code():
    assert split_code("The routine loads A.\nThen it stores it to RAM.") == (
        "",
        "The routine loads A.\nThen it stores it to RAM.",
    )


def test_human_label_fields():
    assert human_label({"human_score": 4}) == 4.0
    assert human_label({"label": True}) == 1.0
    assert human_label({"label": "good"}) is None
