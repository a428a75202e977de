"""Draw the app's icons (favicon, PWA icons) as PNG with the standard library only.

The mark is the top bar's ◎ in white on the brand's indigo, a rounded square. Run
``python scripts/make_icons.py`` to redraw ``static/icons/``; the files are committed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
INDIGO = (67, 56, 202)
WHITE = (255, 255, 255)


def _coverage(x: float, y: float, size: int, maskable: bool) -> tuple[float, float]:
    """(inside the background, inside the white mark) for one sample point, in 0..1 units."""
    u, v = x / size, y / size
    radius = 0.0 if maskable else 0.22
    dx, dy = (
        max(abs(u - 0.5) - (0.5 - radius), 0),
        max(abs(v - 0.5) - (0.5 - radius), 0),
    )
    background = 1.0 if (dx * dx + dy * dy) <= radius * radius else 0.0
    scale = 0.8 if maskable else 1.0  # a maskable icon keeps its mark in the safe zone
    d = (((u - 0.5) ** 2 + (v - 0.5) ** 2) ** 0.5) / scale
    mark = 1.0 if (0.22 <= d <= 0.31) or d <= 0.1 else 0.0
    return background, mark


def draw(size: int, maskable: bool = False) -> bytes:
    samples = 3
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            bg = mk = 0.0
            for sy in range(samples):
                for sx in range(samples):
                    b, m = _coverage(
                        x + (sx + 0.5) / samples,
                        y + (sy + 0.5) / samples,
                        size,
                        maskable,
                    )
                    bg += b
                    mk += m * b
            bg /= samples * samples
            mk /= samples * samples
            if bg == 0:
                row += bytes((0, 0, 0, 0))
                continue
            t = mk / bg
            colour = [round(INDIGO[i] * (1 - t) + WHITE[i] * t) for i in range(3)]
            row += bytes((*colour, round(255 * bg)))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def ico(png: bytes, size: int) -> bytes:
    """A .ico holding one PNG image (allowed since Windows Vista; every browser reads it)."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(draw(size))
    (OUT / "icon-maskable-512.png").write_bytes(draw(512, maskable=True))
    (OUT / "apple-touch-icon.png").write_bytes(draw(180, maskable=True))
    (OUT / "favicon.ico").write_bytes(ico(draw(32), 32))


if __name__ == "__main__":
    main()
