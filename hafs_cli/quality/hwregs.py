"""SNES memory-mapped hardware registers: name <-> address ($21xx PPU/APU/WRAM, $4xxx CPU/DMA)."""

from __future__ import annotations

_PPU = """
2100 INIDISP 2101 OBSEL 2102 OAMADDL 2103 OAMADDH 2104 OAMDATA 2105 BGMODE 2106 MOSAIC
2107 BG1SC 2108 BG2SC 2109 BG3SC 210A BG4SC 210B BG12NBA 210C BG34NBA 210D BG1HOFS
210E BG1VOFS 210F BG2HOFS 2110 BG2VOFS 2111 BG3HOFS 2112 BG3VOFS 2113 BG4HOFS 2114 BG4VOFS
2115 VMAIN 2116 VMADDL 2117 VMADDH 2118 VMDATAL 2119 VMDATAH 211A M7SEL 211B M7A 211C M7B
211D M7C 211E M7D 211F M7X 2120 M7Y 2121 CGADD 2122 CGDATA 2123 W12SEL 2124 W34SEL
2125 WOBJSEL 2126 WH0 2127 WH1 2128 WH2 2129 WH3 212A WBGLOG 212B WOBJLOG 212C TM 212D TS
212E TMW 212F TSW 2130 CGWSEL 2131 CGADSUB 2132 COLDATA 2133 SETINI 2134 MPYL 2135 MPYM
2136 MPYH 2137 SLHV 2138 RDOAM 2139 RDVRAML 213A RDVRAMH 213B RDCGRAM 213C OPHCT 213D OPVCT
213E STAT77 213F STAT78 2140 APUIO0 2141 APUIO1 2142 APUIO2 2143 APUIO3 2180 WMDATA
2181 WMADDL 2182 WMADDM 2183 WMADDH 4016 JOYSER0 4017 JOYSER1 4200 NMITIMEN 4201 WRIO
4202 WRMPYA 4203 WRMPYB 4204 WRDIVL 4205 WRDIVH 4206 WRDIVB 4207 HTIMEL 4208 HTIMEH
4209 VTIMEL 420A VTIMEH 420B MDMAEN 420C HDMAEN 420D MEMSEL 4210 RDNMI 4211 TIMEUP
4212 HVBJOY 4213 RDIO 4214 RDDIVL 4215 RDDIVH 4216 RDMPYL 4217 RDMPYH 4218 JOY1L
4219 JOY1H 421A JOY2L 421B JOY2H 421C JOY3L 421D JOY3H 421E JOY4L 421F JOY4H
"""
# Names other references use for the same registers.
_ALIASES = {
    "VMADD": 0x2116,
    "VMDATA": 0x2118,
    "OAMADD": 0x2102,
    "CGADDR": 0x2121,
    "DMAEN": 0x420B,
    "HDMAEN": 0x420C,
    "OAMDATAREAD": 0x2138,
    "VMDATALREAD": 0x2139,
    "VMDATAHREAD": 0x213A,
    "CGDATAREAD": 0x213B,
    "APUI00": 0x2140,
    "APUI01": 0x2141,
    "APUI02": 0x2142,
    "APUI03": 0x2143,
    "WRDIV": 0x4204,
    "RDDIV": 0x4214,
    "RDMPY": 0x4216,
    "HTIME": 0x4207,
    "VTIME": 0x4209,
}
_DMA = ("DMAP", "BBAD", "A1TL", "A1TH", "A1B", "DASL", "DASH", "DASB", "A2AL", "A2AH", "NTRL")


def _build() -> dict[str, int]:
    names: dict[str, int] = {}
    words = _PPU.split()
    for addr, name in zip(words[::2], words[1::2], strict=True):
        names[name] = int(addr, 16)
    names.update(_ALIASES)
    for channel in range(8):
        for offset, stem in enumerate(_DMA):
            # DMAP0, BBAD0, A1T0L ... both spellings (A1T0L and A1TL0) are in use.
            addr = 0x4300 + channel * 0x10 + offset
            names[f"{stem}{channel}"] = addr
            if stem.endswith(("L", "H", "B")) and len(stem) == 4:
                names[f"{stem[:3]}{channel}{stem[3]}"] = addr
    return names


REGISTERS: dict[str, int] = _build()
REGISTER_AT: dict[int, str] = {}
for _name, _addr in REGISTERS.items():  # the main table comes first: its names win
    REGISTER_AT.setdefault(_addr, _name)


def is_register_address(addr: int) -> bool:
    """True for $2100-$21FF, $4016-$4017, $4200-$421F and $4300-$437F (any bank mirror)."""
    low = addr & 0xFFFF
    bank = (addr >> 16) & 0xFF
    if addr > 0xFFFF and bank not in range(0x00, 0x40) and bank not in range(0x80, 0xC0):
        return False
    return (
        0x2100 <= low <= 0x21FF
        or low in (0x4016, 0x4017)
        or 0x4200 <= low <= 0x421F
        or 0x4300 <= low <= 0x437F
    )
