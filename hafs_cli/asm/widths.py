"""Register-width tracking: follow M and X through REP/SEP, PHP/PLP, XCE and labels.

The validator records a flat list of events while it reads the source; this module
replays them. A label's width is the merge of every way in that was seen (fall-through
and branches/jumps to it); where they disagree, or none was seen, the width is unknown.

A state is a tuple (m, x, carry, emulation): m and x are 8, 16 or None (unknown); carry
is the last CLC/SEC (for XCE) or None; emulation is True/False/None.
"""

from __future__ import annotations

from collections.abc import Callable

# event kinds
LABEL = 0  # (LABEL, key)
INSN = 1  # (INSN, mnemonic, imm_width, imm_value, target_key, ref)
COND_PUSH = 2  # (COND_PUSH,)   start of a conditional whose outcome is unknown
COND_ELSE = 3  # (COND_ELSE,)
COND_POP = 4  # (COND_POP,)
RESET = 5  # (RESET,)       org/freecode/arch...: nothing known falls through
ESCAPE = 6  # (ESCAPE, key)  a label's address is taken (dw Label, PEA Label-1, #Label):
#                             it may be entered from anywhere, with any widths

State = tuple  # (m, x, carry, emulation)
UNKNOWN_STATE: State = (None, None, None, None)

_ENDS_FLOW = frozenset(("BRA", "BRL", "JMP", "JML", "RTS", "RTL", "RTI", "STP"))
_TRANSFERS = frozenset(
    (
        "BCC",
        "BCS",
        "BEQ",
        "BNE",
        "BMI",
        "BPL",
        "BVC",
        "BVS",
        "BRA",
        "BRL",
        "JMP",
        "JML",
        "JSR",
        "JSL",
    )
)
_M_IMM = frozenset(("ORA", "AND", "EOR", "ADC", "LDA", "CMP", "SBC", "BIT"))
_X_IMM = frozenset(("LDX", "LDY", "CPX", "CPY"))
_WIDTH_CHANGERS = frozenset(("REP", "SEP", "CLC", "SEC", "XCE", "PHP", "PLP", "JSR", "JSL", "RTI"))
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


def merge(a: State | None, b: State) -> State:
    """The state known on both of two ways into one place (a None way adds nothing)."""
    if a is None or a == b:
        return b
    return (
        a[0] if a[0] == b[0] else None,
        a[1] if a[1] == b[1] else None,
        None,
        a[3] if a[3] == b[3] else None,
    )


def drop_unreferenced_labels(events: list[tuple], targets: set[str] | None = None) -> list[tuple]:
    """Events without the labels nothing branches to (they cannot change a known state)."""
    if targets is None:
        targets = {ev[4] for ev in events if ev[0] == INSN and ev[4] is not None}
    return [ev for ev in events if ev[0] != LABEL or ev[1] in targets]


def analyse(
    events: list[tuple],
    report: Callable[[object, str, int, int | None], None],
    *,
    calls_preserve_width: bool = False,
    initial: State = UNKNOWN_STATE,
    max_rounds: int = 4,
) -> None:
    """Replay `events`; call report(ref, register, imm_width, known_bits) for each immediate.

    known_bits is None where the width is unknown. Rounds repeat until the states seen
    at labels stop changing (forward branches and loops need more than one).
    """
    incoming: dict[str, State] = {}
    reports: list[tuple] = []
    for _ in range(max_rounds):
        seen: dict[str, State] = {}
        reports = []
        _replay(events, incoming, seen, reports.append, calls_preserve_width, initial)
        if seen == incoming:
            break  # this round already saw every way into every label
        incoming = seen
    else:
        reports = []
        _replay(events, incoming, {}, reports.append, calls_preserve_width, initial)
    for args in reports:
        report(*args)


def _replay(events, incoming, seen, report, calls_preserve_width, initial) -> None:  # noqa: ANN001, C901
    state: State | None = initial  # None: not reachable by falling through
    cond_stack: list[tuple[State | None, list[State | None]]] = []
    php: list[State] = []
    for ev in events:
        kind = ev[0]
        if kind == INSN:
            mnem = ev[1]
            cur = state if state is not None else UNKNOWN_STATE
            imm_width = ev[2]
            if imm_width is not None:
                if mnem in _M_IMM:
                    report((ev[5], "M", imm_width, cur[0]))
                elif mnem in _X_IMM:
                    report((ev[5], "X", imm_width, cur[1]))
            target = ev[4]
            if target is not None and mnem in _TRANSFERS:
                way = cur if cur[2] is None else (cur[0], cur[1], None, cur[3])  # carry: not kept
                seen[target] = merge(seen.get(target), way)
            if mnem in _WIDTH_CHANGERS:
                state = _step(cur, mnem, ev[3], php, calls_preserve_width)
            elif cur[2] is not None and mnem not in _KEEPS_CARRY:
                state = (cur[0], cur[1], None, cur[3])
            else:
                state = cur
            if mnem in _ENDS_FLOW:
                state = None
        elif kind == LABEL:
            key = ev[1]
            way_in = incoming.get(key)
            way_seen = seen.get(key)
            if state is None:
                php.clear()  # a new routine: pushes of the one before it are not ours
            if way_in is None and way_seen is None:
                if state is None:
                    state = UNKNOWN_STATE  # only reached from elsewhere: nothing is known
                continue
            merged = merge(way_in, way_seen) if way_seen is not None else way_in
            state = merge(state, merged) if state is not None else merged
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
                merged: State | None = None
                for s in ends:
                    if s is not None:
                        merged = merge(merged, s)
                state = merged
        elif kind == RESET:
            state = UNKNOWN_STATE
            php.clear()
        elif kind == ESCAPE:
            seen[ev[1]] = UNKNOWN_STATE


def _step(
    cur: State, mnem: str, imm_value: int | None, php: list[State], calls_preserve_width: bool
) -> State:
    m, x, carry, emulation = cur
    if mnem == "REP" or mnem == "SEP":
        if imm_value is None:
            return (None, None, None, emulation)
        wide = 16 if mnem == "REP" else 8
        if imm_value & 0x20:
            m = wide
        if imm_value & 0x10:
            x = wide
        if emulation:
            m, x = 8, 8
        if imm_value & 0x01:
            carry = 0 if mnem == "REP" else 1
        return (m, x, carry, emulation)
    if mnem == "CLC":
        return (m, x, 0, emulation)
    if mnem == "SEC":
        return (m, x, 1, emulation)
    if mnem == "XCE":
        if carry == 1:
            return (8, 8, None, True)
        if carry == 0:
            if emulation:
                return (8, 8, None, False)
            if emulation is False:
                return (m, x, None, False)
            return (m if m == 8 else None, x if x == 8 else None, None, False)
        return UNKNOWN_STATE
    if mnem == "PHP":
        php.append(cur)
        return cur
    if mnem == "PLP":
        if php:
            saved = php.pop()
            return (saved[0], saved[1], saved[2], emulation)
        return (None, None, None, emulation)
    if mnem in ("JSR", "JSL"):
        return (m, x, None, emulation) if calls_preserve_width else (None, None, None, emulation)
    return UNKNOWN_STATE  # RTI
