"""The network drawn: neurons, weighted edges and, for one sample, its numbers.

:func:`draw` returns a :class:`Drawing`: Jupyter shows it as SVG, ``str()``
gives its SVG text and :meth:`Drawing.save` writes it to a file. Each edge
is one weight, drawn blue when positive and red when negative, thicker the
larger its magnitude (relative to the largest weight of the network). For
the document's 2-2-1 network the edges and neurons carry the document's
names:

    x1 --w1--> h1      x1 --w3--> h2      h1 --w5--> o1
    x2 --w2--> h1      x2 --w4--> h2      h2 --w6--> o1
    biases b1 (h1), b2 (h2), b3 (o1)

so ``w1`` is ``W1[0, 0]``, ``w4`` is ``W1[1, 1]``, ``w6`` is ``W2[0, 1]``
and ``b3`` is ``b2[0]``. Other networks name entries in matrix form
(``W2[0, 3]``, ``b1[4]``). Given one sample the drawing adds each neuron's
value (``h1 = 0.0474``); given a target too, each parameter's gradient
(``dL/dw1``). A network with a layer of more than :data:`WIDE` units is
drawn a layer at a time instead, with each weight matrix summarised.

:func:`neuron_maps` draws what every hidden and output neuron of a
2-input network computes: its output over a rectangle of the input plane.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from ._typing import ArrayLike, FloatArray, NDArray, StrPath
from .atomic import write_atomically
from .charts import map_tile
from .model import Model
from .svg import esc, fmt, num, svg_document, text
from .validation import as_array

if TYPE_CHECKING:
    from .layers import Dense
    from .losses import Loss

    class _Network(Protocol):
        """What the drawings read of a :class:`~matnn.Network` (whose module imports this one)."""

        sizes: tuple[int, ...]
        dtype: np.dtype[Any]
        loss_fn: Loss
        layers: tuple[Dense, ...]

        @property
        def _members(self) -> int | None: ...
        @property
        def n_in(self) -> int: ...
        @property
        def n_out(self) -> int: ...
        @property
        def activations(self) -> tuple[str, ...]: ...
        def forward(self, X: ArrayLike) -> list[FloatArray]: ...
        def gradients(self, X: ArrayLike, y: ArrayLike) -> list[tuple[FloatArray, FloatArray]]: ...
        def loss(self, X: ArrayLike, y: ArrayLike) -> float: ...

#: Each layer's ``(dW, db)``.
Gradients = list[tuple[FloatArray, FloatArray]]

__all__ = ["WIDE", "Drawing", "draw", "neuron_maps", "neuron_names", "parameter_names"]

#: Layers wider than this are drawn as one box each.
WIDE = 16

POSITIVE = "#2b6cb0"
NEGATIVE = "#c53030"
ZERO = "#a0aec0"

_DOCUMENT_W = (("w1", "w2", "w3", "w4"), ("w5", "w6"))
_DOCUMENT_B = (("b1", "b2"), ("b3",))
_DOCUMENT_NEURONS = (("x1", "x2"), ("h1", "h2"), ("o1",))


class Drawing:
    """An SVG drawing: Jupyter shows it, ``str()`` is its text, :meth:`save` writes it.

    Parameters
    ----------
    svg : str
        A standalone ``<svg>`` element.
    title : str
        What it shows, for ``repr``.

    Attributes
    ----------
    svg : str
    title : str
    """

    def __init__(self, svg: str, title: str) -> None:
        self.svg = svg
        self.title = title

    def __str__(self) -> str:
        return self.svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<matnn.Drawing: {self.title}>"

    def save(self, path: StrPath) -> None:
        """Write the SVG text to ``path`` (UTF-8) atomically (:func:`matnn.atomic.write_atomically`).

        Parameters
        ----------
        path : str or os.PathLike
            Written exactly as given, e.g. ``"network.svg"``.
        """
        content = self.svg.encode("utf-8")
        write_atomically(path, lambda f: f.write(content))


def parameter_names(sizes: Iterable[int]) -> list[tuple[NDArray[np.str_], NDArray[np.str_]]]:
    """The name of every weight and bias, layer by layer.

    Parameters
    ----------
    sizes : tuple of int
        ``(n_in, n_hidden..., n_out)``.

    Returns
    -------
    list of (ndarray of str of shape (n_out, n_in), ndarray of str of shape (n_out,))
        The document's names for sizes ``(2, 2, 1)``; otherwise ``W<l>[i, j]``
        and ``b<l>[i]`` with ``l`` counted from 1, as in the README.
    """
    sizes = tuple(sizes)
    names = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if sizes == (2, 2, 1):
            W = np.array(_DOCUMENT_W[l]).reshape(n_out, n_in)
            b = np.array(_DOCUMENT_B[l])
        else:
            W = np.array([[f"W{l + 1}[{i}, {j}]" for j in range(n_in)] for i in range(n_out)])
            b = np.array([f"b{l + 1}[{i}]" for i in range(n_out)])
        names.append((W, b))
    return names


def neuron_names(sizes: Iterable[int]) -> list[list[str]]:
    """The name of every neuron, layer by layer, the inputs first.

    Parameters
    ----------
    sizes : tuple of int
        ``(n_in, n_hidden..., n_out)``.

    Returns
    -------
    list of list of str
        The document's ``x1, x2``, ``h1, h2`` and ``o1`` for sizes ``(2, 2, 1)``;
        otherwise matrix names: ``X[:, j]`` for input ``j`` and ``A<l>[:, i]``
        for neuron ``i`` of layer ``l`` (the column of the layer's output).
    """
    sizes = tuple(sizes)
    if sizes == (2, 2, 1):
        return [list(names) for names in _DOCUMENT_NEURONS]
    return [[f"X[:, {i}]" if l == 0 else f"A{l}[:, {i}]" for i in range(n)]
            for l, n in enumerate(sizes)]


def _circle_names(sizes: Sequence[int]) -> list[list[str]]:
    """Short names inside the circles: ``x1..``, ``h1..`` (``h<l>.<i>`` with several
    hidden layers), ``o1..``."""
    hidden = len(sizes) - 2
    names = [[f"x{i + 1}" for i in range(sizes[0])]]
    for l, n in enumerate(sizes[1:-1], start=1):
        names.append([f"h{i + 1}" if hidden == 1 else f"h{l}.{i + 1}" for i in range(n)])
    names.append([f"o{i + 1}" for i in range(sizes[-1])])
    return names


def draw(net: _Network, X: ArrayLike | None = None, y: ArrayLike | None = None) -> Drawing:
    """The network as an SVG diagram.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_in,) or (1, n_in), optional
        One sample: each neuron's value for it is shown.
    y : array-like of shape (n_out,) or (1, n_out), or a number if n_out == 1, optional
        The sample's target (needs ``X``): each parameter's gradient
        ``net.gradients(X, y)`` is shown, with the loss.

    Returns
    -------
    Drawing
        Its ``str()`` is a standalone ``<svg>`` element (well-formed XML).
    """
    # Any one network (an Ensemble is many); a Network's own _repr_svg_ calls this.
    if not isinstance(net, Model) or net._members is not None:
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    if y is not None and X is None:
        raise ValueError("y needs X: give the sample whose target y is")
    activations = target = gradients = loss = None
    if X is not None:
        X = as_array(X, "X", net.dtype)
        if X.shape not in ((net.n_in,), (1, net.n_in)):
            raise ValueError(f"X must be one sample of shape ({net.n_in},) or (1, {net.n_in}), "
                             f"got shape {X.shape}")
        X = X.reshape(1, net.n_in)
        # Huge weights may overflow the forward pass; the drawing shows the inf.
        with np.errstate(over="ignore", invalid="ignore"):
            activations = [A[0] for A in net.forward(X)]
            if y is not None:
                y = as_array(y, "y", net.dtype)
                if y.size != net.n_out:
                    raise ValueError(f"y must hold {net.n_out} target value(s) for one sample, "
                                     f"got shape {y.shape}")
                Y = y.reshape(1, net.n_out)
                target = Y[0]
                gradients = net.gradients(X, Y)
                loss = net.loss(X, Y)
    if max(net.sizes) > WIDE:
        svg = _draw_layers(net, activations, gradients, loss)
    else:
        svg = _draw_neurons(net, activations, target, gradients, loss)
    return Drawing(svg, _title(net))


def _colour(value: float) -> str:
    return POSITIVE if value > 0 else NEGATIVE if value < 0 else ZERO


def _along(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    t: float,
    above: str | None,
    below: str | None = None,
    size: float = 11,
) -> str:
    """Text parallel to the segment (x0, y0)-(x1, y1) at fraction ``t``: ``above`` on
    one side, ``below`` on the other, so the edge itself stays whole."""
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy)
    # The unit normal on the upper side of a left-to-right edge.
    nx, ny = dy / length, -dx / length
    px, py = x0 + t * dx, y0 + t * dy
    angle = math.degrees(math.atan2(dy, dx))
    parts = []
    for line, gap in ((above, 4), (below, -(4 + 0.8 * size))):
        if line is None:
            continue
        bx, by = px + gap * nx, py + gap * ny
        parts.append(text(bx, by, line, size=size, halo=True,
                          extra=f'transform="rotate({num(angle)} {num(bx)} {num(by)})"'))
    return "".join(parts)


def _label_position(lesson: bool, level: bool, n_to: int) -> float:
    """Where along an edge its label goes: 0 at the source, 1 at the target.

    On the document's network a level edge meets no other, so its label sits
    in the middle, and a sloped one is labelled near its source, before the
    two sloped edges cross half way. Elsewhere every edge of a layer is
    labelled at ``1 / (n_to + 1)``: there the labels of one source's fan sit
    between it and the next source's, and no two edges have crossed yet.
    """
    if lesson:
        return 0.5 if level else 0.2
    return 1 / (n_to + 1)


def _scale(values: Iterable[ArrayLike]) -> Callable[[float], float]:
    """Each value's magnitude relative to the largest, in [0, 1]."""
    largest = max((float(np.max(np.abs(v))) for v in values if np.size(v)), default=0.0)
    if largest == 0:
        return lambda value: 0.0
    # Dividing first keeps 1e300-sized weights from overflowing.
    return lambda value: float(np.sqrt(abs(value) / largest))


