"""The document's worked backpropagation, with real numbers, in both forms.

The document computes one partial derivative by hand: for Alice, with every
weight 1 and every bias 0, ``dL/dw1`` is the product of three chain-rule
factors. :func:`explain` repeats that calculation for any of the nine
parameters, any sample and any weights, using the scalar shim's
:meth:`~matnn.scalar.OurNeuralNetwork.backprop` for the factors, and then
shows where each factor lives in the matrix form: the output delta
``delta2``, the hidden delta ``delta1 = (delta2 @ W2) * A1*(1-A1)``, and the
gradient entry, e.g. ``dW1[0, 0] = delta1[0, 0] * X[0, 0]``, computed with
:meth:`Network.forward` and :meth:`Network.backward`. :func:`report` turns
the result into the text the ``matnn explain`` command prints.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from . import data, scalar
from ._typing import ArrayLike, FloatArray, NDArray
from .activations import ACTIVATIONS
from .losses import LOSSES

if TYPE_CHECKING:
    from .network import Network

__all__ = ["GRADIENT_ENTRIES", "FACTORS", "SATURATED", "SAMPLES", "Explanation", "explain", "report",
           "round_like_document"]

#: A sigmoid is reported saturated where its slope f'(z) is below this:
#: under 1/250 of the slope at z = 0, so it passes back almost no gradient.
SATURATED = 1e-3

#: The people :func:`explain` takes by name: the four of the training set,
#: and Emily and Frank, whom the trained network is asked about.
SAMPLES = data.NAMES + tuple(name for name, *_ in data.QUERIES)

#: For each parameter: the gradient entry it is in matrix form, the layer
#: (0 hidden, 1 output), the neuron (row of W) and the input column of W
#: (None for a bias). The entry is ``delta_layer[0, neuron] * input[0, column]``
#: where the input is X for layer 0 and A1 for layer 1.
GRADIENT_ENTRIES = {
    "w1": ("dW1[0, 0]", 0, 0, 0),
    "w2": ("dW1[0, 1]", 0, 0, 1),
    "w3": ("dW1[1, 0]", 0, 1, 0),
    "w4": ("dW1[1, 1]", 0, 1, 1),
    "b1": ("db1[0]", 0, 0, None),
    "b2": ("db1[1]", 0, 1, None),
    "w5": ("dW2[0, 0]", 1, 0, 0),
    "w6": ("dW2[0, 1]", 1, 0, 1),
    "b3": ("db2[0]", 1, 0, None),
}

#: For each chain-rule factor of :class:`matnn.scalar.Backprop`: the
#: document's symbol, its formula, and where it lives in matrix form.
FACTORS = {
    "d_L_d_ypred": ("dL/dy_pred", "-2 (y_true - y_pred)",
                    "dL/dA2 = 2 (A2 - Y) / n, with n = 1 sample"),
    "d_ypred_d_b3": ("dy_pred/db3", "f'(sum_o1)",
                     "A2*(1-A2), the factor that turns dL/dA2 into delta2"),
    "d_ypred_d_w5": ("dy_pred/dw5", "h1 f'(sum_o1)",
                     "A2*(1-A2) inside delta2, times the input A1[0, 0] in dW2 = delta2.T @ A1"),
    "d_ypred_d_w6": ("dy_pred/dw6", "h2 f'(sum_o1)",
                     "A2*(1-A2) inside delta2, times the input A1[0, 1] in dW2 = delta2.T @ A1"),
    "d_ypred_d_h1": ("dy_pred/dh1", "w5 f'(sum_o1)",
                     "A2*(1-A2) inside delta2, times W2[0, 0] in delta2 @ W2"),
    "d_ypred_d_h2": ("dy_pred/dh2", "w6 f'(sum_o1)",
                     "A2*(1-A2) inside delta2, times W2[0, 1] in delta2 @ W2"),
    "d_h1_d_w1": ("dh1/dw1", "x1 f'(sum_h1)",
                  "A1[0, 0]*(1-A1[0, 0]) inside delta1, times X[0, 0] in dW1 = delta1.T @ X"),
    "d_h1_d_w2": ("dh1/dw2", "x2 f'(sum_h1)",
                  "A1[0, 0]*(1-A1[0, 0]) inside delta1, times X[0, 1] in dW1 = delta1.T @ X"),
    "d_h1_d_b1": ("dh1/db1", "f'(sum_h1)",
                  "A1[0, 0]*(1-A1[0, 0]) inside delta1"),
    "d_h2_d_w3": ("dh2/dw3", "x1 f'(sum_h2)",
                  "A1[0, 1]*(1-A1[0, 1]) inside delta1, times X[0, 0] in dW1 = delta1.T @ X"),
    "d_h2_d_w4": ("dh2/dw4", "x2 f'(sum_h2)",
                  "A1[0, 1]*(1-A1[0, 1]) inside delta1, times X[0, 1] in dW1 = delta1.T @ X"),
    "d_h2_d_b2": ("dh2/db2", "f'(sum_h2)",
                  "A1[0, 1]*(1-A1[0, 1]) inside delta1"),
}


@dataclass(frozen=True)
class Explanation:
    """One parameter's gradient for one sample, worked both ways.

    Attributes
    ----------
    param : str
        One of ``w1..w6, b1..b3``.
    sample : str
        Who the sample is, e.g. ``"Alice"``.
    setup : str
        How the weights were chosen.
    backprop : matnn.scalar.Backprop
        Every scalar value of the document's forward and backward pass.
    factors : tuple of (str, float)
        The chain-rule factors of ``dL/d<param>``, by their Backprop name.
    chain : float
        Their product, the scalar ``dL/d<param>``.
    rounded_factors : tuple of float
        The factors rounded as the document does by hand (see
        :func:`round_like_document`).
    rounded_chain : float
        Their product, rounded to 3 significant figures.
    network : matnn.Network
        The same weights in matrix form.
    activations : list of ndarray
        ``[X, A1, A2]`` of shapes (1, 2), (1, 2), (1, 1) from ``Network.forward``.
    dL_dA2 : ndarray of shape (1, 1)
        The loss gradient at the output.
    deltas : list of ndarray
        ``[delta1, delta2]`` of shapes (1, 2) and (1, 1) from ``Network.backward``.
    gradients : list of (ndarray, ndarray)
        ``[(dW1, db1), (dW2, db2)]`` from ``Network.backward``.
    matrix : float
        The gradient entry that is ``dL/d<param>`` (see :data:`GRADIENT_ENTRIES`).
    is_documents_example : bool
        True for the document's own worked example: Alice, every weight 1,
        every bias 0, ``dL/dw1``.
    """

    param: str
    sample: str
    setup: str
    backprop: scalar.Backprop
    factors: tuple[tuple[str, float], ...]
    chain: float
    rounded_factors: tuple[float, ...]
    rounded_chain: float
    network: Network
    activations: list[FloatArray]
    dL_dA2: NDArray[Any]
    deltas: list[FloatArray]
    gradients: list[tuple[FloatArray, FloatArray]]
    matrix: float
    is_documents_example: bool


def _three_figures(value: float | np.floating[Any]) -> float:
    return float(f"{value:.3g}")


def round_like_document(bp: scalar.Backprop, factor_names: Iterable[str]) -> tuple[float, ...]:
    """The chain factors as the document computes them by hand.

    It rounds every value it writes down to 3 significant figures and keeps
    working with the rounded number; in particular it computes
    ``dL/dy_pred = -2 (y_true - y_pred)`` from ``y_pred`` already rounded.

    Returns
    -------
    tuple of float
    """
    rounded = []
    for name in factor_names:
        if name == "d_L_d_ypred":
            value = -2 * (bp.y_true - _three_figures(bp.y_pred))
        else:
            value = getattr(bp, name)
        rounded.append(_three_figures(value))
    return tuple(rounded)


def explain(
    param: str = "w1",
    sample: str = "Alice",
    *,
    x: ArrayLike | None = None,
    y_true: float | None = None,
    seed: int | None = None,
) -> Explanation:
    """Work out ``dL/d<param>`` for one sample, as scalars and as matrices.

    Parameters
    ----------
    param : str
        One of ``w1..w6, b1..b3``.
    sample : str
        A name from the document's table (Alice, Bob, Charlie, Diana), or
        Emily or Frank with the gender the document expects of them as the
        target (F = 1, M = 0); any case. Ignored when ``x`` is given.
    x : array-like of shape (2,), optional
        A raw network input ``(x1, x2)`` (weight - 135, height - 66).
    y_true : float, optional
        The target for ``x``; required with ``x``.
    seed : int, optional
        Draw the weights as the document does after ``np.random.seed(seed)``.
        By default every weight is 1 and every bias 0, the document's worked
        example.

    Returns
    -------
    Explanation
    """
    if param not in GRADIENT_ENTRIES:
        raise ValueError(f"unknown parameter {param!r}; choose one of {list(scalar.PARAM_NAMES)}")
    if x is None:
        x, y_true = _person(sample)
        sample = str(sample).capitalize()
    else:
        x, y_true = _check_sample(x, y_true)
        sample = "the sample"
    if seed is None:
        doc_net = scalar.OurNeuralNetwork(
            **{name: 1.0 if name.startswith("w") else 0.0 for name in scalar.PARAM_NAMES}
        )
        setup = "the document's setup, every weight 1 and every bias 0"
    else:
        # Draw from the global RNG as the document does, without leaving it reseeded.
        state = np.random.get_state()
        try:
            np.random.seed(seed)
            doc_net = scalar.OurNeuralNetwork()
        finally:
            np.random.set_state(state)
        setup = f"drawn as the document does, after np.random.seed({seed})"

    bp = doc_net.backprop(x, y_true)
    names = scalar.CHAINS[param]
    factors = tuple((name, float(getattr(bp, name))) for name in names)
    rounded = round_like_document(bp, names)

    net = scalar.to_network(doc_net)
    activations = net.forward(np.reshape(x, (1, 2)))
    Y = np.array([[y_true]], dtype=np.float64)
    deltas, gradients = net.backward(activations, Y)
    dL_dA2 = np.asarray(LOSSES["mse"].gradient(Y, activations[2]))
    _, layer, neuron, column = GRADIENT_ENTRIES[param]
    dW, db = gradients[layer]
    matrix = db[neuron] if column is None else dW[neuron, column]
    return Explanation(
        param=param, sample=sample, setup=setup, backprop=bp, factors=factors,
        chain=float(bp.partial(param)), rounded_factors=rounded,
        rounded_chain=_three_figures(np.prod(rounded)), network=net,
        activations=activations, dL_dA2=dL_dA2, deltas=deltas, gradients=gradients,
        matrix=float(matrix),
        is_documents_example=(param, sample, seed) == ("w1", "Alice", None),
    )


def _person(name: str) -> tuple[NDArray[np.int_], int]:
    """``(x, y_true)`` of a person of the training set, or of Emily or Frank."""
    for query, x, expected in data.QUERIES:
        if query.lower() == str(name).lower():
            return x, data.LABELS[expected]
    if str(name).lower() not in (known.lower() for known in data.NAMES):
        raise ValueError(f"unknown person {name!r}; choose one of {list(SAMPLES)}")
    return data.sample(name)


def _check_sample(x: ArrayLike, y_true: float | None) -> tuple[NDArray[np.float64], float]:
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"x must be two numbers (x1, x2), got {x!r}") from None
    if x.shape != (2,) or not np.isfinite(x).all():
        raise ValueError(f"x must be two finite numbers (x1, x2), got {x.tolist()}")
    if y_true is None:
        raise ValueError("a raw x needs its target y_true")
    y_true = float(y_true)
    if not np.isfinite(y_true):
        raise ValueError(f"y_true must be a finite number, got {y_true}")
    return x, y_true


def _g(value: float) -> str:
    return f"{value:.3g}"


def _row(values: ArrayLike) -> str:
    return "[[" + ", ".join(_g(v) for v in np.ravel(values)) + "]]"


def report(e: Explanation) -> str:
    """The explanation as the text ``matnn explain`` prints.

    Parameters
    ----------
    e : Explanation

    Returns
    -------
    str
    """
    bp, p = e.backprop, e.param
    symbols = [FACTORS[name][0] for name, _ in e.factors]
    x1, x2 = _g(bp.x1), _g(bp.x2)
    lines = [
        f"dL/d{p} for {e.sample}: x1 = {x1}, x2 = {x2}, y_true = {_g(bp.y_true)}",
        f"Weights: {e.setup}",
        "",
        "Forward pass (f is the sigmoid):",
        f"  h1 = f(w1 x1 + w2 x2 + b1) = f({_g(bp.sum_h1)}) = {_g(bp.h1)}",
        f"  h2 = f(w3 x1 + w4 x2 + b2) = f({_g(bp.sum_h2)}) = {_g(bp.h2)}",
        f"  o1 = f(w5 h1 + w6 h2 + b3) = f({_g(bp.sum_o1)}) = {_g(bp.o1)} = y_pred",
        *_saturation_lines(bp),
        "",
        f"Chain rule: dL/d{p} = " + " * ".join(symbols),
    ]
    width = max(len(s) for s in symbols + [f"dL/d{p}"])
    for name, value in e.factors:
        symbol, formula, _ = FACTORS[name]
        lines.append(f"  {symbol:<{width}} = {formula:<20} = {_g(value)}")
    lines.append(f"  {'dL/d' + p:<{width}} = {'the product':<20} = {_g(e.chain)}")
    note = textwrap.fill(" ".join(_rounding_note(e)), width=88)
    lines += ["", note, "", *_matrix_lines(e)]
    return "\n".join(lines)


def _saturation_lines(bp: scalar.Backprop) -> list[str]:
    """A note for each saturated sigmoid: its slope, and what that does to the gradients."""
    lines = []
    for name, z, slope, through in (
            ("h1", bp.sum_h1, bp.d_h1_d_b1, "the gradients of w1, w2 and b1"),
            ("h2", bp.sum_h2, bp.d_h2_d_b2, "the gradients of w3, w4 and b2"),
            ("o1", bp.sum_o1, bp.d_ypred_d_b3, "every gradient")):
        if slope < SATURATED:
            # In float64 f(z) rounds to exactly 1 (or 0) for large |z|, and the slope to 0.
            lines.append(f"  {name} is saturated: f'({_g(z)}) = {_g(slope)} scales {through} "
                         f"to {'almost ' if slope else ''}0")
    return lines


def _rounding_note(e: Explanation) -> list[str]:
    rounded = " * ".join(_g(v) for v in e.rounded_factors)
    y_pred = _g(e.backprop.y_pred)
    note = [
        "By hand the document rounds as it goes: it writes y_pred as "
        f"{y_pred}, computes dL/dy_pred = -2 ({_g(e.backprop.y_true)} - {y_pred}) "
        f"= {_g(e.rounded_factors[0])} from that, and multiplies factors already "
        f"rounded to 3 significant figures: {rounded} = {_g(e.rounded_chain)}.",
    ]
    exact = [_g(v) for _, v in e.factors] + [_g(e.chain)]
    by_hand = [_g(v) for v in e.rounded_factors] + [_g(e.rounded_chain)]
    changed = [f"{h} instead of {x}" for h, x in zip(by_hand, exact) if h != x]
    if not changed:
        note.append("Here that changes none of the 3 figures shown.")
    elif e.is_documents_example:
        note.append(f"That is why the document shows {' and '.join(changed)}.")
    else:
        note.append(f"Rounding that way gives {' and '.join(changed)}.")
    return note


def _matrix_lines(e: Explanation) -> list[str]:
    X, A1, A2 = e.activations
    delta1, delta2 = e.deltas
    W2 = e.network.layers[1].W
    sigmoid_derivative = ACTIVATIONS["sigmoid"].derivative
    fprime2 = sigmoid_derivative(A2)
    fprime1 = sigmoid_derivative(A1)
    label, layer, neuron, column = GRADIENT_ENTRIES[e.param]
    delta_name = f"delta{layer + 1}[0, {neuron}]"
    delta_value = e.deltas[layer][0, neuron]
    if column is None:
        entry = f"  {label} = {delta_name} = {_g(e.matrix)}"
    else:
        source = "X" if layer == 0 else "A1"
        inputs = X if layer == 0 else A1
        entry = (f"  {label} = {delta_name} * {source}[0, {column}] = "
                 f"{_g(delta_value)} * {_g(inputs[0, column])} = {_g(e.matrix)}")
    lines = [
        "Matrix form (Network.forward and Network.backward on one row):",
        f"  X                      = {_row(X)}    (x1, x2)",
        f"  A1 = f(X @ W1.T + b1)  = {_row(A1)}    (h1, h2)",
        f"  A2 = f(A1 @ W2.T + b2) = {_row(A2)}    (o1 = y_pred)",
        "  output delta  delta2 = dL/dA2 * A2*(1-A2)",
        f"                       = {_row(e.dL_dA2)} * {_row(fprime2)} = {_row(delta2)}",
        "  hidden delta  delta1 = (delta2 @ W2) * A1*(1-A1)",
        f"                       = {_row(delta2 @ W2)} * {_row(fprime1)} = {_row(delta1)}",
        f"  dL/d{e.param} is {label}, the entry for {e.param}:",
        entry,
        "",
        "Where each factor lives:",
    ]
    width = max(len(FACTORS[name][0]) for name, _ in e.factors) + 1
    for name, _ in e.factors:
        symbol, _, home = FACTORS[name]
        lines.append(f"  {symbol + ':':<{width}} {home}")
    lines += [
        "",
        f"  scalar chain  {e.chain!r}",
        f"  matrix entry  {e.matrix!r}",
        f"  difference    {e.matrix - e.chain:.3g}",
    ]
    return lines
