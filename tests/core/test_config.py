"""Layered configuration: origins, checking with file:line:column, the documented hafs.toml."""

from __future__ import annotations

import tomllib

import pytest

from hafs_cli import config as cfg
from hafs_cli.gen import assemble_config_schema, documented_toml
from tests.conftest import REPO


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_come_from_the_schema():
    conf = cfg.load_config()
    assert conf.get("output.progress") is True
    assert conf.get("output.table_rows") == 500
    assert conf.origin("output.table_rows") == "default"


def test_layers_later_wins_with_origins(isolated_env, tmp_path, monkeypatch):
    user = write(
        isolated_env / ".config/hafs/hafs.toml", "[output]\ntable_rows = 10\nprogress = false\n"
    )
    project = write(tmp_path / "hafs.toml", "[output]\n\ntable_rows = 20\n")
    monkeypatch.chdir(tmp_path)
    conf = cfg.load_config()
    assert conf.get("output.progress") is False
    assert conf.origin("output.progress") == f"{user}:3"
    assert conf.get("output.table_rows") == 20
    assert conf.origin("output.table_rows") == f"{project.name}:3"
    conf = cfg.load_config({"HAFS_OUTPUT__TABLE_ROWS": "30"})
    assert conf.get("output.table_rows") == 30
    assert conf.origin("output.table_rows") == "env HAFS_OUTPUT__TABLE_ROWS"
    conf = conf.with_overrides({"output.table_rows": 40, "output.progress": None})
    assert conf.get("output.table_rows") == 40 and conf.origin("output.table_rows") == "flag"
    assert conf.get("output.progress") is False


def test_hafs_config_env_replaces_the_project_file(tmp_path, monkeypatch):
    write(tmp_path / "hafs.toml", "[output]\ntable_rows = 20\n")
    other = write(tmp_path / "other.toml", "[output]\ntable_rows = 7\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HAFS_CONFIG", str(other))
    assert cfg.load_config().get("output.table_rows") == 7


def test_env_naming_an_unknown_key_is_an_error(monkeypatch):
    with pytest.raises(cfg.HafsError, match="HAFS_OUTPUT__TABLE_ROW names no"):
        cfg.load_config({"HAFS_OUTPUT__TABLE_ROW": "3"})


def test_unknown_key_is_reported_with_position_and_did_you_mean():
    text = "[output]\nprogress = true\n  tabel_rows = 3\n"
    (problem,) = cfg.check_config_text(text, "h.toml")
    assert (problem.file, problem.line, problem.column) == ("h.toml", 3, 3)
    assert "unknown key 'output.tabel_rows'" in problem.message
    assert "did you mean 'table_rows'" in problem.message


def test_unknown_section_is_reported():
    (problem,) = cfg.check_config_text("[outptu]\nx = 1\n", "h.toml")
    assert (problem.line, problem.column) == (1, 1)
    assert "did you mean 'output'" in problem.message


def test_wrong_type_is_reported_at_the_key():
    text = '[output]\n\ntable_rows = "many"\n'
    (problem,) = cfg.check_config_text(text, "h.toml")
    assert (problem.line, problem.column) == (3, 1)
    assert "output.table_rows" in problem.message and "integer" in problem.message


def test_toml_syntax_error_has_line_and_column():
    (problem,) = cfg.check_config_text("[output]\nprogress = tru\n", "h.toml")
    assert problem.line == 2 and problem.column > 1
    assert problem.message.startswith("TOML syntax error")


def test_invalid_project_file_stops_commands_with_exit_2(hafs, tmp_path):
    write(tmp_path / "hafs.toml", "[output]\ntable_rows = -1\n")
    result = hafs("config", "show", cwd=tmp_path)
    assert result.exit_code == 2
    assert b"hafs.toml:2:1" in result.stderr and b"Traceback" not in result.stderr


