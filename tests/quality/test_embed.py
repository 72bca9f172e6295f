"""--embed: semantic diversity through the real ollama client and an Ollama-protocol server."""

from __future__ import annotations

import os
import socket

from tests.fixtures.ollama_server import OllamaServer

from .conftest import jsonl

TEXT = "Link_Update reads the joypad, moves Link and returns with RTL to the main loop afterwards."


def _samples() -> list[dict]:
    return [
        {"kind": "sample", "sample_id": "a", "output": TEXT},
        {"kind": "sample", "sample_id": "b", "output": TEXT},  # same text: cosine 1
        {
            "kind": "sample",
            "sample_id": "c",
            "output": "A different answer about palettes fading in over sixteen frames of the intro.",
        },
    ]


def test_embed_adds_semantic_neighbours_and_lowers_diversity_of_the_later_copy(hafs, tmp_path):
    with OllamaServer(["nomic-embed-text"]) as srv:
        (tmp_path / "hafs.toml").write_text(f'[score]\nembed_host = "{srv.url}"\n')
        r = hafs("score", "--only", "--embed", input=jsonl(_samples()), cwd=tmp_path)
        assert r.exit_code == 0, r.stderr
        assert srv.counts["/api/embed"] >= 1
    a, b, c = r.records
    assert a["semantic_nearest"] == {"sample_id": "b", "cosine": 1.0, "reference": False}
    assert b["components"]["diversity"] == 0.0
    assert a["components"]["diversity"] == 1.0


def test_embed_without_a_server_is_a_runtime_error(hafs, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "hafs.toml").write_text(f'[score]\nembed_host = "http://127.0.0.1:{port}"\n')
    r = hafs("score", "--only", "--embed", input=jsonl(_samples()), cwd=tmp_path)
    assert r.exit_code == 3
    assert b"no Ollama server answering" in r.stderr
    assert b"Traceback" not in r.stderr


def test_embed_with_a_missing_model_says_how_to_get_it(hafs, tmp_path):
    with OllamaServer(["other-model"]) as srv:
        (tmp_path / "hafs.toml").write_text(f'[score]\nembed_host = "{srv.url}"\n')
        r = hafs("score", "--only", "--embed", input=jsonl(_samples()), cwd=tmp_path)
    assert r.exit_code == 3
    assert b"ollama pull nomic-embed-text" in r.stderr


def test_sentence_transformers_backend_without_the_package_says_how_to_get_it(hafs, tmp_path):
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is not None:
        import pytest

        pytest.skip("sentence-transformers is installed here")
    (tmp_path / "hafs.toml").write_text('[score]\nembed_backend = "sentence-transformers"\n')
    r = hafs("score", "--only", "--embed", input=jsonl(_samples()), cwd=tmp_path)
    assert r.exit_code == 3
    assert b"pip install sentence-transformers" in r.stderr


def test_embed_host_may_name_an_orchestrate_host_and_its_training_guard_applies(
    hafs, tmp_path, monkeypatch
):
    # score's model calls go through orchestrate's client: a configured host name works,
    # and a GPU host busy with training is left alone (the cpu host answers instead).
    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '97, 20000, 24576'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    with OllamaServer(["nomic-embed-text"]) as gpu, OllamaServer(["nomic-embed-text"]) as cpu:
        (tmp_path / "hafs.toml").write_text(
            '[score]\nembed_host = "gpu"\n'
            f'[orchestrate.hosts.gpu]\nurl = "{gpu.url}"\ntags = ["gpu"]\n'
            f'[orchestrate.hosts.cpu]\nurl = "{cpu.url}"\nstandby_for = "gpu"\n'
        )
        r = hafs("score", "--only", "--embed", input=jsonl(_samples()), cwd=tmp_path)
        assert r.exit_code == 3, r.stderr  # pinned to gpu, which trains: nothing else may run it
        assert b"busy with training" in r.stderr and b"Traceback" not in r.stderr
        assert gpu.counts["/api/embed"] == 0
        (tmp_path / "hafs.toml").write_text(
            f'[orchestrate.hosts.gpu]\nurl = "{gpu.url}"\ntags = ["gpu"]\n'
            f'[orchestrate.hosts.cpu]\nurl = "{cpu.url}"\nstandby_for = "gpu"\n'
            '[score]\nembed_host = ""\n'
        )
        r = hafs("score", "--only", "--embed", input=jsonl(_samples()), cwd=tmp_path)
        assert r.exit_code == 0, r.stderr
        assert gpu.counts["/api/embed"] == 0 and cpu.counts["/api/embed"] >= 1
    assert r.records[0]["semantic_nearest"]["sample_id"] == "b"