def _title(net: _Network) -> str:
    acts = net.activations
    act = acts[0] if len(set(acts)) == 1 else ", ".join(acts)
    return f"{'-'.join(map(str, net.sizes))} network, {act}"


def _legend(y: float, with_values: bool, lesson: bool) -> str:
    parts = [text(16, y, "blue: positive weight, red: negative; thicker: larger |weight|",
                  anchor="start", size=11, fill="#4a5568")]
    if with_values:
        where = "" if lesson else " (under each weight's value)"
        parts.append(text(16, y + 15, f"dL/dw{where}: the gradient of the loss L for this "
                          "sample", anchor="start", size=11, fill="#4a5568"))
    return "".join(parts)


def _loss_lines(net: _Network, target: FloatArray, output: FloatArray, loss: float) -> list[str]:
    """The sample's loss, said with its formula: ``L = (1 - 0.524)^2 = 0.227``."""
    if net.loss_fn.name == "mse":
        if net.n_out == 1:
            return [f"loss L = (target - {'y_pred' if net.sizes == (2, 2, 1) else 'output'})\u00b2",
                    f"= ({fmt(target[0])} - {fmt(output[0])})\u00b2 = {fmt(loss)}"]
        return ["loss L = mean of (target - output)\u00b2", f"over the {net.n_out} outputs = {fmt(loss)}"]
    return [f"loss L ({net.loss_fn.name}) of the outputs", f"against the targets = {fmt(loss)}"]


