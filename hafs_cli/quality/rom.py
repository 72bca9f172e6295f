"""SNES address arithmetic: canonical ROM banks under LoROM and HiROM, file offsets."""

from __future__ import annotations

import re

_ADDR = re.compile(r"^\s*(?:\$|0x)?([0-9A-Fa-f]{1,2}):?([0-9A-Fa-f]{4})\s*$")


def parse_address(value: object) -> int | None:
    """A 24-bit address from 0x7E0010, $7E:0010, $7E0010, '7E0010' or an int; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 0xFFFFFF else None
    if isinstance(value, str):
        m = _ADDR.match(value)
        if m:
            return int(m.group(1), 16) << 16 | int(m.group(2), 16)
    return None


def canonical(addr: int, mapper: str = "lorom") -> int:
    """Fold mirrors so one ROM location has one address (LoROM $80-$FF -> $00-$7F, HiROM -> $C0-$FF)."""
    bank, low = addr >> 16, addr & 0xFFFF
    if bank in (0x7E, 0x7F):
        return addr
    if mapper == "hirom":
        if 0x40 <= bank <= 0x7D:
            bank += 0x80
        elif (bank < 0x40 or 0x80 <= bank < 0xC0) and low >= 0x8000:
            bank = 0xC0 | (bank & 0x3F)
    elif 0x80 <= bank <= 0xFD:
        bank -= 0x80
    return bank << 16 | low


def offset_to_address(offset: int, mapper: str = "lorom") -> int:
    """The canonical SNES address of a ROM file offset (no copier header)."""
    if mapper == "hirom":
        return (0xC0 + (offset >> 16)) << 16 | (offset & 0xFFFF)
    return (offset >> 15) << 16 | 0x8000 | (offset & 0x7FFF)


def bank_of(addr: int | None, mapper: str = "lorom") -> str | None:
    """'$02' for a ROM address; None for RAM/registers or unknown."""
    if addr is None:
        return None
    low = addr & 0xFFFF
    bank = addr >> 16
    if bank in (0x7E, 0x7F) or (mapper == "lorom" and low < 0x8000 and bank < 0x40):
        return None
    return f"${canonical(addr, mapper) >> 16:02X}"


def same_location(a: int, b: int, mapper: str = "lorom") -> bool:
    """Do two addresses name the same byte? (mirrors, WRAM $00-$3F:0000-1FFF = $7E:0000-1FFF)."""
    if canonical(a, mapper) == canonical(b, mapper):
        return True
    return wram_address(a) is not None and wram_address(a) == wram_address(b)


def wram_address(addr: int) -> int | None:
    """The $7E/$7F address of a WRAM byte (low RAM mirrors included); None outside WRAM."""
    bank, low = addr >> 16, addr & 0xFFFF
    if bank in (0x7E, 0x7F):
        return addr
    if (bank < 0x40 or 0x80 <= bank < 0xC0) and low < 0x2000:
        return 0x7E0000 | low
    return None


def fmt(addr: int) -> str:
    return f"${addr >> 16:02X}:{addr & 0xFFFF:04X}"
