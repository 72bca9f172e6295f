"""Near-duplicate search and the knowledge graph with its on-disk cache."""

from __future__ import annotations

import sqlite3

from hafs_cli.quality import minhash
from hafs_cli.quality.kg import build_graph, parse_source


def _sh(text: str):
    return minhash.shingles(minhash.normalise_text(text), 3, minhash.WordHasher())


def test_jaccard_is_exact():
    a, b = _sh("one two three four five"), _sh("one two three four six")
    # shingles: {123, 234, 345} vs {123, 234, 346}: 2 shared of 4
    assert minhash.jaccard(a, b) == 0.5


def test_lsh_finds_near_duplicates_and_not_strangers():
    base = (
        "the routine reads the joypad state then stores the new buttons into ram and returns with rtl "
        * 2
    )
    near = base.replace("stores", "writes", 1)
    other = "palette fade in loop counts down the brightness each frame until the screen is fully lit again"
    index = minhash.LSHIndex(128, 32)
    keys = [index.keys(minhash.sketch(_sh(t), 128)) for t in (base, near, other)]
    for i, k in enumerate(keys):
        index.add(i, k)
    assert index.best_candidates(keys[0], 16) == [0, 1]  # itself and its near copy
    assert 2 not in index.best_candidates(keys[1], 16)


def test_graph_takes_addresses_from_org_comments_names_and_assignments(tmp_path):
    (tmp_path / "bank_00.asm").write_text(
        "org $008000\nReset:\n  SEI\n  RTL\n; $00:8100\nNmi_Main:\n  RTI\nCODE_00A2E6:\n  RTS\n"
        "Loose:\n  RTS\n"
    )
    (tmp_path / "ram.asm").write_text("LinkPosX = $7E0022\n!TempPtr = $7E0004\n")
    g = build_graph(tmp_path, "lorom", None)
    addr = {n: s.address for n, s in g.symbols.items()}
    assert addr == {
        "Reset": 0x008000,
        "Nmi_Main": 0x008100,
        "CODE_00A2E6": 0x00A2E6,
        "Loose": None,
        "LinkPosX": 0x7E0022,
        "!TempPtr": 0x7E0004,
    }
    assert g.symbols["Reset"].kind == "routine"
    assert g.lookup("TempPtr") is g.symbols["!TempPtr"]
    assert g.knows_address(0x0022, 2) and g.knows_address(0x808000, 3)
    assert not g.knows_address(0x7E0023, 3)


def test_sublabels_are_qualified_by_their_routine():
    symbols, routines, mapper = parse_source(
        "Main:\n  LDX #$07\n.loop\n  DEX\n  BPL .loop\n  RTS\n", "f.asm"
    )
    assert ["sublabel", "Main_loop", None, 3] in symbols
    assert routines[0][0] == "Main"
    assert mapper is None


def test_cache_serves_unchanged_files_and_reparses_changed_ones(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.asm").write_text("org $018000\nFirst:\n  RTS\n")
    (src / "b.asm").write_text("org $028000\nSecond:\n  RTS\n")
    cache = tmp_path / "kg.sqlite"
    g1 = build_graph(src, "lorom", cache)
    assert (g1.files, g1.cached_files) == (2, 0)
    (src / "b.asm").write_text("org $038000\nSecond:\n  RTS\n")
    g2 = build_graph(src, "lorom", cache)
    assert g2.cached_files == 1
    assert g2.symbols["Second"].address == 0x038000  # the changed file was not served stale
    rows = sqlite3.connect(cache).execute("SELECT count(*) FROM parse").fetchone()[0]
    assert rows == 3


def test_mapper_comes_from_the_trees_directive(tmp_path, hafs):
    (tmp_path / "main.asm").write_text("hirom\norg $C08000\n; $C0:8000\nBoot:\n  SEI\n  RTL\n")
    g = build_graph(tmp_path, "auto", None)
    assert g.mapper == "hirom"
    assert build_graph(tmp_path, "lorom", None).mapper == "lorom"  # an explicit choice wins
    sample = b'{"kind": "sample", "sample_id": "b", "routine": "Boot", "output": "Boot disables IRQs and returns."}\n'
    r = hafs("score", "--only", "--source-root", tmp_path, input=sample)
    assert r.records[0]["bank"] == "$C0"
    r = hafs("score", "--only", "--source-root", tmp_path, "--mapper", "lorom", input=sample)
    assert r.records[0]["bank"] == "$40"  # LoROM folds $C0 to $40


def test_lowercase_mnemonics_make_a_routine_too(tmp_path):
    (tmp_path / "hack.asm").write_text(
        "org $138000\nMyHook:\n  lda.b $10\n  jsl $0DFA7B\n  rtl\nMyTable:\n  db $01, $02\n"
    )
    g = build_graph(tmp_path, "auto", None)
    assert g.symbols["MyHook"].kind == "routine"
    assert g.symbols["MyTable"].kind == "label"  # data, not code


def test_a_broken_link_or_fifo_in_the_tree_is_reported_not_a_crash_or_a_hang(tmp_path, hafs):
    import os

    src = tmp_path / "src"
    src.mkdir()
    (src / "main.asm").write_text("org $008000\nReset:\n  SEI\n  RTL\n")
    (src / "gone.asm").symlink_to(tmp_path / "nowhere.asm")
    os.mkfifo(src / "pipe.asm")  # reading it would block for ever
    g = build_graph(src, "lorom", None)
    assert g.unreadable == [
        (str(src / "gone.asm"), "No such file or directory"),
        (str(src / "pipe.asm"), "not a regular file"),
    ]
    assert g.symbols["Reset"].address == 0x008000  # the readable files still count
    sample = (
        b'{"kind": "sample", "sample_id": "r", "routine": "Reset", "output": "Reset returns."}\n'
    )
    r = hafs("score", "--only", "--source-root", src, input=sample)
    assert r.exit_code == 2 and b"internal error" not in r.stderr
    assert [e["source"] for e in r.errors] == [str(src / "gone.asm"), str(src / "pipe.asm")]
    assert r.errors[0]["reason"].startswith(f"source tree: cannot read {src / 'gone.asm'}")
    assert r.records[0]["bank"] == "$00"
