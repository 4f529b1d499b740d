"""The network drawn: neurons, weighted edges and, for one sample, its numbers.

:func:`draw` returns an SVG string. Each edge is one weight, drawn blue when
positive and red when negative, thicker the larger its magnitude (relative
to the largest weight of the network). For the document's 2-2-1 network the
edges and neurons carry the document's names:

    x1 --w1--> h1      x1 --w3--> h2      h1 --w5--> o1
    x2 --w2--> h1      x2 --w4--> h2      h2 --w6--> o1
    biases b1 (h1), b2 (h2), b3 (o1)

so ``w1`` is ``W1[0, 0]``, ``w4`` is ``W1[1, 1]``, ``w6`` is ``W2[0, 1]``
and ``b3`` is ``b2[0]``. Other networks name entries in matrix form
(``W2[0, 3]``, ``b1[4]``). Given one sample the drawing adds each neuron's
value (``h1 = 0.0474``); given a target too, each parameter's gradient
(``dL/dw1``). A network with a layer of more than :data:`WIDE` units is
drawn a layer at a time instead, with each weight matrix summarised.
"""

from __future__ import annotations

import numpy as np

from .model import Model
from .svg import esc, fmt, num, svg_document, text
from .validation import as_array

__all__ = ["WIDE", "draw", "parameter_names"]

#: Layers wider than this are drawn as one box each.
WIDE = 16

POSITIVE = "#2b6cb0"
NEGATIVE = "#c53030"
ZERO = "#a0aec0"

_DOCUMENT_W = (("w1", "w2", "w3", "w4"), ("w5", "w6"))
_DOCUMENT_B = (("b1", "b2"), ("b3",))


def parameter_names(sizes):
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


def _neuron_names(sizes):
    """``x1..``, ``h1..`` (``h<l>.<i>`` with several hidden layers), ``o1..``."""
    hidden = len(sizes) - 2
    names = [[f"x{i + 1}" for i in range(sizes[0])]]
    for l, n in enumerate(sizes[1:-1], start=1):
        names.append([f"h{i + 1}" if hidden == 1 else f"h{l}.{i + 1}" for i in range(n)])
    names.append([f"o{i + 1}" for i in range(sizes[-1])])
    return names


def draw(net, X=None, y=None):
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
    str
        A standalone ``<svg>`` element (well-formed XML).
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
        return _draw_layers(net, activations, gradients, loss)
    return _draw_neurons(net, activations, target, gradients, loss)


def _colour(value):
    return POSITIVE if value > 0 else NEGATIVE if value < 0 else ZERO


def _label(x, y, lines, size=11):
    """Lines of text centred at (x, y) on a white box, readable over edges."""
    width = 0.62 * size * max(len(line) for line in lines) + 8
    height = (size + 3) * len(lines) + 4
    parts = [f'<rect x="{num(x - width / 2)}" y="{num(y - height / 2)}" width="{num(width)}" '
             f'height="{num(height)}" rx="3" fill="#ffffff" fill-opacity="0.9"/>\n']
    for k, line in enumerate(lines):
        parts.append(text(x, y - height / 2 + (size + 3) * (k + 1) - 1, line, size=size))
    return "".join(parts)


def _scale(values):
    """Each value's magnitude relative to the largest, in [0, 1]."""
    largest = max((float(np.max(np.abs(v))) for v in values if np.size(v)), default=0.0)
    if largest == 0:
        return lambda value: 0.0
    # Dividing first keeps 1e300-sized weights from overflowing.
    return lambda value: float(np.sqrt(abs(value) / largest))


def _title(net):
    acts = net.activations
    act = acts[0] if len(set(acts)) == 1 else ", ".join(acts)
    return f"{'-'.join(map(str, net.sizes))} network, {act}"


def _legend(y, with_values):
    parts = [text(16, y, "blue: positive weight, red: negative; thicker: larger |weight|",
                  anchor="start", size=11, fill="#4a5568")]
    if with_values:
        parts.append(text(16, y + 15, "dL/dw: the gradient of the loss for this sample",
                          anchor="start", size=11, fill="#4a5568"))
    return "".join(parts)


