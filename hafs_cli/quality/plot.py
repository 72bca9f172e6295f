"""Histogram images without matplotlib: SVG written as text, PNG drawn into a bitmap."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 36, 40

# 3x5 bitmap digits for PNG axis labels.
_FONT = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
}


def write_histogram(
    path: Path,
    counts: list[int],
    title: str,
    lo: float = 0.0,
    hi: float = 1.0,
    marker: float | None = None,
) -> None:
    """Write a bar chart of `counts` over [lo, hi] as .svg or .png (by the file name)."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(svg_histogram(counts, title, lo, hi, marker), encoding="utf-8")
    elif suffix == ".png":
        path.write_bytes(png_histogram(counts, lo, hi, marker))
    else:
        raise ValueError(
            f"cannot write a plot as '{suffix or path.name}': use a .svg or .png file name"
        )


def _bars(counts: list[int]):
    top = max(counts) or 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    bw = pw / len(counts)
    for i, c in enumerate(counts):
        h = ph * c / top
        yield i, c, LEFT + i * bw, TOP + ph - h, bw, h


def svg_histogram(counts: list[int], title: str, lo: float, hi: float, marker: float | None) -> str:
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2:.0f}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for i, c, x, y, bw, h in _bars(counts):
        a = lo + (hi - lo) * i / len(counts)
        b = lo + (hi - lo) * (i + 1) / len(counts)
        out.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" fill="#4878a8">'
            f"<title>{a:.2f}–{b:.2f}: {c}</title></rect>"
        )
    base = TOP + ph
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + pw}" y2="{base}" stroke="black"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="black"/>')
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        x = LEFT + pw * k / 5
        out.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{v:.1f}</text>')
    top = max(counts) if counts else 0
    out.append(f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{top}</text>')
    out.append(f'<text x="{LEFT - 6}" y="{base}" text-anchor="end">0</text>')
    if marker is not None and lo <= marker <= hi:
        x = LEFT + pw * (marker - lo) / (hi - lo)
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{base}" stroke="#c03030" stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text x="{x + 4:.1f}" y="{TOP + 12}" fill="#c03030">threshold {marker:g}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def png_histogram(counts: list[int], lo: float, hi: float, marker: float | None) -> bytes:
    px = [[(255, 255, 255)] * W for _ in range(H)]

    def fill(x0: float, y0: float, x1: float, y1: float, rgb: tuple[int, int, int]) -> None:
        for yy in range(max(0, int(y0)), min(H, int(y1))):
            row = px[yy]
            for xx in range(max(0, int(x0)), min(W, int(x1))):
                row[xx] = rgb

    def text(s: str, x: int, y: int, scale: int = 2) -> None:
        for ch in s:
            glyph = _FONT.get(ch)
            if glyph:
                for gy in range(5):
                    for gx in range(3):
                        if glyph[gy * 3 + gx] == "1":
                            fill(
                                x + gx * scale,
                                y + gy * scale,
                                x + (gx + 1) * scale,
                                y + (gy + 1) * scale,
                                (0, 0, 0),
                            )
            x += 4 * scale

    for _, _, x, y, bw, h in _bars(counts):
        fill(x + 1, y, x + bw - 1, y + h, (72, 120, 168))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    fill(LEFT, TOP + ph, LEFT + pw, TOP + ph + 1, (0, 0, 0))
    fill(LEFT - 1, TOP, LEFT, TOP + ph, (0, 0, 0))
    for k in range(6):
        label = f"{lo + (hi - lo) * k / 5:.1f}"
        text(label, int(LEFT + pw * k / 5) - len(label) * 4, TOP + ph + 8)
    top = str(max(counts) if counts else 0)
    text(top, LEFT - 6 - len(top) * 8, TOP)
    if marker is not None and lo <= marker <= hi:
        x = LEFT + pw * (marker - lo) / (hi - lo)
        for yy in range(TOP, TOP + ph, 6):
            fill(x, yy, x + 2, yy + 3, (192, 48, 48))
    raw = b"".join(b"\x00" + bytes(v for rgb in row for v in rgb) for row in px)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