def _draw_neurons(
    net: _Network,
    activations: list[FloatArray] | None,
    target: FloatArray | None,
    gradients: Gradients | None,
    loss: float | None,
) -> str:
    sizes = net.sizes
    names = _circle_names(sizes)
    params = parameter_names(sizes)
    weights = [(layer.W, layer.b) for layer in net.layers]
    scale = _scale([W for W, _ in weights])
    lesson = sizes == (2, 2, 1)
    labelled = lesson or max(
        a * b for a, b in zip(sizes[:-1], sizes[1:])) <= 9
    row_gap = 150 if gradients is not None else 110
    col_gap = 280 if labelled else 200
    radius = 22
    top, left = 84, 110
    tallest = max(sizes)
    # Room on the right for the output's value, target and loss.
    width = left + col_gap * (len(sizes) - 1) + (230 if loss is not None else 180)
    height = top + row_gap * tallest - row_gap / 2 + 30

    def position(layer: int, i: int) -> tuple[float, float]:
        offset = (tallest - sizes[layer]) * row_gap / 2
        return left + layer * col_gap, top + offset + i * row_gap + row_gap / 2 - 20

    edges, labels, nodes = [], [], []
    for l, ((W, b), (W_names, b_names)) in enumerate(zip(weights, params)):
        dW = gradients[l][0] if gradients is not None else None
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                (x0, y0), (x1, y1) = position(l, j), position(l + 1, i)
                x0, x1 = x0 + radius, x1 - radius
                w = W[i, j]
                tip = f"{W_names[i, j]} = {fmt(w, 6)}"
                if dW is not None:
                    tip += f", dL/d{W_names[i, j]} = {fmt(dW[i, j], 6)}"
                edges.append(
                    f'<line x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1)}" '
                    f'y2="{num(y1)}" stroke="{_colour(w)}" '
                    f'stroke-width="{num(0.8 + 5.2 * scale(w))}" stroke-opacity="0.8">'
                    f'<title>{esc(tip)}</title></line>\n')
                if labelled:
                    # Off the document's network the names are long: the tooltip has them.
                    value = f"{W_names[i, j]} = {fmt(w)}" if lesson else fmt(w)
                    gradient = None if dW is None else fmt(dW[i, j])
                    if gradient is not None and lesson:
                        gradient = f"dL/d{W_names[i, j]} = {gradient}"
                    t = _label_position(lesson, y0 == y1, W.shape[0])
                    if lesson and y1 < y0 and gradient is not None:
                        # The longer line on the side with room: towards the middle.
                        value, gradient = gradient, value
                    labels.append(_along(x0, y0, x1, y1, t, value, gradient))
    for layer, layer_names in enumerate(names):
        for i, name in enumerate(layer_names):
            x, y = position(layer, i)
            fill = "#edf2f7" if layer == 0 else "#fefcbf" if layer == len(sizes) - 1 else "#e6fffa"
            nodes.append(f'<circle cx="{num(x)}" cy="{num(y)}" r="{radius}" fill="{fill}" '
                         f'stroke="#2d3748" stroke-width="1.5"/>\n')
            nodes.append(text(x, y + 5, name, size=14, weight="bold"))
            if activations is not None:
                value = f"{name} = {fmt(activations[layer][i])}"
                if layer == 0:
                    nodes.append(text(x - radius - 6, y + 4, value, anchor="end", halo=True))
                elif layer == len(sizes) - 1:
                    nodes.append(text(x + radius + 6, y + 4, value, anchor="start", halo=True,
                                      weight="bold"))
                    if target is not None:
                        nodes.append(text(x + radius + 6, y + 19, f"target {fmt(target[i])}",
                                          anchor="start", halo=True))
                else:
                    nodes.append(text(x, y + radius + 15, value, halo=True, weight="bold"))
            if layer > 0:
                b = weights[layer - 1][1][i]
                b_name = params[layer - 1][1][i]
                lines = [f"{b_name} = {fmt(b)}"]
                if gradients is not None:
                    lines.append(f"dL/d{b_name} = {fmt(gradients[layer - 1][1][i])}")
                for k, line in enumerate(lines):
                    nodes.append(text(x, y - radius - 8 - 14 * (len(lines) - 1 - k), line,
                                      size=11, halo=True))
    body = [text(16, 24, _title(net), anchor="start", size=15, weight="bold"),
            _legend(44, gradients is not None, lesson)]
    if loss is not None:
        # Under the output neurons' values and targets, where the loss comes from.
        x, y = position(len(sizes) - 1, sizes[-1] - 1)
        # A loss comes with the sample's target and activations.
        lines = _loss_lines(net, target, activations[-1], loss)  # type: ignore[arg-type, index]
        for k, line in enumerate(lines):
            body.append(text(x + radius + 6, y + 40 + 15 * k, line, anchor="start", halo=True))
    body += edges + labels + nodes
    return svg_document(width, height, "".join(body), label=_title(net))