def _draw_neurons(net, activations, target, gradients, loss):
    sizes = net.sizes
    names = _neuron_names(sizes)
    params = parameter_names(sizes)
    weights = [(layer.W, layer.b) for layer in net.layers]
    scale = _scale([W for W, _ in weights])
    labelled = sizes == (2, 2, 1) or max(
        a * b for a, b in zip(sizes[:-1], sizes[1:])) <= 9
    row_gap = 150 if gradients is not None else 110
    col_gap = 280 if labelled else 200
    radius = 22
    top, left = 84, 110
    tallest = max(sizes)
    width = left * 2 + col_gap * (len(sizes) - 1) + 70
    height = top + row_gap * tallest - row_gap / 2 + 30

    def position(layer, i):
        offset = (tallest - sizes[layer]) * row_gap / 2
        return left + layer * col_gap, top + offset + i * row_gap + row_gap / 2 - 20

    edges, labels, nodes = [], [], []
    for l, ((W, b), (W_names, b_names)) in enumerate(zip(weights, params)):
        dW = gradients[l][0] if gradients is not None else None
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                (x0, y0), (x1, y1) = position(l, j), position(l + 1, i)
                w = W[i, j]
                tip = f"{W_names[i, j]} = {fmt(w, 6)}"
                if dW is not None:
                    tip += f", dL/d{W_names[i, j]} = {fmt(dW[i, j], 6)}"
                edges.append(
                    f'<line x1="{num(x0 + radius)}" y1="{num(y0)}" x2="{num(x1 - radius)}" '
                    f'y2="{num(y1)}" stroke="{_colour(w)}" '
                    f'stroke-width="{num(0.8 + 5.2 * scale(w))}" stroke-opacity="0.8">'
                    f'<title>{esc(tip)}</title></line>\n')
                if labelled:
                    # Near the source, where edges from one neuron have fanned out.
                    t = 0.3
                    lines = [f"{W_names[i, j]} = {fmt(w)}" if sizes == (2, 2, 1) else fmt(w)]
                    if dW is not None:
                        lines.append(f"dL/d{W_names[i, j]} = {fmt(dW[i, j])}")
                    labels.append(_label(x0 + t * (x1 - x0), y0 + t * (y1 - y0), lines))
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
                nodes.append(_label(x, y - radius - 8 - 14 * len(lines), lines))
    body = [text(16, 24, _title(net), anchor="start", size=15, weight="bold"),
            _legend(44, gradients is not None)]
    if loss is not None:
        body.append(text(width - 16, 24, f"loss L = {fmt(loss)}", anchor="end"))
    body += edges + labels + nodes
    return svg_document(width, height, "".join(body), label=_title(net))


def _mean(a):
    """Mean of ``a``, computed so that 1e300-sized entries do not overflow."""
    largest = float(np.max(np.abs(a)))
    if largest == 0 or not np.isfinite(largest):
        with np.errstate(invalid="ignore"):
            return float(np.mean(a))
    return largest * float(np.mean(a / largest))


def _rms(a):
    """Root mean square of ``a``, computed so that 1e300-sized entries do not overflow."""
    largest = float(np.max(np.abs(a)))
    if largest == 0 or not np.isfinite(largest):
        return largest
    return largest * float(np.sqrt(np.mean(np.square(a / largest))))


def _draw_layers(net, activations, gradients, loss):
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
                 "root-mean-square weight; blue: mostly positive, red: mostly negative",
                 anchor="start", size=11, fill="#4a5568")]
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
        positive = float(np.mean(layer.W > 0))
        colour = POSITIVE if positive > 0.5 else NEGATIVE if positive < 0.5 else ZERO
        body.append(f'<line x1="{num(x0)}" y1="{num(ym)}" x2="{num(x1 - 8)}" y2="{num(ym)}" '
                    f'stroke="{colour}" stroke-width="{num(2 + 10 * scale(rms[l - 1]))}" '
                    f'stroke-opacity="0.8"/>\n')
        body.append(f'<path d="M {num(x1)} {num(ym)} l -10 -7 l 0 14 z" fill="{colour}"/>\n')
        notes = [f"W{l}: {layer.W.shape[0]} x {layer.W.shape[1]}",
                 f"rms {fmt(rms[l - 1])}, max |w| {fmt(np.max(np.abs(layer.W)))}",
                 f"{positive:.0%} positive"]
        if gradients is not None:
            dW, db = gradients[l - 1]
            notes += [f"rms dL/dW{l} {fmt(_rms(dW))}", f"rms dL/db{l} {fmt(_rms(db))}"]
        for k, note in enumerate(notes):
            body.append(text((x0 + x1) / 2, top + box_h + 22 + 16 * k, note, size=11))
    if loss is not None:
        body.append(text(width - 16, 24, f"target given; loss L = {fmt(loss)}", anchor="end"))
    return svg_document(width, height, "".join(body), label=_title(net))
