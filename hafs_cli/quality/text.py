"""What a sample says: entities in prose and facts of the code it explains.

Prose entities are addresses ($7E:0022, $7E0022, $0022, 0x7E0022), labels (identifiers
with an underscore or inner capital, or in backticks), asar defines (!Name) and SNES
register names; name<->address pairs are a name written next to an address. Code facts
come from a light line parser: enough to compare a text with its routine, not a validator
(that is hafs_cli.asm's job).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from hafs_cli.quality import instructions
from hafs_cli.quality.hwregs import REGISTERS

# Each branch starts with its literal ($, 0x, !) so the scan skips ahead fast; the
# look-behind after it checks the character before (no #$20 immediates, no a$b).
_ADDRESS_OR_DEFINE = re.compile(
    r"\$(?<![\#\w$]\$)(?:(?P<lb>[0-9A-Fa-f]{2}):(?P<la>[0-9A-Fa-f]{4})|(?P<l6>[0-9A-Fa-f]{6})"
    r"|(?P<a4>[0-9A-Fa-f]{4}))(?![0-9A-Fa-f:])"
    r"|0x(?<!\w0x)(?P<x>[0-9A-Fa-f]{6}|[0-9A-Fa-f]{4})\b"
    r"|!(?P<dn>[A-Za-z_]\w*)"
)
_IDENT = re.compile(r"(?<![\w.$!\#:])[A-Za-z_]\w*")
# Unquoted words count as labels only with an underscore or a lower->upper step
# (LinkPosX); VBlank, SPC700, W65C816S or DMA0 in prose are words, not labels.
_CAMEL = re.compile(r"[a-z][A-Z]")
# An address right after these names another address space (VRAM $4000), not the CPU bus.
_OTHER_SPACE = re.compile(r"\b(?:vram|cgram|oam|aram|spc700|spc|apu ram)\b[^.$]{0,24}$", re.I)
_BACKTICK = re.compile(r"`([^`\n]{1,80})`")
_PAIR_GAP = re.compile(
    r"^[\s`'\"]*(?:\(|=|:|@|at|is at|lives at|located at|stored at|is stored at)?[\s`'\"(]*$",
    re.I,
)
_INSTR_CLAIM = re.compile(
    r"\b([A-Z]{3})(?:\.[bwl])?(?:\s+(?=[#$(\[])|\s+(?:instruction|opcode)s?\b)"
)
_WIDTH_BEFORE = re.compile(
    r"\b(8|16)[- ]bit\s+(accumulator|a\b|index(?:\s+registers?)?|x\b|y\b|x/y\b)", re.I
)
_WIDTH_AFTER = re.compile(
    r"\b(accumulator|a|index registers?|x/y|x and y|x|y)\s+(?:is|are|as|to|set to|in|becomes)\s+"
    r"(?:an?\s+)?(8|16)[- ]bits?\b",
    re.I,
)
_NAME = r"`?(!?[A-Za-z_][\w]*)`?"
_CALL_CLAIMS = (
    re.compile(r"\b(JSR|JSL|JML|JMP)(?:\.[wl])?\s+(?:to\s+|into\s+)?" + _NAME),
    re.compile(
        r"\b(?:call\w*|invok\w*|jump\w* to|hands? off to|branch\w* to)\s+"
        + _NAME
        + r"\s+(?:with|using|via|through)\s+(?:an?\s+|the\s+)?(JSR|JSL|JML|JMP)\b"
    ),
)
_CALL_VERBS = ("call", "invok", "jump", "hand", "branch")
_BANK_CLAIM = re.compile(r"\bbank\s+\$?([0-9A-Fa-f]{2})\b", re.I)
HEDGES = (
    "i think",
    "i believe",
    "i guess",
    "probably",
    "possibly",
    "perhaps",
    "presumably",
    "might",
    "may be",
    "maybe",
    "it seems",
    "seems to",
    "appears to",
    "not sure",
    "i'm not sure",
    "unclear",
    "likely",
    "as far as i know",
    "if i recall",
    "could be",
)
_HEDGE = re.compile(
    r"\b(" + "|".join(re.escape(h) for h in sorted(HEDGES, key=len, reverse=True)) + r")\b", re.I
)
# The longest word of each hedge: if none occurs in the text, no hedge can match.
_HEDGE_KEYS = tuple(sorted({max(h.split(), key=len) for h in HEDGES}))
_WORD = re.compile(r"[a-z0-9_$#:!]+")
_STOP_IDENTS = frozenset(
    """README TODO NOTE FIXME LoROM HiROM ExLoROM ExHiROM FastROM SlowROM LoRom HiRom FastRom
    SlowRom SuperFX SA1 SA_1 SNES NES MSU1 GitHub JavaScript PowerPC macOS iOS PyTorch
    OpenAI""".split()  # noqa: SIM905 - a word list reads better as text
)


@dataclass(slots=True)
class Mention:
    kind: str  # address | label | define | register
    text: str
    name: str | None = None
    address: int | None = None
    width: int = 3  # address digits in bytes: 2 for $xxxx, 3 for long


@dataclass(slots=True)
class ProseFacts:
    mentions: list[Mention]
    pairs: list[tuple[Mention, Mention]]  # (name mention, address mention)
    mnemonics: set[str]  # real instructions the text names
    invented: list[str]  # instruction-like words that are not 65816 instructions
    widths: dict[str, set[int]]  # 'a' / 'x' -> widths the text claims
    banks: list[tuple[int, str | None]]  # (bank, the label the sentence is about, if any)
    hedges: list[str]
    words: list[str]
    calls: list[tuple[str, str]]  # (mnemonic, target) the text says the routine uses


def _is_label_like(word: str, quoted: bool) -> bool:
    if len(word) < 4 or word in _STOP_IDENTS or word.upper() in instructions.MNEMONICS:
        return False
    if "_" in word.strip("_"):
        return len(word) >= 4
    return bool(_CAMEL.search(word)) or (quoted and not word.islower())


def prose_facts(text: str) -> ProseFacts:
    """Entities, claims and hedges in an explanation."""
    quoted_words = {q.strip() for q in _BACKTICK.findall(text)}

    mentions: list[tuple[int, int, Mention]] = []
    mnemonics: set[str] = set()
    for m in (
        _ADDRESS_OR_DEFINE.finditer(text) if ("$" in text or "!" in text or "0x" in text) else ()
    ):
        if m["lb"]:
            men = Mention("address", m.group(), address=int(m["lb"], 16) << 16 | int(m["la"], 16))
        elif m["l6"]:
            men = Mention("address", m.group(), address=int(m["l6"], 16))
        elif m["a4"]:
            men = Mention("address", m.group(), address=int(m["a4"], 16), width=2)
        elif m["x"]:
            digits = m["x"]
            men = Mention("address", m.group(), address=int(digits, 16), width=len(digits) // 2)
        else:
            men = Mention("define", m.group(), name=m["dn"])
        if men.kind == "address" and _OTHER_SPACE.search(text, max(0, m.start() - 30), m.start()):
            continue
        mentions.append((m.start(), m.end(), men))
    for m in _IDENT.finditer(text):
        word = m.group()
        rest = word[1:]
        if rest.islower() and "_" not in word and word not in quoted_words:
            continue  # plain words: the common case, decided without more work
        if word in REGISTERS:
            men = Mention("register", word, name=word, address=REGISTERS[word])
        elif word in instructions.MNEMONICS:
            mnemonics.add(word)
            continue
        elif _is_label_like(word, word in quoted_words):
            men = Mention("label", word, name=word)
        else:
            continue
        mentions.append((m.start(), m.end(), men))
    mentions.sort(key=lambda t: t[0])
    pairs = []
    for (_, e1, a), (s2, _, b) in itertools.pairwise(mentions):
        named = {a.kind, b.kind} & {"label", "define", "register"}
        if not named or "address" not in {a.kind, b.kind} or not _PAIR_GAP.match(text[e1:s2]):
            continue
        pairs.append((a, b) if a.kind != "address" else (b, a))
    invented = sorted(
        {w for w in _INSTR_CLAIM.findall(text) if w not in instructions.MNEMONICS}
        | {
            q.split()[0].upper()
            for q in _BACKTICK.findall(text)
            if re.fullmatch(r"[A-Za-z]{3}(\.[bwl])?(\s+\S.*)?", q.strip())
            and q.split()[0][:3].upper() not in instructions.MNEMONICS
            and q.split()[0][:3].isupper()
            and len(q.split()) > 1
        }
    )
    lower = text.lower()
    widths: dict[str, set[int]] = {"a": set(), "x": set()}
    if "bit" in lower:
        for bits, reg in _WIDTH_BEFORE.findall(text):
            widths[_width_reg(reg)].add(int(bits))
        for reg, bits in _WIDTH_AFTER.findall(text):
            widths[_width_reg(reg)].add(int(bits))
    banks = []
    if "bank" in lower:
        for m in _BANK_CLAIM.finditer(text):
            sentence_start = max(text.rfind(". ", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
            subject = None
            for start, _, men in mentions:
                if sentence_start <= start < m.start() and men.kind == "label":
                    subject = men.name  # the last label before "bank" in its sentence
            banks.append((int(m.group(1), 16), subject))
    words = _WORD.findall(lower)
    # The full hedge pattern (slow: many alternatives) only runs when a hedge may be there.
    hedged = any(k in lower for k in _HEDGE_KEYS)
    hedges = [h.lower() for h in _HEDGE.findall(text)] if hedged else []
    calls = []
    if "JS" in text or "JM" in text:
        calls = [(m.group(1), m.group(2)) for m in _CALL_CLAIMS[0].finditer(text)]
    if any(w in lower for w in _CALL_VERBS):
        calls += [(m.group(2), m.group(1)) for m in _CALL_CLAIMS[1].finditer(text)]
    calls = [(mn, t) for mn, t in calls if t.startswith("!") or _is_label_like(t, True)]
    return ProseFacts(
        mentions=[m for _, _, m in mentions],
        pairs=pairs,
        mnemonics=mnemonics,
        invented=invented,
        widths=widths,
        banks=banks,
        hedges=hedges,
        words=words,
        calls=calls,
    )


def _width_reg(name: str) -> str:
    return "a" if name.lower() in ("a", "accumulator") else "x"


# -- code ---------------------------------------------------------------------------
_LABEL_DEF = re.compile(r"^\s*(?:([A-Za-z_]\w*|\.[A-Za-z_]\w*)\s*:|(\.[A-Za-z_]\w*)\s*$)")
_STATEMENT_SEP = re.compile(r"\s:\s")
_OPERAND_ADDR = re.compile(
    r"(?<![\#\w])\$([0-9A-Fa-f]{2}:?[0-9A-Fa-f]{4}|[0-9A-Fa-f]{4}|[0-9A-Fa-f]{2})(?![0-9A-Fa-f])"
)
_OPERAND_IDENT = re.compile(r"(?<![\w$#.])(!?[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)")
_IMMEDIATE = re.compile(r"#\$([0-9A-Fa-f]{1,6})\b")
_ADDR_COMMENT = re.compile(r";.*?\$([0-9A-Fa-f]{2}):?([0-9A-Fa-f]{4})\b")


@dataclass(slots=True)
class CodeFacts:
    mnemonics: Counter = field(default_factory=Counter)
    instructions: int = 0
    branches: int = 0
    backward_branches: int = 0
    calls: list[str] = field(default_factory=list)
    call_pairs: list[tuple[str, str]] = field(default_factory=list)  # (mnemonic, target)
    labels: list[str] = field(default_factory=list)
    symbols: set[str] = field(default_factory=set)  # identifiers used as operands
    addresses: set[int] = field(default_factory=set)  # numeric operand addresses
    constants: set[int] = field(default_factory=set)  # immediate values (#$01FF)
    registers: set[str] = field(default_factory=set)  # hardware registers touched
    indirect: int = 0
    widths: dict[str, set[int]] = field(default_factory=lambda: {"a": set(), "x": set()})
    annotated_address: int | None = None  # first "; $BB:AAAA" comment


def _strip_comment(line: str) -> tuple[str, str]:
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == ";" and quote is None:
            return line[:i], line[i:]
    return line, ""


def code_facts(code: str) -> CodeFacts:
    """Instructions, calls, branches, widths and operands of asar-style 65816 code."""
    facts = CodeFacts()
    seen_labels: set[str] = set()
    statements = []
    for raw in code.splitlines():
        body, comment = _strip_comment(raw)
        if comment and facts.annotated_address is None:
            m = _ADDR_COMMENT.match(comment)
            if m:
                facts.annotated_address = int(m.group(1), 16) << 16 | int(m.group(2), 16)
        statements.extend(_STATEMENT_SEP.split(body))
    for body in statements:
        body = body.strip().lstrip("{}").strip()
        if not body:
            continue
        m = _LABEL_DEF.match(body)
        if m:
            name = m.group(1) or m.group(2)
            facts.labels.append(name)
            seen_labels.add(name.lstrip("."))
            body = body[m.end() :].strip()
            if not body:
                continue
        parts = body.split(None, 1)
        head = parts[0]
        mn = head.split(".")[0].upper()
        if len(mn) != 3 or not mn.isalpha() or "=" in body or head.startswith(("!", "#")):
            continue
        if mn not in instructions.MNEMONICS:
            continue  # macros, directives, typos: validate-asm reports those
        op = parts[1].strip() if len(parts) > 1 else ""
        facts.instructions += 1
        facts.mnemonics[mn] += 1
        if mn in instructions.BRANCHES:
            facts.branches += 1
            target = op.lstrip(".")
            if target in seen_labels or op.startswith("-"):
                facts.backward_branches += 1
        if mn in ("JSR", "JSL", "JML", "JMP") and op:
            target = op.split(",")[0].strip()
            facts.call_pairs.append((mn, target))
            if mn in ("JSR", "JSL"):
                facts.calls.append(target)
        if mn in ("REP", "SEP"):
            m2 = re.match(r"#\$?([0-9A-Fa-f]{1,2})", op)
            if m2:
                bits = int(m2.group(1), 16)
                width = 16 if mn == "REP" else 8
                if bits & 0x20:
                    facts.widths["a"].add(width)
                if bits & 0x10:
                    facts.widths["x"].add(width)
        if op.startswith(("(", "[")):
            facts.indirect += 1
        if op.startswith("#"):
            m3 = _IMMEDIATE.match(op)
            if m3:
                facts.constants.add(int(m3.group(1), 16))
        if op and not op.startswith("#"):
            for a in _OPERAND_ADDR.findall(op):
                facts.addresses.add(int(a.replace(":", ""), 16))
            for ident in _OPERAND_IDENT.findall(op):
                if ident.upper() in ("A", "X", "Y", "S"):
                    continue
                if ident in REGISTERS:
                    facts.registers.add(ident)
                facts.symbols.add(ident)
    from hafs_cli.quality.hwregs import REGISTER_AT, is_register_address

    for addr in facts.addresses:
        if addr > 0xFF and is_register_address(addr):
            facts.registers.add(REGISTER_AT.get(addr & 0xFFFF, f"${addr & 0xFFFF:04X}"))
    return facts