def _mean(a: FloatArray) -> float:
    """Mean of ``a``, computed so that 1e300-sized entries do not overflow."""
    largest = float(np.max(np.abs(a)))
    if largest == 0 or not np.isfinite(largest):
        with np.errstate(invalid="ignore"):
            return float(np.mean(a))
    return largest * float(np.mean(a / largest))


def _rms(a: FloatArray) -> float:
    """Root mean square of ``a``, computed so that 1e300-sized entries do not overflow."""
    largest = float(np.max(np.abs(a)))
    if largest == 0 or not np.isfinite(largest):
        return largest
    return largest * float(np.sqrt(np.mean(np.square(a / largest))))


def _signs(W: FloatArray) -> tuple[float, float, float]:
    """The shares of positive, zero and negative entries of ``W``."""
    return float(np.mean(W > 0)), float(np.mean(W == 0)), float(np.mean(W < 0))


def _draw_layers(
    net: _Network,
    activations: list[FloatArray] | None,
    gradients: Gradients | None,
    loss: float | None,
) -> str:
    sizes = net.sizes
    box_w, box_h, gap = 150, 150, 150
    top, left = 84, 30
    width = left * 2 + box_w * len(sizes) + gap * (len(sizes) - 1)
    height = top + box_h + 150
    rms = [_rms(layer.W) for layer in net.layers]
    scale = _scale([np.array(rms)])
    body = [text(16, 24, _title(net) + " (drawn a layer at a time)", anchor="start", size=15,
                 weight="bold"),
            text(16, 44, "each arrow is a weight matrix W (n_out x n_in); thicker: larger "
                 "root-mean-square weight; its blue, grey and red bands: the shares of "
                 "positive, zero and negative weights", anchor="start", size=11, fill="#4a5568")]
    for l, n in enumerate(sizes):
        x = left + l * (box_w + gap)
        kind = "input" if l == 0 else "output" if l == len(sizes) - 1 else f"hidden layer {l}"
        body.append(f'<rect x="{num(x)}" y="{top}" width="{box_w}" height="{box_h}" rx="10" '
                    f'fill="{"#edf2f7" if l == 0 else "#e6fffa"}" stroke="#2d3748"/>\n')
        lines = [kind, f"{n} unit{'s' if n != 1 else ''}"]
        if l > 0:
            lines.append(net.activations[l - 1])
        if activations is not None:
            A = activations[l]
            lines += [f"min {fmt(np.min(A))}", f"mean {fmt(_mean(A))}", f"max {fmt(np.max(A))}"]
        for k, line in enumerate(lines):
            body.append(text(x + box_w / 2, top + 24 + 19 * k, line,
                             weight="bold" if k == 0 else None))
        if l == 0:
            continue
        layer = net.layers[l - 1]
        x0, x1, ym = x - gap, x, top + box_h / 2
        shares = _signs(layer.W)
        thickness = 2 + 10 * scale(rms[l - 1])
        # One band per sign, stacked across the arrow, as wide as its share.
        edge = ym - thickness / 2
        for share, colour in zip(shares, (POSITIVE, ZERO, NEGATIVE)):
            if share:
                band = thickness * share
                body.append(f'<rect x="{num(x0)}" y="{num(edge)}" width="{num(x1 - 10 - x0)}" '
                            f'height="{num(band)}" fill="{colour}" fill-opacity="0.85"/>\n')
                edge += band
        body.append(f'<path d="M {num(x1)} {num(ym)} l -10 -7 l 0 14 z" fill="#2d3748"/>\n')
        positive, _, negative = shares
        notes = [f"W{l}: {layer.W.shape[0]} x {layer.W.shape[1]}",
                 f"rms {fmt(rms[l - 1])}, max |w| {fmt(np.max(np.abs(layer.W)))}",
                 f"{positive:.0%} positive, {negative:.0%} negative"]
        if gradients is not None:
            dW, db = gradients[l - 1]
            notes += [f"rms dL/dW{l} {fmt(_rms(dW))}", f"rms dL/db{l} {fmt(_rms(db))}"]
        for k, note in enumerate(notes):
            body.append(text((x0 + x1) / 2, top + box_h + 22 + 16 * k, note, size=11))
    if loss is not None:
        body.append(text(width - 16, 24, f"loss L ({net.loss_fn.name}) for the target given "
                         f"= {fmt(loss)}", anchor="end"))
    return svg_document(width, height, "".join(body), label=_title(net))


