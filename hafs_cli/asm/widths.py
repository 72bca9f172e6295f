"""Register-width tracking: follow M and X through REP/SEP, PHP/PLP, XCE and labels.

The validator records a flat list of events while it reads the source; this module
replays them. A label's width is the merge of every way in that was seen (fall-through
and branches/jumps to it); where they disagree, or none was seen, the width is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# event kinds
LABEL = 0  # (LABEL, key)
INSN = 1  # (INSN, mnemonic, imm_width, imm_value, target_key, ref)
COND_PUSH = 2  # (COND_PUSH,)   start of a conditional whose outcome is unknown
COND_ELSE = 3  # (COND_ELSE,)
COND_POP = 4  # (COND_POP,)
RESET = 5  # (RESET,)       org/freecode/arch...: nothing known falls through

UNKNOWN = None
_ENDS_FLOW = frozenset(("BRA", "BRL", "JMP", "JML", "RTS", "RTL", "RTI", "STP"))
_BRANCHES = frozenset(("BCC", "BCS", "BEQ", "BNE", "BMI", "BPL", "BVC", "BVS", "BRA", "BRL"))
_JUMPS = frozenset(("JMP", "JML", "JSR", "JSL"))
_M_IMM = frozenset(["ORA", "AND", "EOR", "ADC", "LDA", "CMP", "SBC", "BIT"])
_X_IMM = frozenset(["LDX", "LDY", "CPX", "CPY"])


@dataclass(frozen=True, slots=True)
class State:
    m: int | None  # 8, 16 or None (unknown)
    x: int | None
    carry: int | None = None  # last CLC/SEC, for XCE
    emulation: bool | None = None


UNKNOWN_STATE = State(None, None)


def merge(states: list[State]) -> State:
    if not states:
        return UNKNOWN_STATE
    first = states[0]
    m, x = first.m, first.x
    emu = first.emulation
    for s in states[1:]:
        if s.m != m:
            m = None
        if s.x != x:
            x = None
        if s.emulation != emu:
            emu = None
    return State(m, x, None, emu)


def analyse(
    events: list[tuple],
    report: Callable[[object, str, int, int | None], None],
    *,
    calls_preserve_width: bool = False,
    initial: State = UNKNOWN_STATE,
    max_rounds: int = 4,
) -> None:
    """Replay `events`; call report(ref, register, imm_width, known_width) for each immediate.

    known_width is None where the width is unknown. Rounds repeat until the states seen
    at labels stop changing (forward branches and loops need more than one).
    """
    incoming: dict[str, list[State]] = {}
    for _ in range(max_rounds):
        seen: dict[str, list[State]] = {}
        _replay(events, incoming, seen, None, calls_preserve_width, initial)
        if seen == incoming:
            break
        incoming = seen
    _replay(events, incoming, {}, report, calls_preserve_width, initial)


def _replay(events, incoming, seen, report, calls_preserve_width, initial) -> None:  # noqa: ANN001, C901
    state: State | None = initial  # None: not reachable by falling through
    cond_stack: list[tuple[State | None, list[State | None]]] = []
    php: list[State] = []
    for ev in events:
        kind = ev[0]
        if kind == INSN:
            _, mnem, imm_width, imm_value, target, ref = ev
            cur = state if state is not None else UNKNOWN_STATE
            if report is not None and imm_width is not None:
                if mnem in _M_IMM:
                    report(ref, "M", imm_width, cur.m)
                elif mnem in _X_IMM:
                    report(ref, "X", imm_width, cur.x)
            if target is not None and (mnem in _BRANCHES or mnem in _JUMPS):
                seen.setdefault(target, []).append(cur)
            state = _step(cur, mnem, imm_value, php, calls_preserve_width)
            if mnem in _ENDS_FLOW:
                state = None
        elif kind == LABEL:
            key = ev[1]
            ways = list(incoming.get(key, ())) + list(seen.get(key, ()))
            if state is not None:
                ways.append(state)
            state = merge(ways)
        elif kind == COND_PUSH:
            cond_stack.append((state, []))
        elif kind == COND_ELSE:
            if cond_stack:
                entry, ends = cond_stack[-1]
                ends.append(state)
                state = entry
        elif kind == COND_POP:
            if cond_stack:
                entry, ends = cond_stack.pop()
                ends.append(state)
                live = [s for s in ends if s is not None]
                state = merge(live) if live else None
        elif kind == RESET:
            state = UNKNOWN_STATE
            php.clear()


def _step(
    cur: State, mnem: str, imm_value: int | None, php: list[State], calls_preserve_width: bool
) -> State:
    if mnem == "REP" or mnem == "SEP":
        if imm_value is None:
            return State(None, None, None, cur.emulation)
        wide = 16 if mnem == "REP" else 8
        m = wide if imm_value & 0x20 else cur.m
        x = wide if imm_value & 0x10 else cur.x
        if cur.emulation:
            m, x = 8, 8
        carry = cur.carry
        if imm_value & 0x01:
            carry = 0 if mnem == "REP" else 1
        return State(m, x, carry, cur.emulation)
    if mnem == "CLC":
        return State(cur.m, cur.x, 0, cur.emulation)
    if mnem == "SEC":
        return State(cur.m, cur.x, 1, cur.emulation)
    if mnem == "XCE":
        if cur.carry == 1:
            return State(8, 8, None, True)
        if cur.carry == 0:
            if cur.emulation:
                return State(8, 8, None, False)
            if cur.emulation is False:
                return State(cur.m, cur.x, None, False)
            return State(cur.m if cur.m == 8 else None, cur.x if cur.x == 8 else None, None, False)
        return State(None, None, None, None)
    if mnem == "PHP":
        php.append(cur)
        return State(cur.m, cur.x, cur.carry, cur.emulation)
    if mnem == "PLP":
        if php:
            saved = php.pop()
            return State(saved.m, saved.x, saved.carry, cur.emulation)
        return State(None, None, None, cur.emulation)
    if mnem in ("JSR", "JSL") and not calls_preserve_width:
        return State(None, None, None, cur.emulation)
    if mnem == "RTI":
        return UNKNOWN_STATE
    if cur.carry is not None and mnem not in _KEEPS_CARRY:
        return State(cur.m, cur.x, None, cur.emulation)
    return cur


# instructions that leave the carry flag alone (so CLC ... XCE still knows it)
_KEEPS_CARRY = frozenset(
    [
        "LDA",
        "LDX",
        "LDY",
        "STA",
        "STX",
        "STY",
        "STZ",
        "PHA",
        "PHX",
        "PHY",
        "PHB",
        "PHD",
        "PHK",
        "PLA",
        "PLX",
        "PLY",
        "PLB",
        "PLD",
        "TAX",
        "TAY",
        "TXA",
        "TYA",
        "TXY",
        "TYX",
        "TCD",
        "TDC",
        "TCS",
        "TSC",
        "TSX",
        "TXS",
        "INX",
        "INY",
        "DEX",
        "DEY",
        "INC",
        "DEC",
        "AND",
        "ORA",
        "EOR",
        "BIT",
        "TSB",
        "TRB",
        "NOP",
        "SEI",
        "CLI",
        "CLD",
        "SED",
        "CLV",
        "XBA",
        "WAI",
    ]
)
