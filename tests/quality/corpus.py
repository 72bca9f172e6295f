"""A labelled corpus built from realistic 65816 routines (ALttP/SMW disassembly style).

`build(seed, n_routines)` gives an asar source tree (bank files with org and address
comments, a RAM symbol file with defines) and samples that explain its routines:
correct explanations, hallucinated ones (invented instructions, wrong addresses, wrong
names, JSR/JSL swaps, wrong register width, wrong bank) and near-duplicate copies.
Every sample carries its truth in `truth` so precision and recall can be measured.
Used by the tests and by scripts/bench_score.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

AREAS = [
    "Link",
    "Sprite",
    "Ancilla",
    "Dungeon",
    "Overworld",
    "Palette",
    "Menu",
    "Tilemap",
    "Player",
    "Camera",
    "Music",
    "Enemy",
]
VERBS = [
    "Handle",
    "Update",
    "Draw",
    "Load",
    "Init",
    "Check",
    "Apply",
    "Reset",
    "Spawn",
    "Scroll",
    "Fade",
    "Copy",
    "Animate",
    "Decode",
]
NOUNS = [
    "SwordSpin",
    "Hitbox",
    "RoomHeader",
    "Shadow",
    "Palette",
    "OAMBuffer",
    "Velocity",
    "TileCollision",
    "Graphics",
    "Health",
    "Camera",
    "Doors",
    "Chest",
    "Hookshot",
    "Boomerang",
    "Bombs",
    "Torches",
    "Stairs",
    "Water",
    "Ice",
]
RAM = [
    ("LinkPosY", 0x7E0020),
    ("LinkPosX", 0x7E0022),
    ("LinkDirection", 0x7E002F),
    ("FrameCounter", 0x7E001A),
    ("GameMode", 0x7E0010),
    ("SubMode", 0x7E0011),
    ("NMIFlag", 0x7E0012),
    ("ScreenBrightness", 0x7E0013),
    ("JoypadNew", 0x7E00F4),
    ("JoypadHeld", 0x7E00F0),
    ("SpriteState", 0x7E0DD0),
    ("SpriteTimer", 0x7E0DF0),
    ("SpriteHealth", 0x7E0E50),
    ("AncillaType", 0x7E0C4A),
    ("RoomIndex", 0x7E00A0),
    ("CameraY", 0x7E00E8),
    ("CameraX", 0x7E00E2),
    ("PaletteBuffer", 0x7EC500),
    ("OAMBuffer", 0x7E0800),
    ("LinkHealth", 0x7EF36D),
    ("DoorFlags", 0x7E0400),
    ("TorchTimer", 0x7E04F0),
    ("IceFloorFlag", 0x7E0348),
    ("WaterLevel", 0x7E0424),
]
DEFINES = [
    ("!DmaSource", 0x7E1000),
    ("!ScratchA", 0x7E0000),
    ("!ScratchB", 0x7E0002),
    ("!TempPtr", 0x7E0004),
]
REGS = [
    ("INIDISP", 0x2100),
    ("VMAIN", 0x2115),
    ("VMADDL", 0x2116),
    ("CGADD", 0x2121),
    ("NMITIMEN", 0x4200),
    ("MDMAEN", 0x420B),
    ("HDMAEN", 0x420C),
    ("DMAP0", 0x4300),
    ("BBAD0", 0x4301),
    ("A1T0L", 0x4302),
]
INVENTED = ["LDZ", "MVX", "STW", "JSX", "BRZ", "ADX", "SBX", "PHZ", "RTX", "LDW"]


@dataclass
class Routine:
    name: str
    bank: int
    address: int
    lines: list[str]
    uses_width16: bool
    calls: list[tuple[str, str]]  # (mnemonic, callee)
    ram: list[tuple[str, int]]
    regs: list[tuple[str, int]]
    loops: bool
    branches: bool
    indirect: bool
    ret: str
    called_long: bool = False


@dataclass
class Corpus:
    routines: list[Routine]
    files: dict[str, str]
    samples: list[dict] = field(default_factory=list)

    def write_tree(self, root: Path) -> Path:
        for name, text in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root


def _routine(
    rng: random.Random, name: str, bank: int, address: int, others: list[tuple[str, int]]
) -> Routine:
    lines: list[str] = []
    width16 = rng.random() < 0.5
    lines.append(f"    {'REP' if width16 else 'SEP'} #$20")
    ram = rng.sample(RAM, rng.randint(1, 3))
    regs = rng.sample(REGS, rng.randint(0, 2)) if rng.random() < 0.6 else []
    calls: list[tuple[str, str]] = []
    loops = rng.random() < 0.5
    branches = loops or rng.random() < 0.6
    indirect = rng.random() < 0.3
    for sym, _ in ram[:1]:
        lines.append(f"    LDA.w {sym}")
    if branches and not loops:
        lines.append("    BEQ .done")
    if indirect:
        lines += ["    LDY.b #$00", "    LDA [!TempPtr],Y"]
    for sym, _ in ram[1:]:
        lines.append(f"    STA.w {sym}")
    for reg, addr in regs:
        lines.append(f"    STA.w ${addr:04X}  ; {reg}")
    if loops:
        lines += [
            "    LDX.b #$07",
            ".loop",
            "    LDA.w !DmaSource,X",
            "    STA.w PaletteBuffer,X",
            "    DEX",
            "    BPL .loop",
        ]
    for callee, cbank in rng.sample(others, rng.randint(0, 2)):
        mn = "JSR" if cbank == bank else "JSL"
        calls.append((mn, callee))
        lines.append(f"    {mn} {callee}")
    if branches and not loops:
        lines.append(".done")
    ret = "RTL" if rng.random() < 0.6 else "RTS"
    lines.append(f"    {ret}")
    return Routine(
        name, bank, address, lines, width16, calls, ram, regs, loops, branches, indirect, ret
    )


def _explain(rng: random.Random, r: Routine) -> str:
    """A correct explanation in one of several voices."""
    bank = f"${r.bank:02X}"
    addr = f"${r.bank:02X}:{r.address & 0xFFFF:04X}"
    s = []
    s.append(
        rng.choice(
            [
                f"`{r.name}` ({addr}) lives in bank {bank} and {rng.choice(['is a short helper', 'does one job', 'is part of the main loop', 'runs once per frame'])}.",
                f"This routine, {r.name} at {addr}, {rng.choice(['sits in bank', 'is found in bank', 'belongs to bank'])} {bank}.",
                f"{r.name} starts at {addr} in bank {bank}.",
            ]
        )
    )
    width = "16-bit" if r.uses_width16 else "8-bit"
    s.append(
        rng.choice(
            [
                f"It first switches to a {width} accumulator with {'REP' if r.uses_width16 else 'SEP'} #$20.",
                f"The {'REP' if r.uses_width16 else 'SEP'} #$20 at the top puts the accumulator in {width} mode.",
                f"Before anything else the code selects a {width} accumulator.",
            ]
        )
    )
    first = r.ram[0]
    s.append(
        rng.choice(
            [
                f"It reads {first[0]} (${first[1] >> 16:02X}:{first[1] & 0xFFFF:04X}) into A.",
                f"The value of {first[0]} at ${first[1]:06X} is loaded first.",
                f"A is loaded from {first[0]}, which holds the current state.",
            ]
        )
    )
    if r.branches and not r.loops:
        s.append(
            rng.choice(
                [
                    "When that value is zero it skips ahead to the exit.",
                    "If the flag is clear it branches straight to the end.",
                    "A zero result makes it skip the rest.",
                ]
            )
        )
    if r.indirect:
        s.append(
            rng.choice(
                [
                    "It then reads through the long pointer in !TempPtr with Y as the index.",
                    "Y is cleared and the byte at the 24-bit pointer !TempPtr is fetched.",
                ]
            )
        )
    for sym, a in r.ram[1:]:
        s.append(
            rng.choice(
                [
                    f"The result is stored to {sym} (${a >> 16:02X}:{a & 0xFFFF:04X}).",
                    f"It then writes A to {sym}.",
                    f"{sym} receives the new value.",
                ]
            )
        )
    for reg, a in r.regs:
        s.append(
            rng.choice(
                [
                    f"It also writes the hardware register {reg} (${a:04X}).",
                    f"A store to {reg} updates the PPU or DMA state.",
                    f"The write to ${a:04X} ({reg}) configures the hardware.",
                ]
            )
        )
    if r.loops:
        s.append(
            rng.choice(
                [
                    "A loop copies eight bytes from !DmaSource into PaletteBuffer, counting X down from 7.",
                    "X counts down from 7 while each byte of !DmaSource is copied to PaletteBuffer.",
                    "The loop repeats eight times, moving palette bytes from !DmaSource to PaletteBuffer.",
                ]
            )
        )
    for mn, callee in r.calls:
        s.append(
            rng.choice(
                [
                    f"Next it calls {callee} with {mn}.",
                    f"It hands off to `{callee}` using {mn}.",
                    f"A {mn} to {callee} follows.",
                ]
            )
        )
    s.append(
        rng.choice(
            [
                f"Finally it returns with {r.ret}.",
                f"The routine ends in {r.ret}.",
                f"It exits through {r.ret} to its caller.",
            ]
        )
    )
    return " ".join(s)


def _corrupt(rng: random.Random, r: Routine, text: str, how: str, known: set[str]) -> str | None:
    if how == "invented_instruction":
        op = rng.choice(INVENTED)
        return (
            text
            + f" Along the way it uses `{op} #$10` to {rng.choice(['clear the counter', 'move the block', 'set the flag'])}."
        )
    if how == "wrong_address":
        first = r.ram[0]
        good = f"${first[1] >> 16:02X}:{first[1] & 0xFFFF:04X}"
        bad_addr = first[1] + rng.choice([0x31, 0x143, 0x2A1])
        bad = f"${bad_addr >> 16:02X}:{bad_addr & 0xFFFF:04X}"
        if good in text:
            return text.replace(good, bad, 1)
        return text + f" It also keeps a copy in {first[0]} at {bad}."
    if how == "wrong_name":
        for callee in [c for _, c in r.calls] + [sym for sym, _ in r.ram]:
            if callee in text:
                parts = callee.split("_")
                fake = (
                    parts[0]
                    + "_"
                    + rng.choice(VERBS)
                    + rng.choice(["Buffer", "State", "Queue", "Table"])
                    if len(parts) > 1
                    else callee + "Mirror"
                )
                if fake not in known:
                    return text.replace(callee, fake)
        return None
    if how == "swapped_callee":
        # A real routine name, just not the one called: grounded, so hard to catch.
        if not r.calls:
            return None
        callee = r.calls[0][1]
        other = rng.choice(sorted(known - {callee, r.name} - {n for n, _ in RAM}))
        return text.replace(callee, other)
    if how == "jsr_jsl_swap":
        if not r.calls:
            return None
        mn, callee = r.calls[0]
        other = "JSL" if mn == "JSR" else "JSR"
        return (
            text.replace(f"with {mn}", f"with {other}")
            .replace(f"using {mn}", f"using {other}")
            .replace(f"A {mn} to", f"A {other} to")
        )
    if how == "wrong_width":
        good = "16-bit" if r.uses_width16 else "8-bit"
        bad = "8-bit" if r.uses_width16 else "16-bit"
        return text.replace(f"{good} accumulator", f"{bad} accumulator").replace(
            f"in {good} mode", f"in {bad} mode"
        )
    if how == "wrong_bank":
        wrong = (r.bank + rng.randint(1, 5)) % 0x10
        return text.replace(f"bank ${r.bank:02X}", f"bank ${wrong:02X}")
    raise ValueError(how)


def _near_copy(rng: random.Random, text: str) -> str:
    """A near-duplicate: same answer with light edits (case, a synonym, spacing, a tail)."""
    edits = {
        "reads": "loads",
        "writes": "stores",
        "Finally": "At the end",
        "It first": "First it",
        "calls": "invokes",
    }
    out = text
    for a, b in rng.sample(sorted(edits.items()), 2):
        out = out.replace(a, b, 1)
    if rng.random() < 0.5:
        out = out.replace(". ", ".  ", 2)
    if rng.random() < 0.5:
        out += rng.choice([" That is all it does.", " Nothing else happens here."])
    return out


CORRUPTIONS = [
    "invented_instruction",
    "wrong_address",
    "wrong_name",
    "jsr_jsl_swap",
    "wrong_width",
    "wrong_bank",
    "swapped_callee",
]


def build(seed: int = 1, n_routines: int = 80, per_routine: int = 2) -> Corpus:
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n_routines:
        name = f"{rng.choice(AREAS)}_{rng.choice(VERBS)}{rng.choice(NOUNS)}"
        if name not in names:
            names.append(name)
    banks = [rng.randint(0, 0x0D) for _ in names]
    placed = list(zip(names, banks, strict=True))
    routines: list[Routine] = []
    offsets: dict[int, int] = {}
    for name, bank in placed:
        offset = offsets.get(bank, 0x8000 + rng.randint(0, 0x40) * 0x10)
        others = [(n, b) for n, b in placed if n != name]
        r = _routine(rng, name, bank, bank << 16 | offset, others)
        offsets[bank] = offset + 0x40 + rng.randint(0, 0x20) * 0x10
        routines.append(r)
    files: dict[str, str] = {}
    ram_lines = ["; WRAM symbols", "lorom", ""]
    ram_lines += [f"{n} = ${a:06X}" for n, a in RAM]
    ram_lines += [f"{n} = ${a:06X}" for n, a in DEFINES]
    files["symbols/ram.asm"] = "\n".join(ram_lines) + "\n"
    for bank in sorted({r.bank for r in routines}):
        text = [f"; Bank ${bank:02X}", f"org ${bank:02X}8000", ""]
        for r in sorted((r for r in routines if r.bank == bank), key=lambda r: r.address):
            text += [
                "; " + "=" * 60,
                f"; ${r.bank:02X}:{r.address & 0xFFFF:04X}",
                f"{r.name}:",
                "{",
                *r.lines,
                "}",
                "",
            ]
        files[f"bank_{bank:02X}.asm"] = "\n".join(text) + "\n"
    corpus = Corpus(routines, files)
    known = set(names) | {n for n, _ in RAM}
    serial = 0
    for r in routines:
        code = "\n".join([f"{r.name}:", *r.lines])
        for _ in range(per_routine):
            serial += 1
            text = _explain(rng, r)
            truth = {"halluc": False, "corruption": None, "duplicate_of": None}
            roll = rng.random()
            if roll < 0.4:
                for how in rng.sample(CORRUPTIONS, len(CORRUPTIONS)):
                    bad = _corrupt(rng, r, text, how, known)
                    if bad is not None and bad != text:
                        text, truth = bad, {"halluc": True, "corruption": how, "duplicate_of": None}
                        break
            corpus.samples.append(_sample(serial, r, code, text, truth))
    originals = [s for s in corpus.samples if not s["truth"]["halluc"]]
    for orig in rng.sample(originals, max(1, len(originals) // 6)):
        serial += 1
        copy = dict(orig)
        copy["sample_id"] = f"s{serial:05d}"
        copy["output"] = _near_copy(rng, orig["output"])
        copy["truth"] = {"halluc": False, "corruption": None, "duplicate_of": orig["sample_id"]}
        corpus.samples.append(copy)
    return corpus


def _sample(serial: int, r: Routine, code: str, text: str, truth: dict) -> dict:
    return {
        "kind": "sample",
        "sample_id": f"s{serial:05d}",
        "domain": "asm",
        "source": f"bank_{r.bank:02X}.asm:{r.name}",
        "instruction": "Explain what this 65816 routine does.",
        "input": code,
        "output": text,
        "truth": truth,
    }


HALLUC_RULES = frozenset(
    {"halluc_risk", "invalid_code", "unknown_instruction", "contradiction", "name_address_mismatch"}
)


def evaluate(scores: list[dict], samples: list[dict]) -> dict[str, dict]:
    """Precision and recall of the hallucination and near-duplicate flags against `truth`."""
    truth = {s["sample_id"]: s["truth"] for s in samples}
    counts = {"halluc": {"tp": 0, "fp": 0, "fn": 0}, "near_duplicate": {"tp": 0, "fp": 0, "fn": 0}}
    for rec in scores:
        t = truth[rec["sample_id"]]
        got = {x["rule"] for x in rec["reasons"]}
        for name, flagged, actual in (
            ("halluc", bool(got & HALLUC_RULES), t["halluc"]),
            ("near_duplicate", "near_duplicate" in got, t["duplicate_of"] is not None),
        ):
            c = counts[name]
            if flagged and actual:
                c["tp"] += 1
            elif flagged:
                c["fp"] += 1
            elif actual:
                c["fn"] += 1
    for c in counts.values():
        c["precision"] = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        c["recall"] = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return counts