def test_config_show_lists_values_with_origins(hafs, tmp_path):
    write(tmp_path / "hafs.toml", "[output]\ntable_rows = 9\n")
    result = hafs("config", "show", "output", "--format", "jsonl", cwd=tmp_path)
    assert result.exit_code == 0
    assert result.records == [
        {"kind": "config_value", "key": "output.progress", "value": True, "origin": "default"},
        {"kind": "config_value", "key": "output.table_rows", "value": 9, "origin": "hafs.toml:2"},
    ]


def test_config_show_unknown_section(hafs):
    result = hafs("config", "show", "outptu")
    assert result.exit_code == 2 and b"did you mean 'output'" in result.stderr


def test_config_check_exit_statuses(hafs, tmp_path):
    good = write(tmp_path / "good.toml", "[output]\nprogress = false\n")
    bad = write(tmp_path / "bad.toml", "[output]\nprogres = false\n")
    assert hafs("config", "check", str(good)).exit_code == 0
    result = hafs("config", "check", str(bad), "--format", "jsonl")
    assert result.exit_code == 1
    assert result.records == [
        {
            "kind": "config_problem",
            "file": str(bad),
            "line": 2,
            "column": 1,
            "message": "unknown key 'output.progres'; did you mean 'progress'?",
        }
    ]


def test_locate_keys_handles_dotted_keys_and_quoted_names():
    where = cfg.locate_keys('[a]\nb.c = 1\n"d e" = 2\n[x."y.z"]\nk = 1\n')
    assert where[("a", "b", "c")] == (2, 1)
    assert where[("a", "d e")] == (3, 1)
    assert where[("x", "y.z", "k")] == (5, 1)


def test_documented_hafs_toml_is_current_and_valid():
    schema = assemble_config_schema(REPO)
    text = (REPO / "hafs.toml").read_text()
    assert text == documented_toml(schema), "hafs.toml is stale: run scripts/regen.py"
    assert cfg.check_config_text(text, "hafs.toml") == []
    doc = tomllib.loads(text)
    for section, sub in schema["properties"].items():
        for key, prop in sub.get("properties", {}).items():
            assert prop.get("description"), f"{section}.{key} has no description"
            if "default" in prop and prop.get("type") != "object":
                assert doc[section][key] == prop["default"], f"{section}.{key}"


def test_assembled_schema_is_current():
    import json

    on_disk = json.loads((REPO / "schemas/hafs.toml.schema.json").read_text())
    assert on_disk == assemble_config_schema(REPO), "run scripts/regen.py"


def test_a_validated_file_is_not_revalidated_until_it_changes(tmp_path, monkeypatch):
    project = write(tmp_path / "hafs.toml", "[output]\ntable_rows = 9\n")
    monkeypatch.chdir(tmp_path)
    calls = []
    real = cfg.check_config_text
    monkeypatch.setattr(cfg, "check_config_text", lambda t, n: calls.append(n) or real(t, n))
    assert cfg.load_config().get("output.table_rows") == 9
    assert cfg.load_config().get("output.table_rows") == 9
    assert len(calls) == 1
    project.write_text("[output]\ntable_rows = -3\n")
    with pytest.raises(cfg.HafsError, match="hafs.toml:2:1"):
        cfg.load_config()
    assert len(calls) == 2


def test_deeply_nested_toml_is_a_problem_not_a_crash(hafs, tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    result = hafs("config", "check", str(deep), "--format", "jsonl")
    assert result.exit_code == 1
    assert "nested too deeply" in result.records[0]["message"]
    assert b"Traceback" not in result.stderr


def test_unknown_keys_inside_named_tables_are_reported():
    text = "[score.domains.asm]\nthreshold = 0.5\n\n[score.domains.asm.weights]\nbogus = 1\n"
    problems = cfg.check_config_text(text, "h.toml")
    assert [(p.line, p.message) for p in problems] == [
        (5, "unknown key 'score.domains.asm.weights.bogus'")
    ]
