"""Small SVG charts for the lesson page: curves, histograms, a decision map.

Each function returns a standalone ``<svg>`` string (see :mod:`matnn.svg`),
so the page needs no plotting library and no script.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import numpy as np

from ._typing import ArrayLike, FloatArray, NDArray
from .svg import esc, fmt, num, png_data_uri, svg_document, text

__all__ = ["line_chart", "histogram", "decision_map", "map_tile", "PALETTE"]

#: Series colours, distinguishable in colour and in grey.
PALETTE = ("#2b6cb0", "#dd6b20", "#2f855a", "#6b46c1", "#c53030")

_MARGIN = {"left": 72, "right": 20, "top": 40, "bottom": 52}


class _Axis:
    """A linear or base-10 logarithmic map from data to pixels."""

    def __init__(
        self, low: float, high: float, start: float, stop: float, log: bool = False
    ) -> None:
        if log:
            low, high = math.log10(low), math.log10(high)
        if high <= low:
            # One value only: widen so that it sits in the middle.
            pad = abs(low) * 0.1 or 1.0
            low, high = low - pad, high + pad
        self.low, self.high, self.start, self.stop, self.log = low, high, start, stop, log

    def __call__(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        return self.start + (v - self.low) / (self.high - self.low) * (self.stop - self.start)

    def ticks(self) -> list[float]:
        """Tick values inside the range: decades on a log axis, 1-2-5 steps otherwise."""
        if self.log:
            first, last = math.ceil(self.low - 1e-9), math.floor(self.high + 1e-9)
            if last > first:
                step = max(1, math.ceil((last - first + 1) / 8))
                return [10.0 ** e for e in range(first, last + 1, step)]
            # Less than a decade: 1, 2, ..., 9 times a power of ten, and halves if few.
            for steps in (range(1, 10), np.arange(1, 10, 0.5)):
                ticks = [m * 10.0 ** e for e in range(first - 1, last + 1) for m in steps
                         if self.low - 1e-9 <= math.log10(m * 10.0 ** e) <= self.high + 1e-9]
                if len(ticks) >= 3:
                    break
            return ticks
        raw = (self.high - self.low) / 6
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
        first = math.ceil(self.low / step - 1e-9)
        return [k * step for k in range(first, math.floor(self.high / step + 1e-9) + 1)]


def _tick_label(value: float, log: bool) -> str:
    if log:
        exponent = math.log10(value)
        if abs(exponent - round(exponent)) < 1e-9:
            return f"1e{round(exponent)}"
    return fmt(value if log else round(value, 12), 6)


def _frame(
    x_axis: _Axis, y_axis: _Axis, width: float, height: float, title: str, x_label: str,
    y_label: str,
) -> str:
    left, top = _MARGIN["left"], _MARGIN["top"]
    bottom, right = height - _MARGIN["bottom"], width - _MARGIN["right"]
    parts = [f'<rect x="{left}" y="{top}" width="{num(right - left)}" '
             f'height="{num(bottom - top)}" fill="none" stroke="#a0aec0"/>\n']
    for value in x_axis.ticks():
        x = x_axis(value)
        parts.append(f'<line x1="{num(x)}" y1="{num(bottom)}" x2="{num(x)}" y2="{num(bottom + 5)}" '
                     'stroke="#4a5568"/>\n')
        parts.append(text(x, bottom + 18, _tick_label(value, x_axis.log), size=11))
    for value in y_axis.ticks():
        y = y_axis(value)
        parts.append(f'<line x1="{left}" y1="{num(y)}" x2="{num(right)}" y2="{num(y)}" '
                     'stroke="#edf2f7"/>\n')
        parts.append(text(left - 6, y + 4, _tick_label(value, y_axis.log), anchor="end", size=11))
    parts.append(text(width / 2, 22, title, size=14, weight="bold"))
    parts.append(text((left + right) / 2, height - 12, x_label))
    parts.append(text(16, (top + bottom) / 2, y_label,
                      extra=f'transform="rotate(-90 16 {num((top + bottom) / 2)})"'))
    return "".join(parts)


def _axes(width: float, height: float) -> tuple[tuple[float, float], tuple[float, float]]:
    return ((_MARGIN["left"], width - _MARGIN["right"]),
            (height - _MARGIN["bottom"], _MARGIN["top"]))


def _legend(entries: Iterable[tuple[str, str, str]], x: float, y: float) -> str:
    """``entries`` of (label, colour, kind) with kind "line", "dots", "marks" or "box"."""
    parts = []
    for k, (label, colour, kind) in enumerate(entries):
        yy = y + 16 * k
        if kind == "line":
            parts.append(f'<line x1="{num(x)}" y1="{num(yy - 4)}" x2="{num(x + 18)}" '
                         f'y2="{num(yy - 4)}" stroke="{colour}" stroke-width="2"/>\n')
        elif kind in ("dots", "marks"):
            radius = 3 if kind == "dots" else 5
            parts.append(f'<circle cx="{num(x + 9)}" cy="{num(yy - 4)}" r="{radius}" '
                         f'fill="{colour}"/>\n')
        else:
            parts.append(f'<rect x="{num(x + 3)}" y="{num(yy - 10)}" width="12" height="12" '
                         f'fill="{colour}"/>\n')
        parts.append(text(x + 24, yy, label, anchor="start", size=11))
    return "".join(parts)


def line_chart(
    series: Iterable[tuple[str, ArrayLike, ArrayLike, str]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    log_y: bool = False,
    width: float = 640,
    height: float = 360,
) -> str:
    """Curves (and dotted series) on shared axes.

    Parameters
    ----------
    series : sequence of (label, x, y, kind)
        ``x`` and ``y`` are array-likes of shape (n_points,); ``kind`` is
        ``"line"``, ``"dots"`` or ``"marks"`` (large dots, to point a few
        out). Points that are not finite (or not positive on a log axis) are
        left out.
    log_y : bool
        A base-10 logarithmic y axis.

    Returns
    -------
    str
    """
    cleaned = []
    for label, x, y, kind in series:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
        cleaned.append((label, x[keep], y[keep], kind))
    xs = np.concatenate([c[1] for c in cleaned])
    ys = np.concatenate([c[2] for c in cleaned])
    if xs.size == 0:
        raise ValueError("no finite points to draw" + (" (a log axis needs y > 0)" if log_y else ""))
    (x0, x1), (y0, y1) = _axes(width, height)
    x_axis = _Axis(xs.min(), xs.max(), x0, x1)
    y_axis = _Axis(ys.min(), ys.max(), y0, y1, log=log_y)
    parts = [_frame(x_axis, y_axis, width, height, title, x_label, y_label)]
    entries = []
    for k, (label, x, y, kind) in enumerate(cleaned):
        colour = PALETTE[k % len(PALETTE)]
        points = [(x_axis(a), y_axis(b)) for a, b in zip(x, y)]
        if kind == "line":
            path = " ".join(f"{'M' if i == 0 else 'L'} {num(px)} {num(py)}"
                            for i, (px, py) in enumerate(points))
            parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>\n')
        else:
            radius = 2.5 if kind == "dots" else 6
            parts += [f'<circle cx="{num(px)}" cy="{num(py)}" r="{radius}" fill="{colour}" '
                      'stroke="#ffffff"/>\n' for px, py in points]
        entries.append((label, colour, kind))
    parts.append(_legend(entries, x1 - 230, y1 + 18))
    return svg_document(width, height, "".join(parts), label=title)


def histogram(
    groups: Iterable[tuple[str, ArrayLike]],
    *,
    title: str,
    x_label: str,
    y_label: str = "runs",
    bins: int = 30,
    log_x: bool = False,
    width: float = 640,
    height: float = 400,
) -> str:
    """Stacked histogram bars of one or more groups of values.

    Parameters
    ----------
    groups : sequence of (label, values)
        ``values`` of shape (n_values,); non-finite values (and values <= 0
        on a log axis) are left out.
    bins : int
        Number of bins, even on a log scale when ``log_x``.

    Returns
    -------
    str
    """
    cleaned = []
    for label, values in groups:
        v = np.asarray(values, dtype=np.float64)
        cleaned.append((label, v[np.isfinite(v) & ((v > 0) if log_x else True)]))
    everything = np.concatenate([v for _, v in cleaned])
    if everything.size == 0:
        raise ValueError("no values to draw")
    low, high = everything.min(), everything.max()
    if low == high:
        low, high = (low / 1.1, high * 1.1) if log_x else (low - 0.5, high + 0.5)
    edges = np.geomspace(low, high, bins + 1) if log_x else np.linspace(low, high, bins + 1)
    counts = [np.histogram(v, edges)[0] for _, v in cleaned]
    # The legend goes below the frame, where it cannot hide a bar.
    frame_height = height - 16 * len(cleaned) - 6
    (x0, x1), (y0, y1) = _axes(width, frame_height)
    x_axis = _Axis(edges[0], edges[-1], x0, x1, log=log_x)
    y_axis = _Axis(0, max(1, int(np.sum(counts, axis=0).max())), y0, y1)
    parts = [_frame(x_axis, y_axis, width, frame_height, title, x_label, y_label)]
    base = np.zeros(bins)
    entries = []
    for k, ((label, _), count) in enumerate(zip(cleaned, counts)):
        colour = PALETTE[k % len(PALETTE)]
        for i in np.flatnonzero(count):
            left, right = x_axis(edges[i]), x_axis(edges[i + 1])
            top, bottom = y_axis(base[i] + count[i]), y_axis(base[i])
            parts.append(f'<rect x="{num(left)}" y="{num(top)}" width="{num(right - left)}" '
                         f'height="{num(bottom - top)}" fill="{colour}" stroke="#ffffff" '
                         f'stroke-width="0.5"><title>{esc(label)}: {int(count[i])}</title></rect>\n')
        base += count
        entries.append((f"{label} ({int(count.sum())})", colour, "box"))
    parts.append(_legend(entries, x0, frame_height + 8))
    return svg_document(width, height, "".join(parts), label=title)


def _tint(p: ArrayLike) -> NDArray[np.uint8]:
    """RGB of a probability: orange at 0, white at 0.5, blue at 1."""
    zero, half, one = np.array([251, 200, 140]), np.array([255, 255, 255]), np.array([150, 200, 245])
    p = np.clip(p, 0, 1)[..., None]
    colour = np.where(p < 0.5, zero + (half - zero) * (2 * p), half + (one - half) * (2 * p - 1))
    return colour.round().astype(np.uint8)


def _contour(
    values: NDArray[np.float64],
    xs: Sequence[float] | NDArray[np.float64],
    ys: Sequence[float] | NDArray[np.float64],
    level: float,
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Segments where a grid crosses ``level`` (marching squares), as pixel pairs.

    ``values[i, j]`` sits at pixel ``(xs[j], ys[i])``.
    """
    segments = []
    # Strictly above, so a ReLU's flat zero region counts as below its 0 level.
    above = values > level
    count = above.astype(np.int8)
    count = count[:-1, :-1] + count[:-1, 1:] + count[1:, 1:] + count[1:, :-1]
    # Only the cells the level crosses, found at once: the boundary is a thin line.
    for i, j in np.argwhere((count > 0) & (count < 4)):
        corners = [(i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j)]
        crossings = []
        for a, b in zip(corners, corners[1:] + corners[:1]):
            if above[a] != above[b]:
                t = (level - values[a]) / (values[b] - values[a])
                crossings.append((xs[a[1]] + t * (xs[b[1]] - xs[a[1]]),
                                  ys[a[0]] + t * (ys[b[0]] - ys[a[0]])))
        segments += [(crossings[k], crossings[k + 1]) for k in range(0, len(crossings), 2)]
    return segments


