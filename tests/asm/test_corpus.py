"""The fixture corpus assembles (zero false positives) and mutants of it are caught."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from hafs_cli.asm import validate_paths, validate_text

from .conftest import PROJECT
from .mutants import fixture_lines, invalid_mutants, odd_mutants


def test_corpus_is_several_thousand_lines_of_every_construct():
    [result] = list(validate_paths([PROJECT]))
    assert result.path.endswith("main.asm")  # everything else is reached through incsrc
    assert len(result.files) == 13
    assert result.lines > 9000
    text = "\n".join(Path(f).read_text() for f in result.files).lower()
    for construct in ("macro ", "%", "if ", "elseif", "else", "while", "rep ", "incbin", "incsrc", "namespace",
                      "struct", "pushpc", "freecode", "warnpc", "table", "math pri", "check title", "arch spc700",
                      "print", "assert", "function", "#_00", "?loop", "<...[", "!sa1", "#=", ":=", "+=", "?=",
                      "dl ", "dd ", "'a'", "%0", " : "):  # fmt: skip
        assert construct in text, construct


def test_corpus_has_zero_false_positives():
    [result] = list(validate_paths([PROJECT]))
    assert [d.format() for d in result.diagnostics] == []


def test_each_corpus_file_alone_has_no_errors():
    # checked on their own, files lose their includer's defines/macros: warnings, never errors
    for f in sorted(PROJECT.rglob("*.asm")):
        diags = validate_text(f.read_text(), str(f), base_dir=f.parent)
        errors = [d.format() for d in diags if d.severity == "error"]
        assert errors == [], f


def _flagged(line: str) -> bool:
    return any(d.severity == "error" for d in validate_text(f"Label:\n{line}\n"))


def test_mutation_catches_at_least_99_percent_of_invalid_mutants(capsys):
    rng = random.Random(65816)
    lines = fixture_lines(PROJECT)
    assert len(lines) > 4000
    mutants = invalid_mutants(lines, rng, per_line=2)
    missed = [m for m in mutants if not _flagged(m.line)]
    rate = 1 - len(missed) / len(mutants)
    by_kind: dict[str, list[int]] = {}
    for m in mutants:
        by_kind.setdefault(m.kind, [0, 0])[0] += 1
    for m in missed:
        by_kind[m.kind][1] += 1
    with capsys.disabled():
        print(
            f"\ninvalid mutants: {len(mutants)}, flagged {len(mutants) - len(missed)} ({rate:.2%}); by class {by_kind}"
        )
    assert rate >= 0.99, [(m.kind, m.line, m.source) for m in missed[:20]]


def test_mutation_flags_none_of_the_legal_but_odd_forms(capsys):
    rng = random.Random(816)
    mutants = odd_mutants(fixture_lines(PROJECT), rng)
    flagged = [m for m in mutants if _flagged(m.line)]
    with capsys.disabled():
        print(f"\nlegal-but-odd mutants: {len(mutants)}, flagged {len(flagged)}")
    assert flagged == []


def test_generated_banks_are_what_the_generator_writes():
    from .fixtures.generate import BANKS, generate_bank

    for bank, routines in BANKS:
        path = PROJECT / "generated" / f"bank{bank:02X}.asm"
        assert path.read_text() == generate_bank(bank, routines, seed=bank * 7919), path


@pytest.mark.skipif(
    shutil.which("64tass") is None, reason="64tass is not installed (apt-get install 64tass)"
)
def test_a_real_assembler_accepts_the_generated_banks(tmp_path):
    """64tass assembles the generated disassembly banks (translated to its syntax)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench", Path(__file__).parents[2] / "scripts/bench_validate_asm.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    parts = [(PROJECT / "defines.asm").read_text(), (PROJECT / "macros.asm").read_text(), "lorom\n"]
    for path in sorted((PROJECT / "generated").glob("bank*.asm")):
        parts.append(f"org ${path.stem[4:]}8000\n" + path.read_text())
    source = tmp_path / "banks.s"
    source.write_text(bench.to_64tass("".join(parts)))
    run = subprocess.run(["64tass", "--quiet", "--nostart", "-b", "-o", str(tmp_path / "b.bin"), str(source)],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
