"""SVG as text: escaping, compact numbers and a few shapes.

The diagrams and charts are plain strings so that they need no plotting
library. Every piece of text and every attribute value goes through
:func:`esc`, so any name or number yields well-formed XML.
"""

from __future__ import annotations

import base64
import html
import math
import re
import struct
import zlib
from typing import SupportsFloat

import numpy as np

from ._typing import NDArray

__all__ = ["esc", "fmt", "num", "svg_document", "text", "png_data_uri"]

NS = "http://www.w3.org/2000/svg"


# The characters XML 1.0 forbids even as character references: the C0
# controls but tab, newline and carriage return, lone surrogates, and the
# non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(value: object) -> str:
    """``str(value)`` escaped for XML text and double- or single-quoted attributes.

    A character XML cannot hold at all (``"\\x01"``, ``"\\ufffe"``) is
    shown as its Python escape, ``\\x01`` or ``\\ufffe``.
    """
    text = _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], str(value))
    return html.escape(text, quote=True)


def fmt(value: SupportsFloat, digits: int = 3) -> str:
    """A number in at most ``digits`` significant figures, as short as it reads.

    ``1.0`` is ``"1"``, ``0.047425`` is ``"0.0474"``, ``1e300`` is
    ``"1e300"`` and ``-1e-300`` is ``"-1e-300"``; NaN and infinities are
    ``"nan"``, ``"inf"`` and ``"-inf"``.
    """
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"  # also for -0.0, which would read as a sign error
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def num(value: SupportsFloat) -> str:
    """A coordinate or length for an SVG attribute, to 0.1 user unit."""
    return f"{float(value):.1f}"


def svg_document(width: float, height: float, body: str, *, label: str | None = None) -> str:
    """A standalone ``<svg>`` element of the given size around ``body`` (a string)."""
    aria = f' role="img" aria-label="{esc(label)}"' if label else ""
    return (f'<svg xmlns="{NS}" width="{num(width)}" height="{num(height)}" '
            f'viewBox="0 0 {num(width)} {num(height)}" font-family="sans-serif" '
            f'font-size="12"{aria}>\n{body}</svg>\n')


def text(
    x: float,
    y: float,
    content: object,
    *,
    anchor: str = "middle",
    size: float | None = None,
    weight: str | None = None,
    fill: str = "#1a202c",
    halo: bool = False,
    extra: str = "",
) -> str:
    """A ``<text>`` element; ``halo`` draws a white outline so it reads over lines."""
    attrs = [f'x="{num(x)}"', f'y="{num(y)}"', f'text-anchor="{anchor}"', f'fill="{fill}"']
    if size is not None:
        attrs.append(f'font-size="{num(size)}"')
    if weight is not None:
        attrs.append(f'font-weight="{esc(weight)}"')
    if halo:
        attrs.append('stroke="#ffffff" stroke-width="3" paint-order="stroke" '
                     'stroke-linejoin="round"')
    if extra:
        attrs.append(extra)
    return f'<text {" ".join(attrs)}>{esc(content)}</text>\n'


def png_data_uri(rgb: NDArray[np.uint8]) -> str:
    """An RGB image as a ``data:image/png;base64,...`` URI, written with zlib alone.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (height, width, 3)
    """
    height, width, _ = rgb.shape
    # Each scanline starts with filter type 0 (none).
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