def decision_map(
    predict: Callable[[NDArray[np.float64]], ArrayLike],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    points: Iterable[tuple[float, float, str, str, bool]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    boundary: bool = True,
    resolution: int = 80,
    width: float = 640,
    height: float = 420,
) -> str:
    """A model's output over a rectangle of two inputs, with labelled points.

    Parameters
    ----------
    predict : callable
        Takes an ndarray of shape (n, 2) of (x, y) pairs in the axes' units
        and returns an ndarray of shape (n,).
    x_range, y_range : (float, float)
    points : sequence of (x, y, label, colour, filled)
        Marked with a circle (filled or hollow) and the label beside it.
    boundary : bool
        True for a classifier's probability: shaded orange (0) to blue (1)
        with the 0.5 contour drawn as the decision boundary. False for any
        other output: shaded from its smallest to its largest value.

    Returns
    -------
    str
    """
    # The frame leaves a line at the bottom for the note on the shading.
    frame_height = height - 16
    (x0, x1), (y0, y1) = _axes(width, frame_height)
    x_axis = _Axis(*x_range, x0, x1)
    y_axis = _Axis(*y_range, y0, y1)
    gx = np.linspace(x_range[0], x_range[1], resolution)
    gy = np.linspace(y_range[1], y_range[0], resolution)  # top row first, as an image
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    values = np.asarray(predict(grid), dtype=np.float64).reshape(resolution, resolution)
    if boundary:
        shade = values
        note = "shading: the output, orange near 0, white at 0.5, blue near 1; line: output 0.5"
    else:
        low, high = np.nanmin(values), np.nanmax(values)
        shade = (values - low) / (high - low) if high > low else np.full_like(values, 0.5)
        note = f"shading: the output, orange at {fmt(low)}, blue at {fmt(high)}"
    parts = [_frame(x_axis, y_axis, width, frame_height, title, x_label, y_label)]
    # The image is the grid at its own resolution; the browser smooths it.
    parts.insert(0, f'<image x="{num(x0)}" y="{num(y1)}" width="{num(x1 - x0)}" '
                    f'height="{num(y0 - y1)}" preserveAspectRatio="none" '
                    f'href="{png_data_uri(_tint(np.nan_to_num(shade, nan=0.5)))}"/>\n')
    if boundary:
        px = [x_axis(v) for v in gx]
        py = [y_axis(v) for v in gy]
        path = " ".join(f"M {num(a[0])} {num(a[1])} L {num(b[0])} {num(b[1])}"
                        for a, b in _contour(values, px, py, 0.5))
        if path:
            parts.append(f'<path d="{path}" stroke="#1a202c" stroke-width="2" fill="none"/>\n')
    for x, y, label, colour, filled in points:
        cx, cy = x_axis(x), y_axis(y)
        parts.append(f'<circle cx="{num(cx)}" cy="{num(cy)}" r="6" '
                     f'fill="{colour if filled else "#ffffff"}" stroke="{colour}" '
                     'stroke-width="2.5"/>\n')
        if label:
            parts.append(text(cx + 9, cy - 7, label, anchor="start", size=12, weight="bold",
                              halo=True))
    parts.append(text(x0, height - 6, note, anchor="start", size=11, fill="#4a5568"))
    return svg_document(width, height, "".join(parts), label=title)


def map_tile(
    values: FloatArray,
    x: float,
    y: float,
    size: float,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    points: Iterable[tuple[float, float, str, bool]] = (),
    *,
    low: float,
    high: float,
    title: str,
) -> str:
    """One small map: a grid of values as a square image, its middle contour, and points.

    Parameters
    ----------
    values : ndarray of shape (resolution, resolution)
        ``values[i, j]`` at column ``j`` of ``x_range`` and row ``i`` of
        ``y_range`` counted from the top.
    x, y, size : float
        The square's top-left corner and side, in pixels.
    x_range, y_range : (float, float)
        What the square spans, in the points' units.
    points : sequence of (x, y, colour, filled)
    low, high : float
        The colour scale: orange at ``low``, white half way, blue at
        ``high``; the contour is drawn half way.
    title : str
        The tooltip; the colour scale is added to it.

    Returns
    -------
    str
        An SVG fragment.
    """
    shade = np.nan_to_num((values - low) / (high - low), nan=0.5)
    resolution = values.shape[0]
    px = np.linspace(x, x + size, resolution)
    py = np.linspace(y, y + size, resolution)
    parts = [f"<title>{esc(title)}; orange {fmt(low)}, white {fmt((low + high) / 2)}, "
             f"blue {fmt(high)}</title>\n",
             f'<image x="{num(x)}" y="{num(y)}" width="{num(size)}" height="{num(size)}" '
             f'preserveAspectRatio="none" href="{png_data_uri(_tint(shade))}"/>\n']
    path = " ".join(f"M {num(a[0])} {num(a[1])} L {num(b[0])} {num(b[1])}"
                    for a, b in _contour(np.nan_to_num(values, nan=(low + high) / 2),
                                         px, py, (low + high) / 2))
    if path:
        parts.append(f'<path d="{path}" stroke="#1a202c" stroke-width="1.2" fill="none"/>\n')
    parts.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(size)}" height="{num(size)}" '
                 'fill="none" stroke="#718096"/>\n')
    x_axis = _Axis(*x_range, x, x + size)
    y_axis = _Axis(*y_range, y + size, y)
    for a, b, colour, filled in points:
        parts.append(f'<circle cx="{num(x_axis(a))}" cy="{num(y_axis(b))}" r="3.5" '
                     f'fill="{colour if filled else "#ffffff"}" stroke="{colour}" '
                     'stroke-width="1.5"/>\n')
    return "".join(parts)