#: The colour scale of a neuron's map, by activation: its range of values.
#: Other activations are scaled by the largest magnitude in their layer.
MAP_RANGES = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}

#: At most this many neurons of a layer get a map in :func:`neuron_maps`.
MAX_MAPS = 48

#: A layer with more neurons than this is drawn as several columns of maps,
#: without the weights' edges.
MAP_ROWS = 6


def neuron_maps(
    net: _Network,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    *,
    to_input: Callable[[NDArray[np.float64]], ArrayLike] | None = None,
    points: Iterable[tuple[float, float, str, bool]] = (),
    x_label: str = "x1",
    y_label: str = "x2",
    resolution: int = 48,
    tile: float = 100,
) -> Drawing:
    """The network drawn with every hidden and output neuron as a map of its output.

    Each neuron is a small square: its output over a rectangle of the input
    plane, shaded orange (low) to white (the middle) to blue (high), with
    the line where it crosses the middle value. The scale is the
    activation's range (:data:`MAP_RANGES`: 0 to 1 for a sigmoid, so the
    line is output 0.5) or, for other activations, symmetric about 0 up to
    the largest magnitude in the layer. Edges
    are the weights, as in :func:`draw`. Each map is a ``<g>`` element with
    ``data-neuron="NAME"``, NAME from :func:`neuron_names` (``h1``, ``h2``,
    ``o1`` for the document's network).

    Parameters
    ----------
    net : Network
        A network with 2 inputs.
    x_range, y_range : (float, float)
        The rectangle, in the axes' units.
    to_input : callable, optional
        Takes an ndarray of shape (n, 2) of points in the axes' units and
        returns the network's inputs, of shape (n, 2); e.g. the document's
        shift from pounds and inches. By default the axes are the inputs.
    points : sequence of (x, y, colour, filled)
        Marked on every map, in the axes' units (the data, say).
    x_label, y_label : str
        What the axes are.
    resolution : int
        Grid points per side of each map.
    tile : int
        Each map's side, in pixels.

    Returns
    -------
    Drawing
        Layers wider than :data:`MAP_ROWS` are drawn as several columns of
        maps without edges, and at most :data:`MAX_MAPS` neurons of a layer.
    """
    if not isinstance(net, Model) or net._members is not None:
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    if net.n_in != 2:
        raise ValueError(f"neuron maps need a network with 2 inputs, got {net.n_in}")
    gx = np.linspace(x_range[0], x_range[1], resolution)
    gy = np.linspace(y_range[1], y_range[0], resolution)  # top row first, as an image
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    inputs = grid if to_input is None else to_input(grid)
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = net.forward(np.asarray(inputs, dtype=net.dtype))[1:]
    names = neuron_names(net.sizes)
    sizes = net.sizes
    shown = [min(n, MAX_MAPS) for n in sizes[1:]]
    edges_drawn = max(sizes[1:]) <= MAP_ROWS
    rows = min(max(shown), MAP_ROWS)
    head, row_gap, col_gap, top = 18, 22, 90 if edges_drawn else 26, 85
    row_height = head + tile + row_gap
    input_width = 110
    sub_columns = [-(-n // rows) for n in shown]
    height = top + rows * row_height + 10

    def centre(layer: int, i: int) -> tuple[float, float]:
        """The middle of neuron ``i``'s square (layer 0: its input box)."""
        if layer == 0:
            x = 16 + input_width / 2
            offset = (rows - sizes[0]) * row_height / 2
        else:
            x = 16 + input_width + col_gap + sum(
                k * (tile + col_gap) for k in sub_columns[:layer - 1]) + tile / 2
            x += (i // rows) * (tile + col_gap)
            offset = (rows - min(shown[layer - 1] - (i // rows) * rows, rows)) * row_height / 2
            i %= rows
        return x, top + offset + i * row_height + head + tile / 2

    title = f"What each neuron computes: {_title(net)}"
    notes = [f"each square: the neuron's output over {x_label} from {fmt(x_range[0])} to "
             f"{fmt(x_range[1])} (across)", f"and {y_label} from {fmt(y_range[0])} to "
             f"{fmt(y_range[1])} (up); orange: low, white: the middle value, blue: high",
             "line: the middle value"
             + ("; edges: the weights, blue positive, red negative" if edges_drawn else "")]
    # About 0.56 em per character of sans-serif text at 11 px.
    width = max(centre(len(sizes) - 1, shown[-1] - 1)[0] + tile / 2 + 16,
                32 + 6.2 * max(map(len, notes)), 32 + 9 * len(title))
    parts = [text(16, 24, title, anchor="start", size=15, weight="bold")]
    parts += [text(16, 42 + 15 * k, note, anchor="start", size=11, fill="#4a5568")
              for k, note in enumerate(notes)]
    if edges_drawn:
        params = parameter_names(sizes)
        scale = _scale([layer.W for layer in net.layers])
        for l, layer in enumerate(net.layers):
            for i in range(layer.n_out):
                for j in range(layer.n_in):
                    (x0, y0), (x1, y1) = centre(l, j), centre(l + 1, i)
                    x0 += input_width / 2 if l == 0 else tile / 2
                    w = layer.W[i, j]
                    parts.append(
                        f'<line x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1 - tile / 2)}" '
                        f'y2="{num(y1)}" stroke="{_colour(w)}" '
                        f'stroke-width="{num(0.8 + 5.2 * scale(w))}" stroke-opacity="0.8">'
                        f'<title>{esc(params[l][0][i, j])} = {esc(fmt(w, 6))}</title></line>\n')
    for j, (name, label) in enumerate(zip(names[0], (x_label, y_label))):
        x, y = centre(0, j)
        parts.append(f'<rect x="{num(x - input_width / 2)}" y="{num(y - 22)}" '
                     f'width="{input_width}" height="44" rx="8" fill="#edf2f7" '
                     'stroke="#2d3748"/>\n')
        parts.append(text(x, y - 4, name, size=13, weight="bold"))
        parts.append(text(x, y + 12, label, size=10))
    for l, (A, activation) in enumerate(zip(outputs, net.activations), start=1):
        if activation in MAP_RANGES:
            low, high = MAP_RANGES[activation]
        else:
            finite = np.abs(A[np.isfinite(A)])
            high = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            low = -high
        for i in range(shown[l - 1]):
            x, y = centre(l, i)
            name = names[l][i]
            parts.append(f'<g data-neuron="{esc(name)}">\n')
            parts.append(text(x, y - tile / 2 - 5, name, size=12, weight="bold"))
            parts.append(map_tile(A[:, i].reshape(resolution, resolution), x - tile / 2,
                                  y - tile / 2, tile, x_range, y_range, points, low=low,
                                  high=high, title=f"{name}: neuron {i + 1} of layer {l}"))
            parts.append("</g>\n")
        if shown[l - 1] < sizes[l]:
            x, _ = centre(l, shown[l - 1] - 1)
            parts.append(text(x, height - 4, f"the first {MAX_MAPS} of {sizes[l]}", size=11))
    return Drawing(svg_document(width, height, "".join(parts), label=title),
                   f"neuron maps of the {_title(net)}")
