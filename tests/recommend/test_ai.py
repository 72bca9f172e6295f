"""--ai: ranking by a model behind the Ollama-protocol test server; never trusted blindly."""

from __future__ import annotations

import json
import socket

import pytest

from tests.fixtures.ollama_server import OllamaServer

from .conftest import findings_of, put, scan

MODEL = "qwen3:8b"


@pytest.fixture
def recs(tmp_path):
    t = tmp_path / "t"
    put(t / "a/x.tmp", b"1" * 100, age_days=30)
    put(t / "a/y.tmp", b"2" * 300, age_days=30)
    put(t / "b/__pycache__/m.pyc", b"3" * 50)
    put(t / "c/only-in-scan.txt", b"4" * 10)
    return scan(t)


def ai_env(url: str, timeout: float = 5) -> dict:
    return {
        "HAFS_RECOMMEND__AI__HOST": url,
        "HAFS_RECOMMEND__AI__MODEL": MODEL,
        "HAFS_RECOMMEND__AI__TIMEOUT_S": str(timeout),
        "HAFS_RECOMMEND__LARGEST__ENABLED": "false",
    }


def sent_findings(body: dict) -> list[dict]:
    return json.loads(body["messages"][-1]["content"])["findings"]


def test_ranking_orders_findings_and_drops_invented_paths(recs, run_recommend):
    real = next(r["path"] for r in recs if r["path"].endswith("y.tmp"))

    def answer(body: dict) -> str:
        ids = [f["id"] for f in sent_findings(body)]
        ranking = [
            {
                "id": i,
                "group": "temp files",
                "rationale": f"Safe to drop; also see /home/ghost/invented.bin and {real}.",
                "paths": ["/home/ghost/other.bin"],
            }
            for i in reversed(ids)
        ]
        ranking.append({"id": "f999", "rationale": "made up"})
        return json.dumps({"ranking": ranking})

    with OllamaServer(models=[MODEL]) as srv:
        srv.reply_fn = answer
        r = run_recommend(recs, "--ai", "--only", env=ai_env(srv.url))
    assert r.exit_code == 0, r.stderr
    assert b"ghost" not in r.stdout
    found = findings_of(r)
    assert [f["ai_rank"] for f in found] == [1, 2, 3]
    # the model reversed the rule order it was sent (largest savings first)
    assert [f["bytes"] for f in found] == [50, 100, 300]
    assert real in found[2]["ai_rationale"]
    assert "[path not in input]" in found[0]["ai_rationale"]
    ai = r.records[-1]["ai"]
    assert ai["status"] == "ranked"
    assert ai["dropped_paths"] == 6  # per finding: one in the text, one in `paths`
    assert ai["unknown_ids"] == 1


def test_only_findings_reach_the_model(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        env = {**ai_env(srv.url), "HAFS_RECOMMEND__AI__MAX_FINDINGS": "2"}
        r = run_recommend(recs, "--ai", "--only", env=env)
        body = srv.bodies[-1]
    assert r.exit_code == 0
    text = json.dumps(body)
    assert "only-in-scan" not in text
    sent = sent_findings(body)
    assert [f["bytes"] for f in sent] == [300, 100]  # largest savings first, capped at 2
    assert body["format"]["required"] == ["ranking"]


def test_invalid_json_is_retried_once_then_skipped(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        srv.reply({"content": "not json {", "raw": True}, {"content": "[1, 2", "raw": True})
        r = run_recommend(recs, "--ai", "--only", env=ai_env(srv.url))
        chats = srv.counts["/api/chat"]
    assert r.exit_code == 0, r.stderr
    assert chats == 2
    ai = r.records[-1]["ai"]
    assert ai["status"] == "skipped" and ai["attempts"] == 2
    assert "invalid answer" in ai["reason"]
    assert len(findings_of(r)) == 3
    assert all("ai_rank" not in f for f in findings_of(r))


def test_invalid_json_then_a_good_answer_is_used(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        srv.reply(
            {"content": "oops", "raw": True},
            json.dumps({"ranking": [{"id": "f2", "rationale": "first"}]}),
        )
        r = run_recommend(recs, "--ai", "--only", env=ai_env(srv.url))
    ai = r.records[-1]["ai"]
    assert ai["status"] == "ranked" and ai["attempts"] == 2 and ai["ranked"] == 1
    first = findings_of(r)[0]
    assert first["ai_rank"] == 1 and first["ai_rationale"] == "first"
    assert first["bytes"] == 100  # f2: second-largest savings


def test_server_error_skips_ranking(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        srv.reply({"status": 500})
        r = run_recommend(recs, "--ai", "--only", env=ai_env(srv.url))
    assert r.exit_code == 0, r.stderr
    ai = r.records[-1]["ai"]
    assert ai["status"] == "skipped" and "500" in ai["reason"]
    assert len(findings_of(r)) == 3


def test_hanging_model_times_out_and_recommend_completes(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        srv.reply({"hang": True})
        r = run_recommend(recs, "--ai", "--only", env=ai_env(srv.url, timeout=1))
    assert r.exit_code == 0, r.stderr
    ai = r.records[-1]["ai"]
    assert ai["status"] == "skipped" and "deadline" in ai["reason"]
    assert len(findings_of(r)) == 3


def test_absent_ollama_skips_ranking(recs, run_recommend):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_recommend(recs, "--ai", "--only", env=ai_env(f"http://127.0.0.1:{port}"))
    assert r.exit_code == 0, r.stderr
    ai = r.records[-1]["ai"]
    assert ai["status"] == "skipped" and "host_unreachable" in ai["reason"]
    assert len(findings_of(r)) == 3


def test_markdown_report_says_ranking_was_skipped(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        srv.reply({"status": 500})
        r = run_recommend(recs, "--ai", "--format", "markdown", env=ai_env(srv.url))
    assert r.exit_code == 0
    assert "AI ranking skipped: server_error" in r.text


def test_undecodable_paths_reach_the_model_readable(tmp_path, run_recommend):
    raw = str(tmp_path).encode() + b"/t/bad\xff.tmp"
    put(raw, b"x" * 10, age_days=30)
    recs = scan(tmp_path / "t")

    def answer(body: dict) -> str:
        (sent,) = sent_findings(body)
        return json.dumps(
            {"ranking": [{"id": sent["id"], "rationale": f"{sent['paths'][0]} is old"}]}
        )

    with OllamaServer(models=[MODEL]) as srv:
        srv.reply_fn = answer
        r = run_recommend(recs, "--ai", "--only", "--rule", "temporary", env=ai_env(srv.url))
    assert r.exit_code == 0, r.stderr
    (finding,) = findings_of(r)
    assert finding["ai_rationale"] == f"{tmp_path}/t/bad\ufffd.tmp is old"
    assert r.records[-1]["ai"]["dropped_paths"] == 0


def test_json_without_a_ranking_counts_as_invalid(recs, run_recommend):
    with OllamaServer(models=[MODEL]) as srv:
        srv.reply(
            {"content": '{"answer": "f1 first"}', "raw": True},
            {"content": '{"ranking": "f1"}', "raw": True},
        )
        r = run_recommend(recs, "--ai", "--only", env=ai_env(srv.url))
    ai = r.records[-1]["ai"]
    assert ai["status"] == "skipped" and ai["attempts"] == 2
    assert ai["reason"] == "invalid answer: no `ranking` list in the answer"
